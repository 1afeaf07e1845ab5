"""Applications: registrations, licences and certified copies that a clerk approves.

The citizen fills a service's form (saving drafts on the way), pays the fee through the
billing core, and follows the application through the owning department's queue to a
certificate, or a rejection with the fee refunded. A clerk may also cancel a paid application
(the fee refunded). Both refund, so above the department's threshold both wait for a second
clerk's approval.
"""

from portal.applications.catalogue import SERVICES
from portal.applications.certificates import CertificateKind
from portal.applications.workflow import (
    CancellationApproval,
    RejectionApproval,
    close_rejected_bill,
    queue_paid_applications,
)
from portal.billing.events import PaymentSucceeded, RefundSucceeded
from portal.i18n import _


def includeme(config) -> None:
    for service in SERVICES:
        config.add_public_service(service)
    application = {"factory": "portal.applications.resources.application_factory"}
    department = {"factory": "portal.identity.departments.department_factory"}
    config.add_route("applications", "/applications")
    config.add_route("application_new", "/applications/new/{service}")
    config.add_route("application", "/applications/{application}", **application)
    config.add_route("application_edit", "/applications/{application}/edit", **application)
    config.add_route("application_pay", "/applications/{application}/pay", **application)
    config.add_route(
        "application_certificate", "/applications/{application}/certificate", **application
    )
    config.add_route(
        "backoffice_applications", "/backoffice/departments/{code}/applications", **department
    )
    config.add_route(
        "backoffice_application", "/backoffice/applications/{application}", **application
    )
    config.add_route(
        "backoffice_application_national_id",
        "/backoffice/applications/{application}/national-id",
        **application,
    )
    config.add_route(
        "backoffice_application_approve",
        "/backoffice/applications/{application}/approve",
        **application,
    )
    config.add_route(
        "backoffice_application_reject",
        "/backoffice/applications/{application}/reject",
        **application,
    )
    config.add_route(
        "backoffice_application_cancel",
        "/backoffice/applications/{application}/cancel",
        **application,
    )
    config.add_approval_kind(CancellationApproval())
    config.add_approval_kind(RejectionApproval())
    config.add_subscriber(queue_paid_applications, PaymentSucceeded)
    config.add_subscriber(close_rejected_bill, RefundSucceeded)
    config.add_document_kind(CertificateKind(config.registry))
    config.add_navigation_item("applications", _("Applications"), "account")
