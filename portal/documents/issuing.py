"""Issuing documents: the number and verification code are taken in the issuing transaction;
the PDF is rendered, signed and stored once after that transaction commits, then e-mailed to
the document's owner. A rolled-back transaction therefore leaves neither a document, nor a
number, nor a mail behind. The signed bytes go to the configured store before the row records
them (:mod:`portal.documents.storage`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import insert, inspect, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from portal.db import Prebuilt, run_write, table_of
from portal.documents.kinds import DocumentKind
from portal.documents.models import Document
from portal.documents.numbering import DocumentNumberer, fiscal_year
from portal.documents.qr import qr_data_uri
from portal.documents.render import render_pdf
from portal.documents.storage import DatabaseStore, DocumentStore, document_key, keep
from portal.documents.tasks import render_after_commit
from portal.i18n import document_localizer
from portal.localized import setting

log = logging.getLogger(__name__)

#: unambiguous letters and digits for codes people type from paper
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def display_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


class DocumentIssuer:
    """The pipeline every kind of document goes through, with what it needs from settings."""

    def __init__(self, settings, signer, timezone: ZoneInfo, store: DocumentStore | None = None):
        self.settings = settings
        self.signer = signer
        #: where the signed bytes are kept (the database unless settings name a store)
        self.store = store or DatabaseStore()
        #: the clock's: fiscal years and issue dates are the portal's days
        self.timezone = timezone
        self.base_url = settings["portal.base_url"]
        self.kinds: dict[str, DocumentKind] = {}

    def authority(self, locale: str | None) -> dict[str, str]:
        """The issuer's name and address as printed in ``locale``: the settings
        ``receipts.authority_name`` and ``receipts.authority_address``, or their ``.<locale>``
        (``receipts.authority_name.sl``) where given."""
        return {
            "name": setting(self.settings, "receipts.authority_name", locale)
            or "Public Services Payments",
            "address": setting(self.settings, "receipts.authority_address", locale) or "",
        }

    def kind(self, document: Document) -> DocumentKind:
        return self.kinds[document.kind]

    def title(self, document: Document) -> str:
        """What the document is called, in its owner's language."""
        return document_localizer(document.locale).translate(self.kind(document).title)

    def issue(self, dbsession, document: Document, now: dt.datetime) -> Document:
        """Record ``document`` as issued ``now`` (:meth:`record`) and render it once the
        current transaction commits."""
        self.record(dbsession, document, now)
        render_after_commit(dbsession, document)
        return document

    def record(self, dbsession, document: Document, now: dt.datetime) -> Document:
        """Number ``document`` in its kind's series and the fiscal year ``now`` falls in, and
        give it a verification code, in the current transaction."""
        document.issued_at = now
        document.series = self.kind(document).series
        document.fiscal_year = fiscal_year(document.issued_at, self.timezone)
        document.sequence = DocumentNumberer(dbsession).next(document.series, document.fiscal_year)
        document.number = f"{document.series}-{document.fiscal_year}-{document.sequence:06d}"
        document.verification_code = new_verification_code()
        if not _insert_plain(dbsession, document):
            dbsession.add(document)
            dbsession.flush()
        log.info("issued %s %s", document.kind, document.number)
        return document

    def verify_url(self, document: Document) -> str:
        return f"{self.base_url}/verify/{document.verification_code}"

    def data(self, document: Document) -> dict:
        """What is printed and attached: the kind's content after what every document says."""
        return {
            "kind": document.kind,
            "number": document.number,
            "issued_at": document.issued_at.isoformat(),
            "issued": format_datetime(
                document.issued_at, "long", tzinfo=self.timezone, locale=document.locale
            ),
            **self.kind(document).data(document, self),
            "verification_code": display_code(document.verification_code),
            "verify_url": self.verify_url(document),
        }

    def unsigned_pdf(self, dbsession, document: Document) -> bytes:
        """The PDF of ``document`` as it reads now, before it is signed."""
        kind = self.kind(document)
        kind.load(document, dbsession)
        data = self.data(document)
        context = dict(
            data,
            **kind.context(document, self, dbsession),
            locale=document.locale,
            qr=qr_data_uri(data["verify_url"]),
            title=self.title(document),
        )
        return render_pdf(kind.template, context, data, document.locale, kind.data_name)

    def render(self, dbsession, document: Document) -> None:
        """Render, sign and store the PDF once; stored bytes are never replaced."""
        if document.sha256 is not None:
            return
        kind = self.kind(document)
        signed = self.signer.sign(
            self.unsigned_pdf(dbsession, document),
            reason=f"{self.title(document)} {document.number}",
            location=kind.authority(document, self),
        )
        sha256 = hashlib.sha256(signed).hexdigest()
        # the bytes first, under a key of their own hash: a retry puts the same bytes again
        storage_key, in_row = keep(self.store, document_key(sha256), signed, "application/pdf")
        # Stored once: if another worker stored this document meanwhile, its bytes stay (and
        # ours, under another key, are named by nothing).
        stored = dbsession.execute(
            update(Document)
            .where(Document.id == document.id, Document.sha256.is_(None))
            .values(pdf=in_row, storage_key=storage_key, sha256=sha256)
            .execution_options(synchronize_session=False)
        )
        if stored.rowcount == 0:
            log.info("document %s was stored by another worker", document.number)
            dbsession.refresh(document, ["pdf", "storage_key", "sha256"])
            return
        for name, value in (("pdf", in_row), ("storage_key", storage_key), ("sha256", sha256)):
            set_committed_value(document, name, value)  # what the row now holds, unread


_DOCUMENTS = table_of(Document)
_INSERT_DOCUMENT = Prebuilt(lambda dialect: insert(_DOCUMENTS).returning(_DOCUMENTS.c.id))


def _insert_plain(dbsession, document: Document) -> bool:
    """Write a new ``document`` whose links are all ids (a receipt's payment, a certificate's
    application) with a plain INSERT and add it to ``dbsession`` as a loaded object, without
    the flush's unit of work (about a fifth of a payment notification's CPU went to it); False,
    writing nothing, for one linked by objects, whose ids only the flush can fill in."""
    mapper = inspect(document).mapper
    given = document.__dict__
    if any(relationship.key in given for relationship in mapper.relationships):
        return False
    row = {}
    for attribute in mapper.column_attrs:
        (column,) = attribute.columns
        if column.primary_key:
            continue
        value = given.get(attribute.key)
        if value is None and column.default is not None:
            if not column.default.is_scalar:
                return False
            value = column.default.arg
        row[column.key] = value
    document.id = run_write(dbsession, _INSERT_DOCUMENT(dbsession), row).scalar_one()
    # Every column must be held before the object is made persistent (one it lacks would be
    # read back when used): those given keep their value, only the defaults are set.
    for attribute in mapper.column_attrs:
        key = attribute.key
        if key != "id" and (key not in given or given[key] is None):
            setattr(document, key, row[attribute.columns[0].key])
    make_transient_to_detached(document)
    dbsession.add(document)
    return True
