"""Clerk and administrator pages of the services: fee schedules, CSV bill imports and a
department's texts in each language."""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPForbidden, HTTPSeeOther
from pyramid.view import view_config

from portal.audit import record_request
from portal.catalogue.interfaces import public_service, public_services
from portal.dates import as_text, date_of, typed_parts
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.localized import LANGUAGES
from portal.money import CURRENCY_CODES
from portal.refusals import INVALID, MALFORMED, FieldError, Refusal
from portal.services import fees, texts
from portal.services.imports import columns_for, import_bills
from portal.services.resources import ServiceImportContext
from portal.web import form_refused

log = logging.getLogger(__name__)

#: a fee schedule entry id fits a 64-bit integer column
MAX_ENTRY_DIGITS = 18


def _fees_page(request, errors=None, values=None):
    today = request.clock.today()
    services = sorted(
        (
            plugin
            for plugin in public_services(request.registry).values()
            if plugin.info.listed or plugin.info.fee_schedule
        ),
        key=lambda plugin: request.localizer.translate(plugin.info.name).casefold(),
    )
    schedules = [
        {
            "service": plugin.info,
            "fees": fees.schedule_in_force(request.dbsession, plugin.info.code, today),
            "scheduled": fees.scheduled_changes(request.dbsession, plugin.info.code, today),
        }
        for plugin in services
    ]
    return {
        "schedules": schedules,
        "services": [plugin.info for plugin in services],
        "currencies": sorted(CURRENCY_CODES),
        "errors": errors or {},
        "values": values or {"currency": "EUR", "effective_from": today.isoformat()},
        "today": today,
    }


@view_config(
    route_name="admin_fees",
    request_method="GET",
    renderer="services/fees.jinja2",
    permission="administer",
    assurance=CLERK,
)
def fee_schedules(request):
    return _fees_page(request)


def _fee_form(post) -> tuple[dict, Refusal | None]:
    """The fee form with its start day, typed as a memorable date, as the ``YYYY-MM-DD``
    text the fee rules read, and why that day is not a date (``None`` if it is): the
    memorable date's own message says how to write one, where ISO text would not."""
    form = dict(post)
    parts = typed_parts(post, "effective_from")
    if parts is None:
        return form, None
    form["effective_from"] = as_text(parts)
    try:
        date_of(**parts)
    except Refusal as refused:
        return form, Refusal(
            INVALID, refused.message, errors=[FieldError("effective_from", refused.message)]
        )
    return form, None


@view_config(
    route_name="admin_fees",
    request_method="POST",
    renderer="services/fees.jinja2",
    permission="administer",
    assurance=CLERK,
)
def change_fee(request):
    """A new price from a day on; a refused change is shown again with what to correct."""
    form, date_refused = _fee_form(request.POST)
    try:
        change = fees.read_fee_change(
            form, set(public_services(request.registry)), request.clock.today()
        )
    except Refusal as refused:
        errors = form_refused(request, refused)
    else:
        errors = {}
    if date_refused is not None:
        errors.update(form_refused(request, date_refused))
    if errors:
        return _fees_page(request, errors, form)
    fees.set_fee(request.dbsession, change, request.user)
    log.info("fee %s/%s set from %s", change.service_code, change.item_code, change.effective_from)
    request.session.flash(
        request.localizer.translate(
            _(
                "The new price of ${item} applies from ${day} to bills issued from then on.",
                mapping={"item": change.label, "day": change.effective_from.isoformat()},
            )
        )
    )
    return HTTPSeeOther(request.route_url("admin_fees"))


@view_config(
    route_name="admin_fee_withdraw",
    request_method="POST",
    renderer="services/fees.jinja2",
    permission="administer",
    assurance=CLERK,
)
def withdraw_fee(request):
    entry = request.POST.get("entry", "")
    try:
        if not (entry.isascii() and entry.isdigit() and len(entry) <= MAX_ENTRY_DIGITS):
            raise Refusal(MALFORMED, _("Choose a price to withdraw."))
        fees.withdraw_fee(request.dbsession, int(entry), request.clock.today())
    except Refusal as refused:
        return _fees_page(request, form_refused(request, refused))
    request.session.flash(request.localizer.translate(_("The scheduled price was withdrawn.")))
    return HTTPSeeOther(request.route_url("admin_fees"))


