"""A short English word used in two places that other languages word differently is one
message per context (gettext's msgctxt), in Python (``pgettext``) and in templates
(``pgettext``/``npgettext``), and each context reads in its own words."""

import pytest

from portal.applications import state as application_state
from portal.billing import approvals, bills
from portal.billing import state as payment_state
from portal.cases import state as case_state
from portal.documents.render import _environment
from portal.i18n import _, document_localizer, pgettext, pluralize_in_context
from portal.procurement import bid_standing, bids, complaints, documents
from portal.procurement import state as tender_state

#: (message, its two contexts, the Polish and French words for each)
PAIRS = [
    (
        "By",
        "who acted",
        "report grouping",
        {"pl": ("Kto", "Według"), "fr": ("Par", "Regrouper par")},
    ),
    ("Name", "person", "thing", {"pl": ("Imię i nazwisko", "Nazwa"), "fr": ("Nom", "Intitulé")}),
    (
        "Change",
        "button",
        "change history column",
        {"pl": ("Zmień", "Zmiana"), "fr": ("Modifier", "Modification")},
    ),
    (
        "Step",
        "step indicator",
        "auction move",
        {"pl": ("Krok", "Ruch"), "fr": ("Étape", "Mouvement")},
    ),
    (
        "Review",
        "payment step",
        "complaint review",
        {"pl": ("Sprawdzenie", "Rozpatrzenie"), "fr": ("Vérification", "Examen")},
    ),
    (
        "Opened",
        "tender state",
        "case opened on",
        {"pl": ("Otwarte", "Data wszczęcia"), "fr": ("Ouverte", "Ouvert le")},
    ),
    (
        "Received",
        "case state",
        "received at",
        {"pl": ("Otrzymana", "Otrzymano"), "fr": ("Reçu", "Reçu le")},
    ),
    (
        "Withdraw",
        "heading",
        "button",
        {"pl": ("Wycofanie", "Wycofaj"), "fr": ("Retrait", "Retirer")},
    ),
]


@pytest.mark.parametrize("locale", ["pl", "fr"])
@pytest.mark.parametrize(("message", "one", "other", "words"), PAIRS)
def test_each_context_of_a_message_reads_in_its_own_words(locale, message, one, other, words):
    localizer = document_localizer(locale)
    translated = (
        localizer.translate(pgettext(one, message)),
        localizer.translate(pgettext(other, message)),
    )
    assert translated == words[locale]


def test_a_template_translates_a_message_in_its_context():
    template = _environment("pl").from_string(
        '{{ pgettext("who acted", "By") }}|{{ pgettext("report grouping", "By") }}'
    )
    assert template.render() == "Kto|Według"


def test_a_message_in_a_context_without_a_translation_reads_in_english():
    localizer = document_localizer("fr")
    assert localizer.translate(pgettext("no such context", "By")) == "By"
    assert (
        pluralize_in_context(localizer, "no such context", "%(n)s step", "%(n)s steps", 1)
        == "%(n)s step"
    )
    assert (
        pluralize_in_context(localizer, "no such context", "%(n)s step", "%(n)s steps", 3)
        == "%(n)s steps"
    )


#: each object's status labels, by the object they describe (two dicts of one object, a
#: complaint's on its page and in its bid's standing, share their words)
STATUS_LABELS = {
    "bill": [bills.LABELS],
    "payment": [payment_state.LABELS],
    "refund": [payment_state.REFUND_LABELS],
    "application": [application_state.LABELS],
    "approval": [approvals.LABELS],
    "tender": [tender_state.LABELS],
    "bid": [bids.LABELS, documents.BID_STATUS_LABELS],
    "complaint": [complaints.LABELS, bid_standing.COMPLAINT_LABELS],
    "case": [case_state.LABELS, case_state.PUBLIC_LABELS, case_state.OUTCOME_LABELS],
}
#: labels two objects may share: nouns, which agree with nothing
NOUNS = {"Draft"}


def test_no_two_objects_share_a_status_label_without_a_context():
    """A status word shared by two objects (a bill and a payment "Paid") is one message per
    object, so that each language can make it agree with its noun."""
    objects_of: dict[tuple[str | None, str], set[str]] = {}
    for thing, dicts in STATUS_LABELS.items():
        for labels in dicts:
            for label in labels.values():
                objects_of.setdefault((label.context, str(label)), set()).add(thing)
    shared = {
        key: things for key, things in objects_of.items() if len(things) > 1 and key[1] not in NOUNS
    }
    assert shared == {}


#: (object's label, the other object's label of the same English word, the page's words for
#: each in French: une facture payée and un paiement payé, une demande annulée...)
AGREEING = [
    (bills.LABELS[bills.PAID], payment_state.LABELS[payment_state.SUCCEEDED], "Payée", "Payé"),
    (
        application_state.LABELS[application_state.CANCELLED],
        payment_state.LABELS[payment_state.CANCELLED],
        "Annulée",
        "Annulé",
    ),
    (
        complaints.LABELS[complaints.COMPLAINT_REJECTED],
        case_state.OUTCOME_LABELS["rejected"],
        "Rejetée",
        "Rejeté",
    ),
    (bids.LABELS[bids.WITHDRAWN], case_state.OUTCOME_LABELS["withdrawn"], "Retirée", "Retiré"),
]


@pytest.mark.parametrize(("one", "other", "one_reads", "other_reads"), AGREEING)
def test_in_french_a_status_agrees_with_its_object(one, other, one_reads, other_reads):
    """Through the compiled French catalogue, as a page translates a status (its request's
    localizer) and as a template does (``_`` of the label)."""
    assert str(one) == str(other)
    localizer = document_localizer("fr")
    assert (localizer.translate(one), localizer.translate(other)) == (one_reads, other_reads)
    template = _environment("fr").from_string("{{ _(one) }}|{{ _(other) }}")
    assert template.render(one=one, other=other) == f"{one_reads}|{other_reads}"


def test_a_french_bill_is_feminine_and_a_payment_masculine():
    """Why the forms above: the nouns the French catalogue gives them."""
    localizer = document_localizer("fr")
    assert localizer.translate(_("Bill")) == "Facture"
    assert localizer.translate(_("Payment")) == "Paiement"
