"""Kinds of document are registered once each, each with a series of its own."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError

from portal.applications.certificates import CertificateKind
from portal.documents.kinds import document_issuer
from portal.receipts.issuing import CreditNoteKind, ReceiptKind


def configured(settings, *kinds) -> Configurator:
    config = Configurator(settings=dict(settings, **{"portal.base_url": "https://localhost"}))
    config.include("portal.clock")
    config.include("portal.documents")
    for kind in kinds:
        config.add_document_kind(kind)
    return config


def test_the_portal_knows_its_kinds_of_document(wsgi_app):
    kinds = document_issuer(wsgi_app.registry).kinds
    assert {name: kind.series for name, kind in kinds.items()} == {
        "receipt": "R",
        "credit_note": "CN",
        "certificate": "C",
        "bid_receipt": "BR",
        "opening_protocol": "OP",
        "auction_protocol": "AP",
    }


def test_two_kinds_may_not_share_a_series(app_settings):
    class AnotherReceipt(CreditNoteKind):
        series = "R"

    config = configured(app_settings, ReceiptKind(), AnotherReceipt())
    with pytest.raises(ConfigurationConflictError):
        config.commit()


def test_a_kind_is_registered_once(app_settings):
    config = configured(app_settings, CertificateKind(None), CertificateKind(None))
    with pytest.raises(ConfigurationConflictError):
        config.commit()