def _imports_page(context, request, report=None, service_code="", errors=None):
    services = [
        service
        for service in context.services
        if request.has_permission("import", ServiceImportContext(service))
    ]
    columns = {
        service.code: columns_for(public_service(request.registry, service.code).info.kind)
        for service in services
    }
    return {
        "services": services,
        "columns": columns,
        "report": report,
        "service_code": service_code,
        "errors": errors or {},
    }


@view_config(
    route_name="bill_imports",
    request_method="GET",
    renderer="services/imports.jinja2",
    permission="import",
    assurance=CLERK,
)
def imports_form(context, request):
    return _imports_page(context, request)


#: the import form's own fields; any other problem is of the file's content
IMPORT_FIELDS = ("service", "file")


def _refuse(context, request, refused: Refusal, service_code: str):
    """The form again: the error summary links to the field in error (the file's, when its
    content is wrong), and the validation report names every bad row by line and column."""
    form_refused(request, refused)
    fields = [e for e in refused.errors if not e.line and e.field in IMPORT_FIELDS]
    report = [e for e in refused.errors if e not in fields]
    errors = {e.field: e.message for e in fields} or {"file": refused.message}
    return _imports_page(context, request, report, service_code, errors)


@view_config(
    route_name="bill_imports",
    request_method="POST",
    renderer="services/imports.jinja2",
    permission="import",
    accepts_files=True,
    assurance=CLERK,
)
def import_file(context, request):
    """Import a CSV for one service: all of it, or nothing and a report of every bad row."""
    code = str(request.POST.get("service", ""))
    service = next((s for s in context.services if s.code == code), None)
    upload = request.POST.get("file")
    try:
        if service is None:
            raise Refusal(
                INVALID,
                _("Nothing was imported. Correct the form and send it again."),
                errors=[FieldError("service", _("Choose a service."), 0)],
            )
        if not request.has_permission("import", ServiceImportContext(service)):
            raise HTTPForbidden()
        if not hasattr(upload, "file"):
            raise Refusal(
                INVALID,
                _("Nothing was imported. Correct the form and send it again."),
                errors=[FieldError("file", _("Choose a CSV file to upload."), 0)],
            )
        kind = public_service(request.registry, code).info.kind
        result = import_bills(
            request.dbsession,
            request.pii,
            service,
            kind,
            upload.file.read(),
            request.clock.now(),
            actor_id=request.user.id,
        )
    except Refusal as refused:
        log.warning("import for %s refused: %d problems", code, len(refused.errors))
        return _refuse(context, request, refused, code if service is not None else "")
    log.info("import for %s: %d rows, %d bills", code, result.rows, result.bills)
    request.session.flash(
        request.localizer.translate(
            _(
                "Imported ${rows} rows: ${bills} bills issued.",
                mapping={"rows": result.rows, "bills": result.bills},
            )
        )
    )
    return HTTPSeeOther(request.route_url("bill_imports"))


def _texts_page(context, request, errors=None, values=None):
    locale = request.localizer.locale_name
    department = context.department
    groups = texts.department_texts(
        request.dbsession, request.registry, department, request.clock.today(), locale
    )
    return {
        "department": department,
        "groups": groups,
        "text_languages": LANGUAGES,
        "errors": errors or {},
        "values": values,
    }


@view_config(
    route_name="backoffice_department_texts",
    request_method="GET",
    renderer="services/texts.jinja2",
    permission="work",
    assurance=CLERK,
)
def department_texts(context, request):
    """The department's names, descriptions and fee labels, one field per language."""
    return _texts_page(context, request)


@view_config(
    route_name="backoffice_department_texts",
    request_method="POST",
    renderer="services/texts.jinja2",
    permission="work",
    assurance=CLERK,
)
def save_department_texts(context, request):
    page = _texts_page(context, request)
    try:
        found = texts.read_texts(page["groups"], request.POST)
    except Refusal as refused:
        return _texts_page(context, request, form_refused(request, refused), request.POST)
    changed = texts.save_texts(found)
    if changed:
        record_request(
            request,
            "catalogue.texts_changed",
            object=("department", context.department.code),
            details={"texts": changed},
        )
    log.info("texts of department %s: %d changed", context.department.code, len(changed))
    request.session.flash(request.localizer.translate(_("The texts were saved.")))
    return HTTPSeeOther(
        request.route_url("backoffice_department_texts", code=context.department.code)
    )
