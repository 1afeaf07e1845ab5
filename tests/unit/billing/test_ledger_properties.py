"""The ledger under any sequence of billing's operations Hypothesis draws: bills issued and
cancelled, payments of one or several bills, the provider's reports (success, failure,
cancellation, late, repeated, with a wrong amount), refunds asked for in full or in part and
the provider confirming or refusing them.

After every step: every journal transaction balances in each currency; a bill never owes
more than it was issued for, nor less than nothing beyond what is being given back on it;
a refund never gives back more than was paid (on the payment, or on any bill of it); what
the provider holds for the portal (its clearing account) is what settled less what was
refunded, never below zero; each payer's receivable is the sum of their bills; and a bill's
status reads the same from Python and from SQL.

Each step runs in a savepoint as a request runs in a transaction: a refusal rolls it back
(a refused request changes nothing). Runs are derandomized and bounded: the same scenarios
each run, in seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections import defaultdict

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import case, func, select, true

from portal.billing import (
    apply_report,
    cancel_bill,
    create_payment,
    ledger,
    refund_bill,
    request_refund,
    start_payment,
    state,
    with_status,
)
from portal.billing.bills import STATUSES, status_condition
from portal.billing.models import (
    Bill,
    JournalEntry,
    JournalTransaction,
    LedgerAccount,
    Payment,
    PaymentAllocation,
    Refund,
    RefundLine,
)
from portal.billing.payments import send_refund
from portal.billing.providers import ProviderPayment, ProviderRefund, ProviderRefused
from portal.clock import clock as app_clock
from portal.db import registry_of
from portal.money import Money
from portal.refusals import Refusal
from tests import factories

SCENARIOS = settings(
    max_examples=30,
    stateful_step_count=20,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PAYERS = ("citizen-ana", "citizen-bor")
SERVICES = ("water", "property-tax")
CURRENCIES = ("EUR", "JPY")
#: picks one of the rows there are (modulo their number)
ANY = st.integers(0, 10**6)
#: what the provider says of a payment (None: nothing yet); mostly success, as payers mostly pay
OUTCOMES = st.sampled_from(["succeeded", "succeeded", "failed", "cancelled", "pending", None])
#: the provider's answer to a refund (None: none yet)
ANSWERS = st.sampled_from(["accepted", "notified", "refused", None])
#: mostly a step that can go ahead; otherwise one at anything there is, mostly refused
AIM = st.booleans().map(lambda hostile: not hostile)


class Provider:
    """The provider's answer to a refund, as the drawn scenario has it: accepted or refused."""

    def __init__(self, accept: bool):
        self.accept = accept

    def refund(self, provider_payment_id, amount, reference) -> ProviderRefund:
        if not self.accept:
            raise ProviderRefused("refund_declined", "the provider declines this refund")
        return ProviderRefund(f"re-{reference}", provider_payment_id or "", reference, amount, "ok")


