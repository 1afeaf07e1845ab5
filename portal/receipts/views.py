"""Receipts for their payer: download one, or all of a year as a ZIP."""

from __future__ import annotations

import io
import zipfile

from pyramid.authorization import Allow
from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import defer

from portal.billing import PaymentContext, PaymentDocument
from portal.billing.models import Payment
from portal.db import table_of
from portal.documents.downloads import document_bytes, send_pdf, stored
from portal.documents.storage import document_store, read_checked
from portal.i18n import _
from portal.receipts.models import CREDIT_NOTE, RECEIPT, Receipt
from portal.refusals import NOT_FOUND, UNAVAILABLE, Refusal
from portal.security import ROLE_ADMIN, organisation_principal, user_principal


class ReceiptContext:
    """A receipt (or credit note) as its download needs it: its number, its hash and its
    payment's payers, read in the one query that found it (no ORM object, no bytes), so the
    payer's own download is decided without loading the payment."""

    def __init__(self, request, found):
        self.request = request
        self.id, self.number, self.sha256 = found.id, found.number, found.sha256
        self.storage_key = found.storage_key
        self.payer_user_id = found.payer_user_id
        self.payer_organisation_id = found.payer_organisation_id
        self._pdf = getattr(found, "pdf", None)

    def pdf(self) -> bytes:
        """The stored bytes, checked: from the store under the receipt's key, or from its row
        (read with the receipt, or now for a browser whose copy is stale)."""
        assert self.sha256 is not None, "a receipt is read once it is rendered"
        return read_checked(
            document_store(self.request.registry), self.storage_key, self._row_bytes, self.sha256
        )

    def _row_bytes(self) -> bytes | None:
        if self._pdf is None:
            self._pdf = self.request.dbsession.scalar(
                select(Receipt.pdf).where(Receipt.id == self.id)
            )
        return self._pdf

    @property
    def __acl__(self):
        """Whoever may view the payment may view its receipts: the payer, the organisation
        it paid for, administrators, the clerks of the departments it paid. The ACL is read
        in order until an entry allows: the payer's entry first, and the departments (the
        payment and a query) only for whoever the entries before it did not allow."""
        if self.payer_user_id is not None:
            yield (Allow, user_principal(self.payer_user_id), "view")
        yield (Allow, ROLE_ADMIN, "view")
        if self.payer_organisation_id is not None:
            yield (Allow, organisation_principal(self.payer_organisation_id), "view")
        receipt = self.request.dbsession.get(Receipt, self.id, options=[defer(Receipt.pdf)])
        payment_acl = PaymentContext(receipt.payment).__acl__
        yield from (entry for entry in payment_acl if entry[2] == "view")


def documents_by_payment(request, payment_ids: list[int]) -> dict[int, list[PaymentDocument]]:
    """The receipts and credit notes of ``payment_ids``, for billing's payment pages."""
    translate = request.localizer.translate
    receipt_title, credit_note_title = translate(_("Receipt")), translate(_("Credit note"))
    found: dict[int, list[PaymentDocument]] = {}
    query = (
        select(Receipt)
        .where(Receipt.payment_id.in_(payment_ids))
        .order_by(Receipt.id)
        .options(defer(Receipt.pdf))
    )
    for receipt in request.dbsession.scalars(query):
        ready = stored(receipt)
        url = request.route_path("receipt_pdf", number=receipt.number) if ready else None
        found.setdefault(receipt.payment_id, []).append(
            PaymentDocument(
                receipt.number, receipt_title if receipt.kind == RECEIPT else credit_note_title, url
            )
        )
    return found


#: the documents table, of which receipts and credit notes are the rows of two kinds: asked
#: for through its columns, with the kinds written out as plain values, because through the
#: Receipt entity SQLAlchemy adds ``kind IN (...)`` as an expanding parameter, which renders
#: the statement's text afresh on every download
_DOCUMENTS = table_of(Receipt)
_FIND_RECEIPT = (
    select(
        _DOCUMENTS.c.id,
        _DOCUMENTS.c.number,
        _DOCUMENTS.c.sha256,
        _DOCUMENTS.c.storage_key,
        Payment.payer_user_id,
        Payment.payer_organisation_id,
    )
    .join(Payment, _DOCUMENTS.c.payment_id == Payment.id)
    .where(
        _DOCUMENTS.c.number == bindparam("number"),
        or_(_DOCUMENTS.c.kind == RECEIPT, _DOCUMENTS.c.kind == CREDIT_NOTE),
    )
)
#: the same with the bytes, for a browser that does not hold them yet (most often the
#: payer's own download, so the bytes come in the query that checks who may have them)
_FIND_RECEIPT_WITH_PDF = _FIND_RECEIPT.add_columns(_DOCUMENTS.c.pdf)


def receipt_factory(request) -> ReceiptContext:
    number = request.matchdict["number"]
    query = _FIND_RECEIPT if request.if_none_match else _FIND_RECEIPT_WITH_PDF
    # a Core statement on the session's connection: columns need none of the ORM's work
    connection = request.dbsession.connection()
    found = connection.execute(query, {"number": number[:32]}).one_or_none()
    if found is None:
        raise HTTPNotFound()
    return ReceiptContext(request, found)


@view_config(route_name="receipt_pdf", permission="view")
def receipt_pdf(context, request):
    """Exactly the bytes stored when the receipt was issued, with their hash as ETag."""
    if context.sha256 is None:
        raise Refusal(
            UNAVAILABLE,
            _("The receipt is being prepared. Try again in a minute."),
            headers={"Retry-After": "30"},
        )
    return send_pdf(
        request,
        context.sha256,
        context.pdf,
        f"{context.number}.pdf",
        "private, max-age=31536000, immutable",
        storage_key=context.storage_key,
    )


def _owned_by(user):
    """Receipts issued to ``user``, or to an organisation they represent with no person
    named (its bank transfers)."""
    organisations = [organisation.id for organisation in user.organisations]
    return or_(Receipt.owner_user_id == user.id, Receipt.owner_organisation_id.in_(organisations))


@view_config(route_name="receipts", renderer="receipts/receipts.jinja2", permission="account")
def receipts(request):
    rows = request.dbsession.scalars(
        select(Receipt).where(_owned_by(request.user)).order_by(Receipt.issued_at.desc()).limit(500)
    )
    rows = list(rows)
    years = sorted({receipt.fiscal_year for receipt in rows}, reverse=True)
    return {"receipts": rows, "years": years}


@view_config(route_name="receipts_zip", permission="account")
def receipts_zip(request):
    year_text = request.matchdict["year"]
    if not (len(year_text) == 4 and year_text.isascii() and year_text.isdigit()):
        raise HTTPNotFound()
    year = int(year_text)
    rows = request.dbsession.scalars(
        select(Receipt)
        .where(
            _owned_by(request.user),
            Receipt.fiscal_year == year,
            Receipt.sha256.is_not(None),
        )
        .order_by(Receipt.series, Receipt.sequence)
    )
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for receipt in rows:
            archive.writestr(f"{receipt.number}.pdf", document_bytes(request.registry, receipt))
            count += 1
    if count == 0:
        raise Refusal(NOT_FOUND, _("You have no receipts for that year."))
    return Response(
        body=buffer.getvalue(),
        content_type="application/zip",
        content_disposition=f'attachment; filename="receipts-{year}.zip"',
    )
