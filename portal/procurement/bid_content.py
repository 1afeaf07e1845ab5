"""What a sealed bid contains, as bytes: the one format that sealing writes and opening reads.

JSON (UTF-8, keys sorted) with the price in minor units, the answer to each quality criterion
(keyed by the criterion's position) and the documents with their bytes in base64. Everything
the bidder offers is inside the sealed blob; nothing of it is stored in clear beside it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from portal.money import Money

FORMAT = 1


@dataclass(frozen=True)
class BidDocument:
    filename: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class BidContent:
    price: Money
    #: criterion position (as a string) -> the bidder's answer
    answers: dict[str, str]
    documents: tuple[BidDocument, ...] = ()


def encode(content: BidContent) -> bytes:
    return json.dumps(
        {
            "format": FORMAT,
            "price_minor": content.price.minor,
            "currency": content.price.currency,
            "answers": content.answers,
            "documents": [
                {
                    "filename": document.filename,
                    "media_type": document.media_type,
                    "sha256": document.sha256,
                    "content": base64.b64encode(document.content).decode("ascii"),
                }
                for document in content.documents
            ],
        },
        sort_keys=True,
        ensure_ascii=False,
    ).encode("utf-8")


class UnreadableContent(ValueError):
    """Opened bytes that are not a bid of this format (the bid is flagged, never guessed at)."""


def decode(raw: bytes) -> BidContent:
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UnreadableContent("not a bid of a known format")
        documents = []
        for item in data["documents"]:
            document = BidDocument(
                str(item["filename"]), str(item["media_type"]), base64.b64decode(item["content"])
            )
            if document.sha256 != item["sha256"]:
                raise UnreadableContent(f"document {document.filename!r} does not match its hash")
            documents.append(document)
        return BidContent(
            price=Money(int(data["price_minor"]), str(data["currency"])),
            answers={str(k): str(v) for k, v in data["answers"].items()},
            documents=tuple(documents),
        )
    except UnreadableContent:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UnreadableContent(str(error)) from None
