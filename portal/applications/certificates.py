"""The certificate an approval issues, as a kind of document.

Its number is taken in the clerk's decision (gap-free, per fiscal year); the documents
pipeline renders it after the decision commits, as PDF/A-3b signed by the portal with a QR
code leading to ``/verify``. A rolled-back decision leaves no certificate and takes its number
back. The template ``templates/documents/certificate.jinja2`` prints every value the citizen
typed as text, never markup.
"""

from __future__ import annotations

import datetime as dt

from portal.applications.catalogue import display_values
from portal.applications.models import Application, Certificate
from portal.applications.workflow import application_services
from portal.documents.kinds import DocumentKind
from portal.i18n import _, document_localizer
from portal.localized import localized


class CertificateKind(DocumentKind):
    model = Certificate
    series = "C"
    title = _("Certificate")
    template = "documents/certificate.jinja2"
    data_name = "certificate.json"

    def __init__(self, registry):
        self.registry = registry

    def data(self, certificate: Certificate, issuer) -> dict:
        application = certificate.application
        plugin = application_services(self.registry).get(application.service.code)
        localizer = document_localizer(certificate.locale)
        values = display_values(plugin, application.form, localizer) if plugin else []
        return {
            "authority": {"name": self.authority(certificate, issuer), "address": ""},
            "signed_by": issuer.authority(certificate.locale)["name"],
            "applicant": application.applicant.display_name,
            "service": localized(application.service, "name", certificate.locale),
            "values": [{"label": label, "value": value} for label, value in values],
            "approved_by": application.decided_by.display_name if application.decided_by else None,
            "application_reference": application.public_id,
        }

    def authority(self, certificate: Certificate, issuer, locale: str | None = None) -> str:
        """The department that decided: it certifies, the portal signs on its behalf."""
        return localized(
            certificate.application.service.department, "name", locale or certificate.locale
        )


def issue_certificate(issuer, dbsession, application: Application, now: dt.datetime) -> Certificate:
    """The certificate of an approved ``application``, issued ``now``, numbered in the
    decision's transaction and rendered after it commits; idempotent."""
    if application.certificate is not None:
        return application.certificate
    certificate = issuer.issue(
        dbsession,
        Certificate(
            application_id=application.id,
            owner_user_id=application.applicant_id,
            locale=application.applicant.locale or "en",
        ),
        now,
    )
    application.certificate = certificate
    return certificate