class Billing(RuleBasedStateMachine):
    """One scenario on ``dbsession``, undone when it ends (a savepoint rolled back)."""

    dbsession = None

    def __init__(self):
        super().__init__()
        self.scenario = self.dbsession.begin_nested()
        self.keys = itertools.count()
        self.now = app_clock(registry_of(self.dbsession)).now()

    def teardown(self):
        self.scenario.rollback()
        # as the next request's session would: rows written as plain INSERTs and attached to
        # the session as loaded (billing's hot path) outlive a rollback in its identity map
        self.dbsession.expunge_all()

    # -- arranging ---------------------------------------------------------------------------

    def rows(self, model, *where):
        query = select(model).where(*where).order_by(model.id)
        return list(self.dbsession.scalars(query))

    def pick(self, model, index, *where):
        rows = self.rows(model, *where)
        return rows[index % len(rows)] if rows else None

    def step(self, call, *args, **kwargs):
        """``call`` as one request: its changes kept, or all rolled back if it is refused."""
        savepoint = self.dbsession.begin_nested()
        try:
            result = call(*args, **kwargs)
        except Refusal as refused:
            savepoint.rollback()
            self.dbsession.expunge_all()
            event(f"{call.__name__}: refused, {refused.message.interpolate()}")
            return None
        savepoint.commit()
        event(f"{call.__name__}: done")
        return result

    def report(self, payment: Payment, status: str, off_by: Money | None = None) -> None:
        amount = payment.amount + off_by if off_by else payment.amount
        report = ProviderPayment(
            provider_payment_id=f"provider-{payment.public_id}",
            reference=payment.public_id,
            status=status,
            amount=amount,
            refunded=Money(0, payment.currency),
            method="card",
            failure_reason="card_declined" if status == "failed" else None,
        )
        self.step(apply_report, self.dbsession, payment, report, "notification", self.now)

    def answer(self, refund: Refund, answer: str) -> None:
        """The provider accepts ``refund`` when asked, or refuses it, or confirms it in a
        notification."""
        if answer == "notified":
            payment = refund.payment
            report = ProviderPayment(
                f"provider-{payment.public_id}",
                payment.public_id,
                "succeeded",
                payment.amount,
                refund.amount,
                "card",
                None,
            )
            confirmed = ProviderRefund(
                f"re-{refund.public_id}", "", refund.public_id, refund.amount, "succeeded"
            )
            self.step(
                apply_report, self.dbsession, payment, report, "notification", self.now, confirmed
            )
        else:
            provider = Provider(accept=answer == "accepted")
            self.step(send_refund, self.dbsession, refund, provider, self.now)

    # -- rules --------------------------------------------------------------------------------

    @initialize(
        bills=st.lists(
            st.tuples(st.sampled_from(PAYERS), st.integers(1, 50_000)), min_size=1, max_size=3
        )
    )
    def some_bills(self, bills):
        for payer, amount in bills:
            factories.bill(self.dbsession, factories.user(self.dbsession, payer), amount=amount)

    @rule(
        payer=st.sampled_from(PAYERS),
        service=st.sampled_from(SERVICES),
        currency=st.sampled_from(CURRENCIES),
        amounts=st.lists(st.integers(1, 50_000), min_size=1, max_size=3),
    )
    def issue(self, payer, service, currency, amounts):
        self.step(
            factories.bill,
            self.dbsession,
            factories.user(self.dbsession, payer),
            amount=sum(amounts),
            currency=currency,
            service_code=service,
        )

    @rule(
        payer=st.sampled_from(PAYERS),
        picks=st.lists(ANY, min_size=1, max_size=3),
        aim=AIM,
        outcome=OUTCOMES,
    )
    def pay(self, payer, picks, aim, outcome):
        """A payment of bills still to pay, by their payer and in one currency, and what the
        provider then says of it (or nothing yet); or (``aim`` off) a payment of any bills by
        anyone: another payer's, a settled or cancelled one, two currencies (all refused)."""
        bills = self.rows(Bill)
        if aim:
            bills = [view.bill for view in with_status(self.dbsession, bills) if view.payable]
        if not bills:
            return
        chosen = [bills[index % len(bills)] for index in picks]
        user = factories.user(self.dbsession, payer)
        if aim:
            first = chosen[0]
            user = first.payer_user
            chosen = [
                bill
                for bill in chosen
                if (bill.payer_user_id, bill.currency) == (user.id, first.currency)
            ]
        payment = self.step(
            create_payment,
            self.dbsession,
            user=user,
            bill_ids=sorted({bill.id for bill in chosen}),
            idempotency_key=f"scenario-key-{next(self.keys):06d}",
            provider="sandbox",
            timeout=dt.timedelta(minutes=90),
            now=self.now,
        )
        if payment is not None and outcome is not None:
            self.report(payment, outcome)

    @rule(index=ANY, outcome=OUTCOMES, aim=AIM, wrong_amount=st.booleans())
    def provider_reports(self, index, outcome, aim, wrong_amount):
        """The provider's word on a payment still open, or (``aim`` off) on any payment: late,
        repeated, contradicting, for another amount."""
        waiting = Payment.status.in_([*state.IN_PROGRESS, state.EXPIRED]) if aim else true()
        payment = self.pick(Payment, index, waiting)
        if payment is not None:
            wrong = wrong_amount and not aim
            self.report(
                payment, outcome or "pending", Money(1, payment.currency) if wrong else None
            )

    @rule(index=ANY)
    def expire(self, index):
        """A payment opened after its time runs out expires (its checkout is refused, the
        expiry kept, as the checkout page keeps it)."""
        payment = self.pick(Payment, index, Payment.status == state.CREATED)
        if payment is None:
            return
        with contextlib.suppress(Refusal):
            start_payment(
                payment,
                None,
                description="",
                return_url="",
                notify_url="",
                now=payment.expires_at + dt.timedelta(seconds=1),
            )
        assert payment.status == state.EXPIRED

    @rule(
        index=ANY,
        shares=st.one_of(st.none(), st.lists(st.integers(0, 100), min_size=1, max_size=3)),
        aim=AIM,
        answer=ANSWERS,
    )
    def refund(self, index, shares, aim, answer):
        """A clerk refunds a share of what a settled payment (or, ``aim`` off, any payment)
        paid on each of its bills, more than it can still give back or nothing (refused); or
        (``shares`` None) all that can be given back on one of its bills. Then the provider
        answers (or not yet)."""
        refundable = Payment.status.in_([state.SUCCEEDED, state.PARTLY_REFUNDED]) if aim else true()
        payment = self.pick(Payment, index, refundable)
        if payment is None:
            return
        if shares is None:
            bill = payment.allocations[index % len(payment.allocations)].bill
            refund = self.step(refund_bill, self.dbsession, bill, "refunded in full")
        else:
            amounts = {}
            for allocation, share in zip(
                payment.allocations, itertools.cycle(shares), strict=False
            ):
                minor = allocation.amount_minor * share // 100
                if minor:
                    amounts[allocation.bill_id] = Money(minor, payment.currency)
            refund = self.step(
                request_refund, self.dbsession, payment, amounts, payment.refundable, "asked for"
            )
        if refund is not None and answer is not None:
            self.answer(refund, answer)

    @rule(index=ANY, answer=ANSWERS.filter(bool), aim=AIM)
    def provider_answers_refund(self, index, answer, aim):
        """The provider's answer to a refund still waiting for one (say, an overpayment given
        back) or, ``aim`` off, to any refund: again, or contradicting the first."""
        asked = Refund.status == state.REFUND_REQUESTED if aim else true()
        refund = self.pick(Refund, index, asked)
        if refund is not None:
            self.answer(refund, answer)

    @rule(index=ANY, aim=AIM)
    def cancel(self, index, aim):
        """A service cancels a bill it has not cancelled yet (or, ``aim`` off, any bill)."""
        bill = self.pick(Bill, index, Bill.cancelled_at.is_(None) if aim else true())
        if bill is not None:
            self.step(cancel_bill, self.dbsession, bill, "issued by mistake", self.now)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def every_transaction_balances_in_each_currency(self):
        unbalanced = self.dbsession.execute(
            select(JournalEntry.transaction_id, JournalEntry.currency)
            .group_by(JournalEntry.transaction_id, JournalEntry.currency)
            .having(func.sum(JournalEntry.amount_minor) != 0)
        ).all()
        assert unbalanced == []

    @invariant()
    def bills_owe_between_nothing_and_what_was_issued(self):
        """A cancelled bill owes nothing; an overpaid one is being given back what it was
        overpaid, or a clerk is told."""
        bills = self.rows(Bill)
        balances = ledger.bill_balances(self.dbsession, [bill.id for bill in bills])
        being_refunded = self.being_refunded()
        flagged = set(
            self.dbsession.scalars(
                select(PaymentAllocation.bill_id)
                .join(Payment)
                .where(Payment.needs_attention.is_not(None))
            )
        )
        for bill in bills:
            balance = balances[bill.id]
            assert balance <= bill.total_minor, bill.number
            if bill.cancelled_at is not None:
                assert balance <= 0, f"cancelled {bill.number} owes {balance}"
            if balance + being_refunded[bill.id] < 0:
                assert bill.id in flagged, f"{bill.number} overpaid by {-balance}, unflagged"

    @invariant()
    def refunds_never_give_back_more_than_was_paid(self):
        refunds = defaultdict(list)
        for refund in self.rows(Refund):
            refunds[refund.payment_id].append(refund)
        for payment in self.rows(Payment):
            allocations = {a.bill_id: a for a in payment.allocations}
            assert sum(a.amount_minor for a in allocations.values()) == payment.amount_minor
            assert 0 <= payment.refunded_minor <= payment.amount_minor
            reserved, confirmed = defaultdict(int), 0
            for refund in refunds[payment.id]:
                assert refund.amount_minor == sum(line.amount_minor for line in refund.lines)
                if refund.status in state.REFUND_RESERVING:
                    for line in refund.lines:
                        reserved[line.bill_id] += line.amount_minor
                if refund.status == state.REFUND_SUCCEEDED:
                    confirmed += refund.amount_minor
            assert sum(reserved.values()) == payment.refunded_minor
            for bill_id, allocation in allocations.items():
                assert 0 <= allocation.refunded_minor <= reserved[bill_id]
                assert reserved[bill_id] <= allocation.amount_minor
            assert sum(a.refunded_minor for a in allocations.values()) == confirmed
            assert (payment.status == state.REFUNDED) == (confirmed == payment.amount_minor)
            if payment.status == state.PARTLY_REFUNDED:
                assert 0 < confirmed < payment.amount_minor

    @invariant()
    def the_provider_holds_what_settled_less_what_was_refunded(self):
        """Each settlement and each confirmed refund posted exactly when its state says so,
        and what the clearing account holds follows."""
        posted = set(self.dbsession.scalars(select(JournalTransaction.idempotency)))
        held = defaultdict(int)
        for payment in self.rows(Payment):
            settled = f"payment:{payment.id}:settled" in posted
            assert settled == (payment.status in state.SETTLED), payment.status
            held[payment.currency] += payment.amount_minor if settled else 0
        for refund in self.rows(Refund):
            confirmed = f"refund:{refund.id}:settled" in posted
            assert confirmed == (refund.status == state.REFUND_SUCCEEDED), refund.status
            held[refund.currency] -= refund.amount_minor if confirmed else 0
        clearing = self.balances()["clearing:sandbox"]
        for currency in CURRENCIES:
            assert clearing[currency] == held[currency] >= 0

    @invariant()
    def receivables_are_the_sum_of_the_bills_and_revenue_is_never_a_debit(self):
        bills = self.rows(Bill)
        balances = ledger.bill_balances(self.dbsession, [bill.id for bill in bills])
        owed = defaultdict(lambda: defaultdict(int))
        for bill in bills:
            owed[ledger.receivable_account(bill)[0]][bill.currency] += balances[bill.id]
        for code, balance in self.balances().items():
            if code.startswith("receivable:"):
                assert {c: m for c, m in balance.items() if m} == {
                    c: m for c, m in owed[code].items() if m
                }, code
            if code.startswith("revenue:"):
                assert all(minor <= 0 for minor in balance.values()), code

    @invariant()
    def a_bills_status_reads_the_same_in_python_and_in_sql(self):
        in_python = {
            view.bill.id: view.status for view in with_status(self.dbsession, self.rows(Bill))
        }
        in_sql = dict(
            self.dbsession.execute(
                select(Bill.id, case(*((status_condition(s), s) for s in STATUSES)))
            ).all()
        )
        assert in_sql == in_python

    # -- reading ------------------------------------------------------------------------------

    def balances(self) -> dict[str, dict[str, int]]:
        """Every account's balance, by currency."""
        rows = self.dbsession.execute(
            select(LedgerAccount.code, JournalEntry.currency, func.sum(JournalEntry.amount_minor))
            .join(JournalEntry, JournalEntry.account_id == LedgerAccount.id)
            .group_by(LedgerAccount.code, JournalEntry.currency)
        )
        found = defaultdict(lambda: defaultdict(int))
        for code, currency, total in rows:
            found[code][currency] = int(total)
        return found

    def being_refunded(self) -> dict[int, int]:
        """What refunds asked for and not yet answered will give back, by bill."""
        rows = self.dbsession.execute(
            select(RefundLine.bill_id, func.sum(RefundLine.amount_minor))
            .join(Refund, RefundLine.refund_id == Refund.id)
            .where(Refund.status == state.REFUND_REQUESTED)
            .group_by(RefundLine.bill_id)
        )
        return defaultdict(int, {bill_id: int(total) for bill_id, total in rows})


