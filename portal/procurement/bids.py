"""An organisation's bid: preparing the draft, sealing it on submission, withdrawing, confirming.

A bid moves draft -> submitted (again on each replacement) -> withdrawn (:data:`TRANSITIONS`).
Everything that changes a submitted bid (submit, replace, withdraw, confirm) happens only while
:func:`portal.procurement.state.accepts_bids` says so at the request's own clock, read after the
tender's row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's transactions take the
write lock as they begin): a request waiting for the lock reads the time only once it holds
it, so nothing is accepted at or after the deadline, however late the periodic job and however
many requests arrive at once.

The draft (price, answers, documents and their names) is kept encrypted under the portal's
personal-data key (:class:`~portal.identity.pii.PersonalDataVault`), so a copy of the
database alone shows no draft; only the running portal, which holds the key, reads it back
for the organisation's representatives. Submitting seals the draft's price, answers and
documents into a new :class:`~portal.procurement.models.BidVersion` and empties the draft,
so from then on nothing in the database, even with that key, says what the bid offers. A
sealed bid cannot be read back, not even by its bidder: replacing it means preparing the
draft afresh and submitting it.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.billing import cancel_bill, release_deposit
from portal.documents.kinds import document_issuer
from portal.i18n import _, pgettext
from portal.identity.pii import PersonalDataVault
from portal.money import Money, MoneyError
from portal.procurement import bid_content, sealing, state
from portal.procurement.bid_billing import bill_bid, charges_of
from portal.procurement.drafting import parse_amount
from portal.procurement.files import Upload
from portal.procurement.models import Bid, BidDraftDocument, BidReceipt, BidVersion, Tender
from portal.procurement.seal_macs import seal_mac
from portal.refusals import CONFLICT, INVALID, FieldError, Refusal

DRAFT = "draft"
SUBMITTED = "submitted"
WITHDRAWN = "withdrawn"
#: never submitted and closed once the tender took no more bids (see portal.procurement.deadline)
LAPSED = "lapsed"
#: a bid's statuses and where each may go; a withdrawn or lapsed bid is final (its deposit
#: went back)
TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({SUBMITTED, WITHDRAWN, LAPSED}),
    SUBMITTED: frozenset({SUBMITTED, WITHDRAWN}),
    WITHDRAWN: frozenset(),
    LAPSED: frozenset(),
}
LABELS = {
    DRAFT: _("Draft, not submitted"),
    SUBMITTED: _("Submitted, sealed"),
    WITHDRAWN: pgettext("bid state", "Withdrawn"),
    LAPSED: _("Not submitted by the deadline"),
}

#: a bid version superseded by a later one
REPLACED = "replaced"
#: the longest answer to one criterion
MAX_ANSWER = 5000
#: the most documents a draft holds
MAX_DOCUMENTS = 20


def bid_of(dbsession, tender: Tender, organisation) -> Bid | None:
    return dbsession.scalar(
        select(Bid).where(Bid.tender_id == tender.id, Bid.organisation_id == organisation.id)
    )


def quality_criteria(tender: Tender):
    return [criterion for criterion in tender.criteria if not criterion.is_price]


def _refuse_unless_open(tender: Tender, now: dt.datetime) -> None:
    if state.accepts_bids(tender, now):
        return
    if tender.status in state.OPEN_FOR_BIDS or tender.status == state.AWAITING_OPENING:
        raise Refusal(
            CONFLICT,
            _("Bids on this tender are no longer accepted: the deadline has passed."),
            about=tender,
        )
    raise Refusal(CONFLICT, _("This tender does not accept bids."), about=tender)


def _move(bid: Bid, to_status: str) -> None:
    if to_status not in TRANSITIONS[bid.status]:
        if bid.status == WITHDRAWN:
            raise Refusal(CONFLICT, _("This bid was withdrawn; it cannot be changed."), about=bid)
        raise Refusal(CONFLICT, _("This bid has not been submitted."), about=bid)
    bid.status = to_status


def start_bid(dbsession, tender: Tender, organisation, *, user, now: dt.datetime, timezone) -> Bid:
    """The organisation's bid on ``tender``, begun now with its fee and deposit billed (the
    existing one if a colleague began it already).

    Under the tender's lock, read afresh: two representatives (or a double click) starting at
    once queue there, and the second finds the first's bid. Should an insert still collide
    on the one bid per organisation and tender, the bid that won is returned."""
    lock_tender(dbsession, tender)
    _refuse_unless_open(tender, now)
    bid = _fresh_bid_of(dbsession, tender, organisation)
    if bid is None:
        try:
            with dbsession.begin_nested():
                bid = Bid(
                    tender=tender,
                    organisation=organisation,
                    status=DRAFT,
                    created_by=user,
                    created_at=now,
                    updated_at=now,
                )
                dbsession.add(bid)
                dbsession.flush()
        except IntegrityError:
            dbsession.expire(tender, ["bids"])
            bid = _fresh_bid_of(dbsession, tender, organisation)
            assert bid is not None
    bill_bid(dbsession, bid, now=now, timezone=timezone)
    return bid


def _fresh_bid_of(dbsession, tender: Tender, organisation) -> Bid | None:
    return dbsession.scalar(
        select(Bid)
        .where(Bid.tender_id == tender.id, Bid.organisation_id == organisation.id)
        .execution_options(populate_existing=True)
    )


def _editable(bid: Bid, now: dt.datetime) -> None:
    _refuse_unless_open(bid.tender, now)
    if bid.status == WITHDRAWN:
        raise Refusal(CONFLICT, _("This bid was withdrawn; it cannot be changed."), about=bid)


def read_price(text: str, currency: str) -> Money:
    """The price as typed in major units ("125000.50"); refused unless a positive amount the
    currency can hold."""
    text = (text or "").strip()
    if not text:
        raise Refusal(
            INVALID,
            _("The draft was not saved. Correct what is marked."),
            errors=[FieldError("price", _("Enter the price."))],
        )
    try:
        price = parse_amount(text, currency)
    except MoneyError:
        example = _(
            "Enter the price as an amount in ${currency}, like 125000.50.",
            mapping={"currency": currency},
        )
        raise Refusal(
            INVALID,
            _("The draft was not saved. Correct what is marked."),
            errors=[FieldError("price", example)],
        ) from None
    if price.minor <= 0:
        raise Refusal(
            INVALID,
            _("The draft was not saved. Correct what is marked."),
            errors=[FieldError("price", _("The price must be more than zero."))],
        )
    return price


def read_answers(tender: Tender, post) -> dict[str, str]:
    """The answer to each quality criterion (by its position), each within the length limit."""
    answers = {}
    errors = []
    for criterion in quality_criteria(tender):
        name = f"answer-{criterion.position}"
        value = post.get(name, "")
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > MAX_ANSWER:
            message = _(
                "Keep this answer under ${limit} characters.", mapping={"limit": MAX_ANSWER}
            )
            errors.append(FieldError(name, message))
        answers[str(criterion.position)] = value
    if errors:
        raise Refusal(INVALID, _("The draft was not saved. Correct what is marked."), errors=errors)
    return answers


def save_draft(
    bid: Bid,
    price: Money | None,
    answers: dict[str, str],
    *,
    now: dt.datetime,
    vault: PersonalDataVault,
) -> None:
    """Keep what the bidder typed in the draft (visible only to the organisation), encrypted."""
    _editable(bid, now)
    draft = {"price": price.minor if price is not None else None, "answers": answers}
    bid.draft_sealed = vault.encrypt_bytes(
        json.dumps(draft, sort_keys=True, ensure_ascii=False).encode()
    )
    bid.updated_at = now


def draft_of(bid: Bid, vault: PersonalDataVault) -> tuple[Money | None, dict[str, str]]:
    """The draft's price (in the tender's currency; None until typed) and answers."""
    if bid.draft_sealed is None:
        return None, {}
    draft = json.loads(vault.decrypt_bytes(bid.draft_sealed))
    price = draft["price"]
    return (Money(price, bid.tender.currency) if price is not None else None), draft["answers"]


def document_name(document: BidDraftDocument, vault: PersonalDataVault) -> str:
    return vault.decrypt_bytes(document.filename_sealed).decode()


def add_document(
    dbsession, bid: Bid, upload: Upload, *, now: dt.datetime, vault: PersonalDataVault
) -> BidDraftDocument:
    """Attach a checked upload to the draft; its name and bytes are kept encrypted with the
    draft alone."""
    _editable(bid, now)
    if len(bid.draft_documents) >= MAX_DOCUMENTS:
        raise Refusal(
            CONFLICT,
            _("A bid holds at most ${count} documents.", mapping={"count": MAX_DOCUMENTS}),
            errors=[
                FieldError(
                    "document",
                    _("A bid holds at most ${count} documents.", mapping={"count": MAX_DOCUMENTS}),
                )
            ],
        )
    document = BidDraftDocument(
        bid=bid,
        filename_sealed=vault.encrypt_bytes(upload.filename.encode()),
        media_type=upload.media_type,
        content=vault.encrypt_bytes(upload.content),
        added_at=now,
    )
    dbsession.add(document)
    bid.updated_at = now
    dbsession.flush()
    return document


def remove_document(dbsession, bid: Bid, public_id: str, *, now: dt.datetime) -> None:
    _editable(bid, now)
    found = [document for document in bid.draft_documents if document.public_id == public_id]
    if not found:
        raise Refusal(CONFLICT, _("This document is not in the draft."), about=bid)
    bid.draft_documents.remove(found[0])
    bid.updated_at = now
    dbsession.flush()


def lock_tender(dbsession, tender: Tender) -> None:
    """Hold ``tender``'s row until the transaction ends and read it afresh (its status and
    deadline as committed): changes to its bids queue here one after another."""
    dbsession.flush()
    dbsession.refresh(tender, with_for_update=True)


def submission_problems(dbsession, bid: Bid, vault: PersonalDataVault) -> list[FieldError]:
    """What stops ``bid``'s draft from being submitted; empty when it can be."""
    problems = []
    price, answers = draft_of(bid, vault)
    if price is None:
        problems.append(FieldError("price", _("Enter the price and save the draft.")))
    for criterion in quality_criteria(bid.tender):
        if not answers.get(str(criterion.position)):
            problems.append(
                FieldError(
                    f"answer-{criterion.position}",
                    _("Answer “${name}” and save the draft.", mapping={"name": criterion.name}),
                )
            )
    if not charges_of(dbsession, bid).settled:
        problems.append(FieldError("payment", _("Pay the bid fee and the bid security first.")))
    return problems


