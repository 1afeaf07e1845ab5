"""Documents: numbered, signed PDF/A documents anyone can verify; receipts, credit notes and
certificates are kinds of document (:mod:`portal.documents.kinds` says how to add one)."""

from portal.clock import clock
from portal.documents.issuing import DocumentIssuer
from portal.documents.kinds import DocumentKind, document_issuer, install_document_issuer
from portal.documents.ratelimit import install_verify_limiter
from portal.documents.signing import DocumentSigner
from portal.documents.storage import store_from_settings


def add_document_kind(config, kind: DocumentKind) -> None:
    """Register ``kind`` with the issuer; two kinds with one name or one series conflict."""
    issuer = document_issuer(config.registry)

    def register() -> None:
        issuer.kinds[kind.name] = kind

    config.action(("document_kind", kind.name), register)
    config.action(("document_series", kind.series), None)


def includeme(config) -> None:
    settings = config.get_settings()
    issuer = DocumentIssuer(
        settings,
        DocumentSigner.from_settings(settings),
        clock(config.registry).timezone,
        store_from_settings(settings),
    )
    install_document_issuer(config.registry, issuer)
    install_verify_limiter(config.registry)
    config.include("portal.mail")
    config.add_directive("add_document_kind", add_document_kind)
    config.add_route("verify", "/verify/{code}")
    config.add_route("verify_form", "/verify")