def test_any_sequence_of_billing_operations_keeps_the_ledger_sound(dbsession):
    for payer in PAYERS:
        factories.user(dbsession, payer)
    for service in SERVICES:
        factories.service(dbsession, service)
    Billing.dbsession = dbsession
    try:
        run_state_machine_as_test(Billing, settings=SCENARIOS)
    finally:
        Billing.dbsession = None


# What the scenarios found, kept as plain examples.


def confirmed_refund(dbsession, bill, reason="refunded"):
    refund = refund_bill(dbsession, bill, reason)
    send_refund(dbsession, refund, Provider(accept=True), app_clock(registry_of(dbsession)).now())
    assert refund.status == state.REFUND_SUCCEEDED
    return refund


def settled_payment(dbsession, payer, bills):
    payment = factories.payment(dbsession, payer, bills)
    now = app_clock(registry_of(dbsession)).now()
    report = ProviderPayment(
        f"provider-{payment.public_id}",
        payment.public_id,
        "succeeded",
        payment.amount,
        Money(0, payment.currency),
        "card",
        None,
    )
    apply_report(dbsession, payment, report, "notification", now)
    assert payment.status == state.SUCCEEDED
    return payment


def test_a_refund_of_a_paid_bill_cancelled_since_leaves_it_owing_nothing(dbsession, payer):
    """Paid, then cancelled by its service (what was paid stays paid), then refunded: the
    refund once made the cancelled bill owed again, for ever, and left its revenue booked."""
    bill = factories.bill(dbsession, payer, amount=40_00, service_code="water")
    settled_payment(dbsession, payer, [bill])
    cancel_bill(dbsession, bill, "issued by mistake", app_clock(registry_of(dbsession)).now())
    confirmed_refund(dbsession, bill)
    assert ledger.bill_balances(dbsession, [bill.id]) == {bill.id: 0}
    assert ledger.account_balance(dbsession, "revenue:water") == {"EUR": 0}
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 0}
    assert ledger.account_balance(dbsession, ledger.receivable_account(bill)[0]) == {"EUR": 0}


