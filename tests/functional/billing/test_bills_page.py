"""The "my bills" page: each filter reads the status from the ledger in SQL, so a payer with a
long history still sees every bill to pay, soonest due first."""

import datetime as dt
import re

from portal.billing import cancel_bill, ledger
from portal.billing.ledger import Line
from portal.billing.views import BILLS_SHOWN
from portal.money import Money
from tests import factories
from tests.languages import pages_follow_accept_language


def settle(dbsession, bill, minor):
    """Post ``minor`` paid on ``bill`` through the sandbox's clearing account."""
    amount = Money(minor, bill.currency)
    receivable, kind = ledger.receivable_account(bill)
    clearing, clearing_kind = ledger.clearing_account("sandbox")
    ledger.post(
        dbsession,
        "payment_settled",
        f"test:{bill.id}:{minor}",
        "test settlement",
        [Line(clearing, clearing_kind, amount), Line(receivable, kind, -amount, bill.id)],
    )


def shown(app, query=""):
    """The bills listed, in order, by the word after "Bill " in their description."""
    page = app.get(f"/bills{query}")
    return list(dict.fromkeys(re.findall(r"Bill (\w+)", page.text)))


def test_each_filter_shows_exactly_its_bills_past_a_long_history(payer, ana, dbsession, clock):
    factories.bill(dbsession, ana, due=dt.date(2025, 1, 31), description="Bill oldopen")
    factories.bill(dbsession, ana, due=dt.date(2026, 2, 1), description="Bill soon")
    partly = factories.bill(dbsession, ana, amount=10_00, description="Bill partly")
    settle(dbsession, partly, 4_00)
    factories.bill(dbsession, ana, service_code="water", description="Bill water")
    over = factories.bill(dbsession, ana, amount=5_00, description="Bill over")
    settle(dbsession, over, 7_00)
    for _ in range(BILLS_SHOWN + 10):
        paid = factories.bill(dbsession, ana, amount=1_00, due=dt.date(2026, 6, 30))
        settle(dbsession, paid, 1_00)
    cancelled = factories.bill(dbsession, ana, description="Bill cancelled")
    cancel_bill(dbsession, cancelled, "issued in error", clock.now())
    dbsession.commit()

    app = payer.app
    assert shown(app) == ["oldopen", "soon", "partly", "water"]
    assert shown(app, "?status=open") == ["water", "soon", "oldopen"]
    assert shown(app, "?status=partly_paid") == ["partly"]
    assert shown(app, "?status=overpaid") == ["over"]
    assert shown(app, "?status=cancelled") == ["cancelled"]
    assert shown(app, "?service=water") == ["water"]
    paid_page = app.get("/bills?status=paid")
    assert paid_page.text.count("Property tax 2026, first instalment") == BILLS_SHOWN


def test_history_refuses_days_it_cannot_mean_and_any_page_number(payer):
    for query in ("to=9999-12-31", "from=0001-01-01", "from=2026-13-01", "to=20261201"):
        page = payer.app.get(f"/payments?{query}", status=400)
        assert "Dates are written as YYYY-MM-DD" in page.text
    assert payer.app.get("/payments?to=2026-12-31&from=2026-01-01").status_int == 200
    for number in ("100000000000000000000", "-3", "²", "0"):
        assert payer.app.get("/payments", {"page": number}).status_int == 200


def test_overdue_bills_are_tagged_and_their_interest_has_its_own_column(payer, ana, dbsession):
    """Only a bill still to pay after its due day is overdue; its late interest (8 % a year,
    500.00 for 30 days: 3.29) stands in its own column, the amount cell holds the amount."""
    from tests.functional.services.conftest import today

    factories.bill(
        dbsession, ana, amount=500_00, due=today() - dt.timedelta(days=30), description="Bill late"
    )
    factories.bill(dbsession, ana, due=today() + dt.timedelta(days=3), description="Bill soon")
    paid = factories.bill(
        dbsession, ana, due=today() - dt.timedelta(days=5), description="Bill done"
    )
    settle(dbsession, paid, paid.total_minor)
    dbsession.commit()

    page = payer.app.get("/bills?status=all")

    rows = {
        re.search(r"Bill (\w+)", " ".join(row.th.stripped_strings)).group(1): {
            cell["data-label"]: " ".join(cell.stripped_strings)
            for cell in row.select("[data-label]")
        }
        for row in page.html.select(".portal-bills tbody tr")
    }
    assert {name for name, row in rows.items() if "Overdue" in row["Due"]} == {"late"}
    assert rows["late"]["Amount"] == "€500.00"
    assert rows["late"]["Late interest"] == "€3.29 Late payment interest: 30 days at 8% a year"
    assert rows["soon"]["Late interest"] == rows["done"]["Late interest"] == "None"
    assert page.html.select_one(".portal-bills .usa-tag:-soup-contains('Overdue')") is not None


def test_in_french_the_filter_and_the_statuses_agree_with_the_bills(
    payer, ana, dbsession, clock, wsgi_app
):
    """Une facture: the filter's choices are plural feminine (as "Toutes" is), a bill's status
    singular feminine ("Payée", where a payment is "Payé")."""
    paid = factories.bill(dbsession, ana, amount=1_00, description="Bill paid")
    settle(dbsession, paid, 1_00)
    cancelled = factories.bill(dbsession, ana, description="Bill cancelled")
    cancel_bill(dbsession, cancelled, "issued in error", clock.now())
    dbsession.commit()

    french = {"Accept-Language": "fr"}
    with pages_follow_accept_language(wsgi_app.registry):
        page = payer.app.get("/bills?status=all", headers=french)
    choices = [option.text for option in page.html.find(id="status").find_all("option")]
    assert choices == ["À payer", "Payées", "Payées en trop", "Annulées", "Toutes"]
    assert [tag.text for tag in page.html.select(".portal-status--paid")] == ["Payée"]
    assert [tag.text for tag in page.html.select(".portal-status--cancelled")] == ["Annulée"]
