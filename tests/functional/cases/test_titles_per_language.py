"""A case's title is a text the portal writes itself: it is written in every language when the
case opens, so that a clerk and the person who follows the case read it in their own (issue
17), with its amounts and days as their language writes them; the default language's text
stays the record. A case opened before the titles had languages reads as it was written."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from portal.billing import announce_discrepancies
from portal.billing.payments import flag_for_clerk
from portal.billing.reconciliation import MISSING_IN_PORTAL, REFUND, Discrepancy, Reconciliation
from portal.cases.models import Case
from portal.i18n import _
from portal.identity.language_choice import COOKIE_NAME
from portal.identity.models import Organisation
from portal.money import Money
from portal.procurement import questions
from tests import factories
from tests.bank_files import Credit, camt
from tests.functional.cases.conftest import post


def heading(app, url: str, language: str) -> str:
    """The page's heading as a reader who chose ``language`` in this browser reads it."""
    app.set_cookie(COOKIE_NAME, language)
    return app.get(url).html.find("h1").get_text(" ", strip=True)


def only_case(dbsession, kind: str) -> Case:
    dbsession.expire_all()
    return dbsession.scalars(select(Case).where(Case.kind == kind)).one()


def test_a_flagged_payments_case_reads_in_the_clerks_and_in_the_payers_language(browser, dbsession):
    clara, ana = browser("clerk-clara"), browser("citizen-ana")
    payer = factories.user(dbsession, "citizen-ana")
    paid = factories.payment(dbsession, payer, [factories.bill(dbsession, payer)])
    flag_for_clerk(dbsession, paid, "provider reports a different amount")
    dbsession.commit()
    case = only_case(dbsession, "payment_attention")
    reference = paid.public_id[:8]
    assert case.title == f"Payment {reference}"  # the record, in the default language

    clerks_page = f"/backoffice/cases/{case.public_id}"
    assert heading(clara, clerks_page, "sl").endswith(f": Plačilo {reference}")
    assert f"Plačilo {reference}" in clara.get("/backoffice/cases").html.find("table").text
    assert heading(ana, f"/cases/{case.public_id}", "fr").endswith(f": Paiement {reference}")
    assert f"Paiement {reference}" in ana.get("/cases").text
    assert heading(clara, clerks_page, "en").endswith(f": Payment {reference}")


def test_an_unmatched_bank_credit_reads_with_its_amount_and_day_in_the_clerks_language(
    browser, dbsession
):
    clara = browser("clerk-clara")
    statement = camt("053", "STMT-L", [Credit("8.00", text="unknown", booked="2026-12-04")])
    post(
        clara,
        "/backoffice/departments/revenue/bank-statements",
        upload_files=[("file", "statement.xml", statement)],
    )
    case = only_case(dbsession, "bank_line")
    assert case.title == "€8.00 received on Dec 4, 2026"

    url = f"/backoffice/cases/{case.public_id}"
    assert heading(clara, url, "sl").endswith(": 8,00\xa0€, prejeto 4. dec. 2026")
    assert heading(clara, url, "fr").endswith(": Virement de 8,00\xa0€ reçu le 4 déc. 2026")
    assert heading(clara, url, "zh_Hans").endswith(": 2026年12月4日 收到 €8.00")
    assert heading(clara, url, "en").endswith(": €8.00 received on Dec 4, 2026")


def test_a_reconciliation_finding_reads_in_the_clerks_language_finding_and_all(browser, dbsession):
    ada = browser("admin-ada")
    found = Reconciliation(day=dt.date(2026, 12, 1), lines=[])
    found.discrepancies = [
        Discrepancy(MISSING_IN_PORTAL, REFUND, "ref_x", _("unknown refund"), Money(5_00, "EUR"))
    ]
    announce_discrepancies(dbsession, found)
    dbsession.commit()
    case = only_case(dbsession, "settlement_discrepancy")
    assert case.title == "Refund ref_x: unknown refund"
    url = f"/backoffice/cases/{case.public_id}"
    assert heading(ada, url, "sl").endswith(": Vračilo ref_x: neznano vračilo")
    assert heading(ada, url, "pl").endswith(": Zwrot ref_x: nieznany zwrot")


def test_a_tender_questions_case_names_the_tender_in_every_language(dbsession):
    now = dt.datetime.now(dt.UTC)
    asker = factories.user(dbsession, "citizen-ana")
    tender = factories.tender(dbsession, now=now)
    organisation = Organisation(registration_number="NB-1", name="Northbridge Ltd")
    dbsession.add(organisation)
    dbsession.flush()
    questions.ask(
        dbsession, tender, asker=asker, organisation=organisation, text="Night work?", now=now
    )
    case = only_case(dbsession, "tender_question")
    assert (case.title, case.title_translations["sl"]) == (
        f"Tender {tender.reference}",
        f"Javno naročilo {tender.reference}",
    )
    assert case.title_translations["zh_Hans"] == f"招标项目 {tender.reference}"


def test_a_case_opened_before_titles_had_languages_reads_as_it_was_written(
    browser, make_case, dbsession
):
    clara = browser("clerk-clara")
    public_id = make_case("revenue", title="Payment 1a2b3c4d")
    # as the migration leaves a case opened before it: no translations
    dbsession.execute(update(Case).values(title_translations={}))
    dbsession.commit()
    url = f"/backoffice/cases/{public_id}"
    assert heading(clara, url, "sl").endswith(": Payment 1a2b3c4d")