def test_a_refund_that_gives_back_an_overpaid_cancelled_bill_leaves_its_revenue(dbsession, payer):
    """Cancelled while a payment of it was open, which then succeeded: the refund of the
    overpayment brings the bill back to owing nothing and takes nothing from revenue."""
    bill = factories.bill(dbsession, payer, amount=25_00, service_code="water")
    payment = factories.payment(dbsession, payer, [bill])
    cancel_bill(dbsession, bill, "issued by mistake", app_clock(registry_of(dbsession)).now())
    assert ledger.account_balance(dbsession, "revenue:water") == {"EUR": 0}
    report = ProviderPayment(
        f"provider-{payment.public_id}",
        payment.public_id,
        "succeeded",
        payment.amount,
        Money(0, "EUR"),
        "card",
        None,
    )
    apply_report(
        dbsession, payment, report, "late success", app_clock(registry_of(dbsession)).now()
    )
    (overpaid,) = dbsession.scalars(select(Refund).where(Refund.payment_id == payment.id))
    send_refund(dbsession, overpaid, Provider(accept=True), app_clock(registry_of(dbsession)).now())
    assert ledger.bill_balances(dbsession, [bill.id]) == {bill.id: 0}
    assert ledger.account_balance(dbsession, "revenue:water") == {"EUR": 0}
    assert ledger.account_balance(dbsession, "clearing:sandbox") == {"EUR": 0}
