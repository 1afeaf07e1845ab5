"""The citizen's pages: applying (with drafts), an application's status and history, paying
its fee, and downloading the certificate."""

from __future__ import annotations

import logging
import uuid

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config
from sqlalchemy import select

from portal.applications import state
from portal.applications.catalogue import display_values
from portal.applications.forms import length_errors, raw_values
from portal.applications.models import Application
from portal.applications.workflow import (
    CANNOT,
    application_services,
    refund_awaiting_approval,
    save_draft,
    service_record,
    start_draft,
    submit,
)
from portal.billing import PAYMENT_IN_PROGRESS, create_payment, payment_timeout
from portal.billing.models import Payment
from portal.catalogue.models import Service
from portal.catalogue.texts import service_rows, service_text
from portal.documents.downloads import stored, stored_pdf
from portal.i18n import _
from portal.identity.assurance import PAY
from portal.localized import localized
from portal.money import Money
from portal.refusals import CONFLICT, INVALID, UNAVAILABLE, FieldError, Refusal
from portal.web import form_refused

log = logging.getLogger(__name__)

SAVE = "save"
SUBMIT = "submit"
#: how many of a citizen's most recent applications the list shows
APPLICATIONS_SHOWN = 200


def plugin_of(request, code: str):
    plugin = application_services(request.registry).get(code)
    if plugin is None:
        raise HTTPNotFound()
    return plugin


def service_summary(request, plugin, row: Service | None) -> dict:
    translate = request.localizer.translate
    text = service_text(plugin.info, row, request.localizer.locale_name)
    return {
        "code": plugin.info.code,
        "name": text.name,
        "description": text.description,
        "requirements": [translate(item) for item in plugin.info.requirements],
    }


def form_fields(request, plugin) -> list[dict]:
    translate = request.localizer.translate
    return [
        {
            "name": field.name,
            "label": translate(field.label),
            "kind": field.kind,
            "required": field.required,
            "hint": translate(field.hint) if field.hint else "",
            "max_length": field.max_length,
            "choices": [(code, translate(label)) for code, label in field.choices],
        }
        for field in plugin.info.form
    ]


def render_form(request, plugin, values, errors=None, application=None):
    translate = request.localizer.translate
    return render_to_response(
        "applications/form.jinja2",
        {
            "service": service_summary(
                request,
                plugin,
                request.dbsession.scalar(select(Service).where(Service.code == plugin.info.code)),
            ),
            "fields": form_fields(request, plugin),
            "values": values,
            "errors": {name: translate(message) for name, message in (errors or {}).items()},
            "application": application,
            "action": (
                request.route_path("application_edit", application=application.public_id)
                if application
                else request.route_path("application_new", service=plugin.info.code)
            ),
        },
        request=request,
        response=request.response,
    )


def _form_refused(request, plugin, values, errors, application: Application | None):
    """The form again with each error by its field and what was typed, rather than an error
    page that would lose it."""
    form_refused(
        request,
        Refusal(
            INVALID,
            _("The application was not saved. Correct what is marked."),
            errors=[FieldError(name, message) for name, message in errors.items()],
        ),
    )
    return render_form(request, plugin, values, errors, application)


def handle_form(request, plugin, application: Application | None):
    """Save a draft (only lengths checked) or submit (every check, then the bill is issued)."""
    values = raw_values(plugin.info.form, request.POST)
    action = request.POST.get("action", SUBMIT)
    if action == SAVE:
        errors = length_errors(plugin.info.form, values)
        if errors:
            return _form_refused(request, plugin, values, errors, application)
        if application is None:
            record = service_record(request.dbsession, plugin.info)
            application = start_draft(
                request.dbsession, record, request.user, values, request.clock.now()
            )
        else:
            save_draft(application, values, request.clock.now())
        request.session.flash(
            request.localizer.translate(_("Draft saved. You can continue it later from here."))
        )
        return HTTPSeeOther(request.route_url("applications"))
    cleaned, errors = plugin.validate(values, request.clock.today())
    if errors:
        return _form_refused(request, plugin, values, errors, application)
    if application is None:
        record = service_record(request.dbsession, plugin.info)
        application = start_draft(
            request.dbsession, record, request.user, values, request.clock.now()
        )
    submit(request.dbsession, plugin, application, cleaned, request.clock)
    log.info("application %s submitted", application.public_id)
    return HTTPSeeOther(request.route_url("application", application=application.public_id))


