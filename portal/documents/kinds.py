"""The kinds of document the portal issues, and how to add one.

A kind says what a document is (its model), which series numbers it, how it reads (a
template and its content) and what ``/verify`` tells about it. The pipeline does the rest
for every kind alike: the number (gap-free per series and fiscal year in the portal's
timezone), the verification code and QR code, rendering to PDF/A-3b after the issuing
transaction commits, the signature, storage with SHA-256, the e-mail, and ``/verify``.

Adding a kind (a bid submission receipt, an opening protocol) is four small steps:

1. A model in the feature's ``models.py``: subclass :class:`~portal.documents.models.Document`
   with ``__mapper_args__ = {"polymorphic_identity": "bid_receipt"}`` and the nullable
   columns linking it to what it documents; add those columns with a migration.
2. A template ``templates/documents/<kind>.jinja2`` that prints ``number``, ``issued``,
   the ``qr`` image, ``verify_url`` and ``verification_code`` next to its own content, and
   names its stylesheets among ``portal/documents/assets/`` with
   ``{% set stylesheets = ["certificate.css"] %}`` (parsed once per thread, not per
   document; nothing else can be loaded). Flex and grid layout cost WeasyPrint far more
   than blocks, floats and table cells: the templates there use none. A table whose
   columns the stylesheet sizes (``table-layout: fixed``) costs less than one sized by its
   content, which WeasyPrint lays out once more to measure; each font face a document uses
   (a monospace code, a footer in another family) costs a few milliseconds per document.
   Documents are read without WeasyPrint's user-agent rules for list markers, footnotes
   and notes (``render.DocumentHTML``): a document with a list styles its markers itself.
3. A subclass of :class:`DocumentKind` naming the model, ``series``, ``title`` and
   ``template``, with ``data()`` (what is printed and attached as JSON), ``load()`` if
   ``data()`` reads related objects (eager loads, so rendering does not read them one lazy
   load at a time) and, if it shows more than "valid" at ``/verify``, ``verification()``.
4. In the feature's ``includeme``: ``config.add_document_kind(BidReceiptKind())``; then, in
   the transaction that decides the document exists,
   ``document_issuer(request.registry).issue(dbsession, BidReceipt(...), request.clock.now())``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from pyramid.i18n import TranslationString
from pyramid.registry import Registry

from portal.documents.models import Document

if TYPE_CHECKING:
    from portal.documents.issuing import DocumentIssuer

_ISSUER = "documents.issuer"


def install_document_issuer(registry: Registry, issuer: DocumentIssuer) -> None:
    registry[_ISSUER] = issuer


def document_issuer(registry: Registry) -> DocumentIssuer:
    """The application's issuer of documents, which holds the registered kinds (here rather
    than beside the issuer so the rendering tasks can reach it without an import cycle)."""
    return registry[_ISSUER]


class DocumentKind(ABC):
    #: the Document subclass; its polymorphic identity is the kind's name
    model: type[Document]
    #: the series' prefix in numbers ("R" gives R-2026-000001); unique among kinds
    series: str
    #: what the document is called, on it, in mail and at /verify
    title: TranslationString
    #: under templates/
    template: str
    #: the name of the JSON attachment
    data_name: str = "document.json"
    #: the e-mail sending the PDF to its owner (mapping: name, number, url); None sends none
    mail: TranslationString | None = None

    @property
    def name(self) -> str:
        return self.model.__mapper__.polymorphic_identity

    def load(self, document: Document, dbsession) -> None:
        """Load what :meth:`data` and :meth:`context` read of ``document``'s objects in a few
        statements, before rendering reads them: lazy loads cost a statement per object.
        A kind whose data is the document's own columns loads nothing."""
        return None

    @abstractmethod
    def data(self, document: Document, issuer) -> dict:
        """What the document says, attached as JSON and given to the template."""

    def context(self, document: Document, issuer, dbsession) -> dict:
        """Anything the template needs beyond :meth:`data`."""
        return {}

    def authority(self, document: Document, issuer, locale: str | None = None) -> str:
        """Who issues the document: signs it, and is named at /verify; in ``locale`` (the
        document's own unless given: /verify names it in its reader's)."""
        return issuer.authority(locale or document.locale)["name"]

    def verification(self, document: Document) -> dict:
        """What /verify tells anyone holding the document: its status ("valid", or a kind's
        own such as "refunded"), where the document states one, its ``amount``, and any
        ``facts`` it states that a holder should compare: (label, text) pairs, nothing
        personal."""
        return {"status": "valid"}