def submit_bid(dbsession, registry, bid: Bid, *, user, clock, locale: str) -> BidVersion:
    """Seal the draft into the bid's next version, mark the one it replaces, empty the draft and
    issue the submission receipt. Refused, changing nothing, at or after the deadline (by
    ``clock``, read under the tender's lock), before the fee and deposit are paid, or without
    a price."""
    tender = bid.tender
    lock_tender(dbsession, tender)
    dbsession.refresh(bid)
    exact = clock.now()
    _refuse_unless_open(tender, exact)
    if bid.status == WITHDRAWN:
        raise Refusal(CONFLICT, _("This bid was withdrawn; it cannot be changed."), about=bid)
    vault = registry["pii_vault"]
    problems = submission_problems(dbsession, bid, vault)
    if problems:
        raise Refusal(CONFLICT, _("The bid cannot be submitted yet."), errors=problems, about=bid)
    # The receipt states the time to the second, and that is the time recorded: accepted
    # strictly before the deadline, its whole second is too.
    now = exact.replace(microsecond=0)
    price, answers = draft_of(bid, vault)
    assert price is not None and tender.public_key is not None
    content = bid_content.BidContent(
        price=price,
        answers=answers,
        documents=tuple(
            bid_content.BidDocument(
                document_name(document, vault),
                document.media_type,
                vault.decrypt_bytes(document.content),
            )
            for document in bid.draft_documents
        ),
    )
    number = max((version.number for version in bid.versions), default=0) + 1
    sealed = sealing.seal_bid(
        tender.public_key, tender.reference, bid.public_id, number, bid_content.encode(content)
    )
    for earlier in bid.versions:
        if earlier.status == SUBMITTED:
            earlier.status = REPLACED
    version = BidVersion(
        bid=bid,
        number=number,
        status=SUBMITTED,
        sealed=sealed.blob,
        sha256=sealed.sha256,
        seal_mac=seal_mac(
            registry["pii_vault"], tender.reference, bid.public_id, number, sealed.sha256
        ),
        submitted_at=now,
        submitted_by_id=user.id,
        tender_version=tender.version,
    )
    dbsession.add(version)
    _move(bid, SUBMITTED)
    bid.needs_confirmation = False
    empty_draft(bid)
    bid.updated_at = now
    dbsession.flush()
    document_issuer(registry).issue(
        dbsession,
        BidReceipt(bid_version=version, owner_user_id=user.id, locale=locale),
        now,
    )
    return version


