"""A tender's OCDS 1.1 releases, built from what the portal recorded, never from what it is
now: each release says what was known at its date, so it reads the same on every request.

One release per published tender version (tag ``tender``, then ``tenderAmendment``), one at
the opening (``tenderUpdate``: who bid), one when the tender ends (``tenderUpdate`` when
complete or unsuccessful, ``tenderCancellation``), per award one when it is made (``award``,
status pending during the standstill), one when its standstill ends (``awardUpdate``,
active) and one when it is cancelled (``awardCancellation``), and one for the contract.
Release ids are the ocid and the recorded row they come from, so they never change.

Nothing of a bid appears before the opening: who bid is published from the opening on, and
no bid's price at all (the award's value is the awarded price). No person is ever named:
the buyer is its department, bidders and suppliers are organisations, by their registration
numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from portal.money import Money
from portal.procurement import state
from portal.procurement.models import (
    AWARD_CANCELLED,
    BEST_VALUE,
    Award,
    Tender,
    TenderVersion,
)
from portal.procurement.ocds.snapshots import published_snapshot

SUBMITTED = "submitted"
AWARD_CRITERIA = {BEST_VALUE: "ratedCriteria"}
#: how OCDS calls the statuses a tender ends in, and the tag of the release saying so
ENDINGS = {
    state.COMPLETE: ("complete", "tenderUpdate"),
    state.UNSUCCESSFUL: ("unsuccessful", "tenderUpdate"),
    state.CANCELLED: ("cancelled", "tenderCancellation"),
}


@dataclass(frozen=True)
class Publication:
    """What a package needs besides the tender: the registered ocid prefix, the scheme of
    organisations' registration numbers, the portal's timezone (for dates without a time),
    and the URL of a route (None when that part of the portal is not installed)."""

    ocid_prefix: str
    identifier_scheme: str
    timezone: dt.tzinfo
    url: Callable[..., str | None]


def stamp(moment: dt.datetime) -> str:
    """Every release date in one form (UTC, whole seconds), so that ocdsmerge, which orders
    releases by comparing these strings, orders them by time."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def amount(money: Money) -> float:
    """OCDS wants the amount as a JSON number in the currency's unit. Below 2**53 minor units
    the float's shortest form is the decimal amount itself."""
    return float(money.decimal())


def value(minor: int, currency: str) -> dict:
    return {"amount": amount(Money(minor, currency)), "currency": currency}


def ocid(prefix: str, tender: Tender) -> str:
    return f"{prefix}-{tender.reference}"


def main_category(cpv_code: str) -> str:
    """The CPV's divisions: 45 is works, 50 and above services, the rest goods."""
    division = int(cpv_code[:2])
    if division == 45:
        return "works"
    return "services" if division >= 50 else "goods"


