"""What a tender version published, kept as it was: OCDS releases are immutable, so the
release of version 1 must still say what version 1 said after an amendment changed the
tender. The amendment's own record ({field, before, after}) is written for people, not for
rebuilding the tender from it."""

from __future__ import annotations

import json

from portal.procurement.models import Tender


def _instant(value) -> str | None:
    return None if value is None else value.isoformat()


def published_snapshot(tender: Tender) -> str:
    """The tender's published fields as they are now, as JSON for its new version."""
    return json.dumps(
        {
            "title": tender.title,
            "description": tender.description,
            "currency": tender.currency,
            "estimated_value_minor": tender.estimated_value_minor,
            "items": [
                {
                    "position": item.position,
                    "description": item.description,
                    "cpv_code": item.cpv_code,
                    "quantity": str(item.quantity),
                    "unit": item.unit,
                }
                for item in tender.items
            ],
            "questions_until": _instant(tender.questions_until),
            "bids_until": _instant(tender.bids_until),
            "opening_at": _instant(tender.opening_at),
        },
        ensure_ascii=False,
    )