def empty_draft(bid: Bid) -> None:
    """Forget what the draft held (its sealed price and answers, its documents): once
    submitted, withdrawn or lapsed, nothing in the database says what it offered."""
    bid.draft_sealed = None
    bid.draft_documents.clear()


def current_version(bid: Bid) -> BidVersion | None:
    found = [version for version in bid.versions if version.status == SUBMITTED]
    return found[-1] if found else None


def withdraw_bid(dbsession, bid: Bid, *, clock) -> None:
    """Withdraw a bid before the deadline: its current version is marked withdrawn, its
    deposit given back (through the provider) and what is still unpaid cancelled. A paid fee
    stays paid: it is the department's revenue."""
    tender = bid.tender
    lock_tender(dbsession, tender)
    dbsession.refresh(bid)
    now = clock.now()
    _refuse_unless_open(tender, now)
    version = current_version(bid)
    _move(bid, WITHDRAWN)
    if version is not None:
        version.status = WITHDRAWN
    bid.withdrawn_at = now
    bid.updated_at = now
    bid.needs_confirmation = False
    empty_draft(bid)
    dbsession.flush()
    reason = f"Bid on tender {tender.reference} withdrawn before the deadline"
    charges = charges_of(dbsession, bid)
    for view in charges.bills:
        if view.payable:
            cancel_bill(dbsession, view.bill, reason, now)
    if bid.deposit is not None and charges.deposit is not None and charges.deposit.settled:
        release_deposit(dbsession, bid.deposit, reason, now)


def confirm_bid(dbsession, bid: Bid, *, clock) -> BidVersion:
    """The bidder stands by their submitted bid after the tender was amended."""
    tender = bid.tender
    lock_tender(dbsession, tender)
    dbsession.refresh(bid)
    now = clock.now()
    _refuse_unless_open(tender, now)
    version = current_version(bid)
    if bid.status != SUBMITTED or version is None:
        raise Refusal(CONFLICT, _("This bid has not been submitted."), about=bid)
    version.confirmed_at = now.replace(microsecond=0)
    version.tender_version = tender.version
    bid.needs_confirmation = False
    bid.updated_at = now
    dbsession.flush()
    return version