def _quantity(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


class TenderReleases:
    """Builds one tender's releases; :meth:`all` gives them oldest first."""

    def __init__(self, tender: Tender, publication: Publication):
        self.tender = tender
        self.publication = publication
        self.ocid = ocid(publication.ocid_prefix, tender)
        self.scheme = publication.identifier_scheme
        department = tender.department
        self.buyer = {"id": f"department-{department.code}", "name": department.name}
        self.tenderers = [bid.organisation for bid in tender.bids if bid.status == SUBMITTED]
        self.published_at = tender.versions[0].at

    def release_id(self, suffix: str) -> str:
        return f"{self.ocid}-{suffix}"

    # -- parties: everyone a release names, with every role they hold by its date ----------

    def organisation_id(self, organisation) -> str:
        return f"{self.scheme}-{organisation.registration_number}"

    def organisation_reference(self, organisation) -> dict:
        return {"id": self.organisation_id(organisation), "name": organisation.name}

    def parties(self, moment: dt.datetime) -> list[dict]:
        parties: list[dict] = [{**self.buyer, "roles": ["buyer", "procuringEntity"]}]
        opened = self.tender.opened_at is not None and self.tender.opened_at <= moment
        suppliers = {
            award.bid.organisation_id for award in self.tender.awards if award.decided_at <= moment
        }
        organisations = {o.id: o for o in self.tenderers} if opened else {}
        for award in self.tender.awards:
            if award.decided_at <= moment:
                organisations.setdefault(award.bid.organisation_id, award.bid.organisation)
        for organisation in sorted(organisations.values(), key=lambda o: o.registration_number):
            roles = (["tenderer"] if opened else []) + (
                ["supplier"] if organisation.id in suppliers else []
            )
            parties.append(
                {
                    **self.organisation_reference(organisation),
                    "identifier": {
                        "scheme": self.scheme,
                        "id": organisation.registration_number,
                        "legalName": organisation.name,
                    },
                    "roles": roles,
                }
            )
        return parties

    def release(self, suffix: str, moment: dt.datetime, tag: str, **sections) -> dict:
        return {
            "ocid": self.ocid,
            "id": self.release_id(suffix),
            "date": stamp(moment),
            "tag": [tag],
            "initiationType": "tender",
            "parties": self.parties(moment),
            "buyer": self.buyer,
            **sections,
        }

    # -- the tender section ----------------------------------------------------------------

    def snapshot(self, version: TenderVersion) -> dict:
        return json.loads(version.snapshot_json or published_snapshot(self.tender))

    def documents(self, number: int, opened: bool) -> list[dict]:
        url = self.publication.url
        found = []
        for document in self.tender.documents:
            if document.added_in_version > number or (
                document.removed_in_version is not None and document.removed_in_version <= number
            ):
                continue
            entry = {
                "id": document.public_id,
                "documentType": "biddingDocuments",
                "title": document.title,
                "datePublished": stamp(max(document.added_at, self.published_at)),
                "format": document.file.media_type,
            }
            link = url(
                "tender_document", reference=self.tender.reference, document=document.public_id
            )
            if link is not None:
                entry["url"] = link
            found.append(entry)
        if opened and self.tender.opened_at is not None:
            protocol = {
                "id": "opening-protocol",
                "documentType": "evaluationReports",
                "title": "Opening protocol",
                "datePublished": stamp(self.tender.opened_at),
                "format": "application/pdf",
            }
            link = url("tender_protocol", reference=self.tender.reference)
            if link is not None:
                protocol["url"] = link
            found.append(protocol)
        return found

    def amendments(self, number: int) -> list[dict]:
        return [
            {
                "id": str(version.number),
                "date": stamp(version.at),
                "rationale": version.reason,
                "description": "; ".join(
                    f"{change['field']}: {change['before']} → {change['after']}"
                    for change in json.loads(version.changes_json)
                ),
                "amendsReleaseID": self.release_id(f"tender-{version.number - 1}"),
                "releaseID": self.release_id(f"tender-{version.number}"),
            }
            for version in self.tender.versions
            if 1 < version.number <= number
        ]

    def tender_section(self, version: TenderVersion, *, opened: bool) -> dict:
        tender = self.tender
        snapshot = self.snapshot(version)
        section: dict = {
            "id": tender.reference,
            "title": snapshot["title"],
            "status": "active",
            "procuringEntity": self.buyer,
            "items": [
                {
                    "id": str(item["position"]),
                    "description": item["description"],
                    "classification": {"scheme": "CPV", "id": item["cpv_code"]},
                    "quantity": _quantity(item["quantity"]),
                    "unit": {"name": item["unit"]},
                }
                for item in snapshot["items"]
            ],
            "value": value(snapshot["estimated_value_minor"], snapshot["currency"]),
            "procurementMethod": "open",
            "procurementMethodDetails": (
                "Open procedure with an electronic auction"
                if tender.auction_enabled
                else "Open procedure"
            ),
            "awardCriteria": AWARD_CRITERIA.get(tender.award_criterion, "priceOnly"),
            "submissionMethod": ["electronicSubmission"]
            + (["electronicAuction"] if tender.auction_enabled else []),
            "documents": self.documents(version.number, opened),
        }
        if snapshot["description"]:
            section["description"] = snapshot["description"]
        if snapshot["items"]:
            section["mainProcurementCategory"] = main_category(snapshot["items"][0]["cpv_code"])
        for name, start, end in (
            ("tenderPeriod", self.published_at, snapshot["bids_until"]),
            ("enquiryPeriod", self.published_at, snapshot["questions_until"]),
        ):
            period = {"startDate": stamp(start)}
            if end is not None:
                period["endDate"] = stamp(dt.datetime.fromisoformat(end))
            section[name] = period
        amendments = self.amendments(version.number)
        if amendments:
            section["amendments"] = amendments
        if opened:
            section["numberOfTenderers"] = len(self.tenderers)
            section["tenderers"] = [self.organisation_reference(o) for o in self.tenderers]
        return section

    def tender_releases(self) -> list[tuple[dt.datetime, dict]]:
        found = []
        for version in self.tender.versions:
            tag = "tender" if version.number == 1 else "tenderAmendment"
            section = self.tender_section(version, opened=False)
            found.append(
                (
                    version.at,
                    self.release(f"tender-{version.number}", version.at, tag, tender=section),
                )
            )
        if self.tender.opened_at is not None:
            section = self.tender_section(self.tender.versions[-1], opened=True)
            moment = self.tender.opened_at
            found.append((moment, self.release("opening", moment, "tenderUpdate", tender=section)))
        for transition in self.tender.transitions:
            if transition.to_status in ENDINGS:
                status, tag = ENDINGS[transition.to_status]
                section = {"id": self.tender.reference, "status": status}
                found.append(
                    (
                        transition.at,
                        self.release(f"status-{transition.id}", transition.at, tag, tender=section),
                    )
                )
        return found

    # -- awards and the contract -----------------------------------------------------------

    def award_releases(self, award: Award) -> list[tuple[dt.datetime, dict]]:
        suffix = f"award-{award.public_id}"
        made = {
            "id": award.public_id,
            "status": "pending",
            "date": stamp(award.decided_at),
            "value": value(award.value_minor, award.currency),
            "suppliers": [self.organisation_reference(award.bid.organisation)],
            "description": award.reasons,
        }
        found = [(award.decided_at, self.release(suffix, award.decided_at, "award", awards=[made]))]
        for transition in self.tender.transitions:
            in_force = award.cancelled_at is None or transition.at <= award.cancelled_at
            if (
                transition.to_status == state.CONTRACTING
                and transition.at >= award.decided_at
                and in_force
            ):
                update = {"id": award.public_id, "status": "active"}
                found.append(
                    (
                        transition.at,
                        self.release(
                            f"{suffix}-active", transition.at, "awardUpdate", awards=[update]
                        ),
                    )
                )
                break
        if award.status == AWARD_CANCELLED and award.cancelled_at is not None:
            cancelled = {"id": award.public_id, "status": "cancelled"}
            moment = award.cancelled_at
            found.append(
                (
                    moment,
                    self.release(
                        f"{suffix}-cancelled", moment, "awardCancellation", awards=[cancelled]
                    ),
                )
            )
        return found

    def contract_release(self) -> list[tuple[dt.datetime, dict]]:
        contract = self.tender.contract
        if contract is None:
            return []
        signed = dt.datetime.combine(contract.signed_on, dt.time(), self.publication.timezone)
        document = {
            "id": f"contract-{contract.public_id}",
            "documentType": "contractSigned",
            "title": contract.filename,
            "datePublished": stamp(contract.recorded_at),
            "format": contract.file.media_type,
        }
        link = self.publication.url("tender_contract_document", reference=self.tender.reference)
        if link is not None:
            document["url"] = link
        section = {
            "id": contract.public_id,
            "awardID": contract.award.public_id,
            "status": "active",
            "value": value(contract.value_minor, contract.currency),
            "dateSigned": signed.isoformat(),
            "documents": [document],
        }
        moment = contract.recorded_at
        return [
            (
                moment,
                self.release(
                    f"contract-{contract.public_id}", moment, "contract", contracts=[section]
                ),
            )
        ]

    def all(self) -> list[dict]:
        found = self.tender_releases()
        for award in self.tender.awards:
            found += self.award_releases(award)
        found += self.contract_release()
        found.sort(key=lambda pair: pair[0])
        return [release for _moment, release in found]


def tender_releases(tender: Tender, publication: Publication) -> list[dict]:
    """The releases of a published tender, oldest first (none for a draft)."""
    if tender.status not in state.PUBLISHED or not tender.versions:
        return []
    return TenderReleases(tender, publication).all()
