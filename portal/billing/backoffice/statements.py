"""The clerks' bank statements page of a department: upload a camt.053 or camt.054 file of
the authority's account, see the statements imported and the credits they brought."""

from __future__ import annotations

import logging

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.view import view_config
from sqlalchemy import select

from portal.billing.camt import MAX_BYTES
from portal.billing.matching import MATCHED, UNMATCHED
from portal.billing.models import BankLine, BankStatement
from portal.billing.statements import import_and_match
from portal.i18n import _
from portal.identity.assurance import CLERK
from portal.identity.models import Department
from portal.refusals import (
    INVALID,
    MALFORMED,
    TOO_LARGE,
    UNAVAILABLE,
    UNSUPPORTED,
    FieldError,
    Refusal,
)
from portal.security import service_principal
from portal.web import form_refused

log = logging.getLogger(__name__)

#: the most recent statements and credits the page lists
SHOWN = 50
#: refusals of the uploaded file itself (none, too large, unreadable, of another account,
#: contradicting itself), which the page shows by its file field; a statement already
#: imported, or transfers not set up, are not the file field's to correct (the error page)
FILE_REFUSALS = frozenset({MALFORMED, INVALID, TOO_LARGE})


def import_as(request, data: bytes, department, actor_id: int | None):
    """Import ``data`` for ``department`` (the page and the API share it): each new credit
    is matched to bills and posted at once."""
    account = request.registry.get("transfer_account")
    if account is None:
        raise Refusal(UNAVAILABLE, _("Payment by bank transfer is not configured."))
    return import_and_match(
        request.dbsession, data, department, account.iban, request.clock.now(), actor_id=actor_id
    )


@view_config(
    route_name="backoffice_bank_statements",
    renderer="billing/backoffice/bank_statements.jinja2",
    permission="work",
    assurance=CLERK,
)
def statements_page(context, request):
    return _page_values(request, context.department)


def _page_values(request, department, errors=None) -> dict:
    """The page; ``errors`` by field when an upload was refused."""
    dbsession = request.dbsession
    statements = dbsession.scalars(
        select(BankStatement)
        .where(BankStatement.department_id == department.id)
        .order_by(BankStatement.imported_at.desc(), BankStatement.id.desc())
        .limit(SHOWN)
    )
    lines = dbsession.scalars(
        select(BankLine)
        .where(BankLine.department_id == department.id)
        .order_by(BankLine.booked_on.desc(), BankLine.id.desc())
        .limit(SHOWN)
    )
    return {
        "department": department,
        "statements": list(statements),
        "lines": list(lines),
        "errors": errors or {},
    }


@view_config(
    route_name="backoffice_bank_statements",
    request_method="POST",
    renderer="billing/backoffice/bank_statements.jinja2",
    permission="work",
    assurance=CLERK,
    accepts_files=True,
)
def upload(context, request):
    """Import the file; one refused for what it is (none, too large, unreadable, another
    account's) shows the page again with the reason by the file field, nothing imported."""
    try:
        # in a savepoint: a file refused after an earlier statement of it was recorded
        # leaves no trace on the page shown again (the refusal's status drops it anyway)
        with request.dbsession.begin_nested():
            imported = import_as(request, _uploaded(request), context.department, request.user.id)
    except Refusal as refused:
        if refused.kind not in FILE_REFUSALS:
            raise
        errors = form_refused(request, refused)
        file_error = errors.get("file", refused.message)
        return _page_values(request, context.department, {"file": file_error})
    new = sum(len(result.lines) for result in imported)
    seen = sum(result.already_seen for result in imported)
    request.session.flash(
        request.localizer.translate(
            _(
                "Statement imported: ${new} new credits, ${seen} already imported.",
                mapping={"new": new, "seen": seen},
            )
        )
    )
    completed = sum(result.refunds_completed for result in imported)
    if completed:
        request.session.flash(
            request.localizer.translate(
                _(
                    "${count} refunds by bank transfer are on the statement: they are completed.",
                    mapping={"count": completed},
                )
            )
        )
    reversed_debits = sum(result.reversed_debits for result in imported)
    if reversed_debits:
        request.session.flash(
            request.localizer.translate(
                _(
                    "${count} debits of the statement reverse earlier credits: check the bills "
                    "they paid.",
                    mapping={"count": reversed_debits},
                )
            )
        )
    return HTTPSeeOther(
        request.route_url("backoffice_bank_statements", code=context.department.code)
    )


def _uploaded(request) -> bytes:
    """The form's statement file, read up to one byte past the largest taken."""
    upload = request.POST.get("file")
    if not hasattr(upload, "file"):
        raise Refusal(
            INVALID,
            _("Choose a camt.053 or camt.054 file to upload."),
            errors=[FieldError("file", _("Choose a camt.053 or camt.054 file to upload."))],
        )
    data = upload.file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Refusal(TOO_LARGE, _("This file is too large for a bank statement."))
    return data


#: the services (codes, separated by spaces) whose API keys may import their department's
#: bank statements; none by default. A statement marks bills paid, so only the office's own
#: bank integration may send one, not any service backend of the department (an outside
#: company's, say) that holds a key to issue bills.
IMPORT_SERVICES_SETTING = "billing.bank.import_services"


class StatementImportContext:
    """A department's bank statements as an integration drops them: a service's API key may
    import them when the service belongs to the department and is one of
    :data:`IMPORT_SERVICES_SETTING` (the bank's file reaches the portal through the office's
    own systems)."""

    def __init__(self, department, service_id: int | None):
        self.department = department
        self.__acl__ = (
            [(Allow, service_principal(service_id), "import_statement")]
            if service_id is not None
            else []
        )


def statement_import_factory(request) -> StatementImportContext:
    department = request.dbsession.scalar(
        select(Department).where(Department.code == request.matchdict["code"])
    )
    if department is None:
        raise HTTPNotFound()
    api_key = request.api_key
    importers = str(request.registry.settings.get(IMPORT_SERVICES_SETTING, "")).split()
    allowed = (
        api_key is not None
        and api_key.service.department_id == department.id
        and api_key.service.code in importers
    )
    return StatementImportContext(department, api_key.service_id if allowed else None)


@view_config(
    route_name="api_bank_statements",
    request_method="POST",
    renderer="json",
    permission="import_statement",
    require_csrf=False,
)
def api_import(context, request):
    """The camt.053 or camt.054 file as the request body (``application/xml``); answers what
    each statement brought. The same refusals as the page, as problem JSON."""
    if request.content_type not in ("application/xml", "text/xml"):
        raise Refusal(UNSUPPORTED, _("Send the statement as application/xml."))
    data = request.body
    if len(data) > MAX_BYTES:
        raise Refusal(TOO_LARGE, _("This file is too large for a bank statement."))
    imported = import_as(request, data, context.department, None)
    log.info("bank statement imported by key %s", request.api_key.prefix)
    request.response.status_int = 201
    return {
        "statements": [
            {
                "id": result.statement.public_id,
                "kind": result.statement.kind,
                "statement_id": result.statement.statement_id,
                "credits": result.statement.credits,
                "new_credits": result.statement.new_credits,
                "matched": sum(line.status == MATCHED for line in result.lines),
                "unmatched": sum(line.status == UNMATCHED for line in result.lines),
            }
            for result in imported
        ]
    }