@view_config(route_name="applications", renderer="applications/list.jinja2", permission="account")
def applications(request):
    mine = list(
        request.dbsession.scalars(
            select(Application)
            .where(Application.applicant_id == request.user.id)
            .order_by(Application.updated_at.desc(), Application.id.desc())
            .limit(APPLICATIONS_SHOWN)
        )
    )
    translate = request.localizer.translate
    services, rows = application_services(request.registry), service_rows(request.dbsession)
    return {
        "drafts": [a for a in mine if a.status in state.EDITABLE],
        "open": [a for a in mine if a.status not in state.EDITABLE | state.DECIDED],
        "decided": [a for a in mine if a.status in state.DECIDED],
        "services": [
            service_summary(request, plugin, rows.get(code)) for code, plugin in services.items()
        ],
        "status_label": lambda status: translate(state.LABELS[status]),
    }


@view_config(route_name="application_new", request_method="GET", permission="account")
def new_form(request):
    return render_form(request, plugin_of(request, request.matchdict["service"]), {})


@view_config(route_name="application_new", request_method="POST", permission="account")
def new_post(request):
    return handle_form(request, plugin_of(request, request.matchdict["service"]), None)


def editable(request, application: Application):
    plugin = plugin_of(request, application.service.code)
    if application.status not in state.EDITABLE:
        raise HTTPSeeOther(request.route_url("application", application=application.public_id))
    return plugin


@view_config(route_name="application_edit", request_method="GET", permission="edit")
def edit_form(context, request):
    application = context.application
    plugin = editable(request, application)
    return render_form(request, plugin, application.form, application=application)


@view_config(route_name="application_edit", request_method="POST", permission="edit")
def edit_post(context, request):
    application = context.application
    return handle_form(request, editable(request, application), application)


def application_values(request, application: Application) -> dict:
    """What both the citizen's and the clerk's page show about an application."""
    translate = request.localizer.translate
    plugin = application_services(request.registry).get(application.service.code)
    return {
        "application": application,
        "service_name": localized(application.service, "name", request.localizer.locale_name),
        "values": display_values(plugin, application.form, request.localizer) if plugin else [],
        "status_label": translate(state.LABELS[application.status]),
        "history": [
            (event, translate(state.EVENTS[event.to_status])) for event in application.events
        ],
        "bill": application.bill,
        "fee_lines": [
            (
                localized(line, "description", request.localizer.locale_name),
                Money(line.amount_minor, application.bill.currency),
            )
            for line in application.bill.lines
        ]
        if application.bill
        else [],
        # a refund waiting for a second clerk's approval is not on its way yet
        "refund": None if refund_awaiting_approval(application) else application.refund,
        "certificate": application.certificate,
    }


@view_config(
    route_name="application",
    request_method="GET",
    renderer="applications/application.jinja2",
    permission="view",
)
def application_page(context, request):
    values = application_values(request, context.application)
    values["idempotency_key"] = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    values["can_pay"] = context.application.status == state.AWAITING_PAYMENT
    return values


@view_config(route_name="application_pay", request_method="POST", permission="pay", assurance=PAY)
def pay(context, request):
    """Create the payment of the application's bill alone, then go to the provider."""
    application = context.application
    if application.status != state.AWAITING_PAYMENT:
        raise Refusal(CONFLICT, _("This application has nothing to pay."), title=CANNOT)
    try:
        payment = create_payment(
            request.dbsession,
            user=request.user,
            bill_ids=[application.bill_id],
            idempotency_key=request.POST.get("idempotency_key", ""),
            provider=request.payment_provider.name,
            timeout=payment_timeout(request.registry.settings),
            now=request.clock.now(),
        )
    except Refusal as refused:
        busy = refused.about
        if (
            isinstance(busy, Payment)
            and busy.payer_user_id == request.user.id
            and busy.status in PAYMENT_IN_PROGRESS
        ):
            return HTTPSeeOther(request.route_url("payment_checkout", public_id=busy.public_id))
        log.warning("application payment refused: %s", refused.message.interpolate())
        raise Refusal(refused.kind, refused.message, title=CANNOT) from None
    return HTTPSeeOther(request.route_url("payment_checkout", public_id=payment.public_id))


@view_config(route_name="application_certificate", request_method="GET", permission="download")
def certificate(context, request):
    """The stored, signed bytes; "being prepared" in the moment between the clerk's decision
    and the rendering that follows its commit."""
    found = context.application.certificate
    if found is None:
        raise HTTPNotFound()
    if not stored(found):
        raise Refusal(
            UNAVAILABLE,
            _("The certificate is being prepared. Try again in a minute."),
            headers={"Retry-After": "30"},
        )
    return stored_pdf(request, found, f"certificate-{found.number}.pdf", "private, no-cache")
