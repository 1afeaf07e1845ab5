"""The one way the portal refuses a request: raise :class:`Refusal`.

A refusal says what kind of refusal it is (not an HTTP status: the web layer maps kinds to
statuses once, in ``portal.web``) and why, as a catalogue message whose variable parts are
``mapping=`` parameters, so every message can be translated. Raising one aborts the request's
transaction: a refused request changes nothing. Domain code raises it; a view catches it only
to do something better than the error page (show a form again with the errors by its fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyramid.i18n import TranslationString

#: the request cannot be read as sent (malformed JSON, a form that is not UTF-8)
MALFORMED = "malformed"
#: the request is readable but its values are wrong
INVALID = "invalid"
#: what the request is about does not exist (or is not this person's to know of)
NOT_FOUND = "not_found"
#: the address does not take this method
NOT_ALLOWED = "not_allowed"
#: what the request wants clashes with the state things are in
CONFLICT = "conflict"
#: this person may not do this
FORBIDDEN = "forbidden"
#: what the request is about existed but is no longer to be had
GONE = "gone"
#: the request's body is larger than the portal takes
TOO_LARGE = "too_large"
#: the body is of a media type or character set the portal does not read
UNSUPPORTED = "unsupported"
#: the request needs credentials it did not send, or sent ones that are not valid
UNAUTHENTICATED = "unauthenticated"
#: too many requests of this kind in a short time
TOO_MANY = "too_many"
#: something the request needs is not there yet (a service not set up, a provider down)
UNAVAILABLE = "unavailable"

KINDS = frozenset(
    {
        MALFORMED,
        INVALID,
        NOT_FOUND,
        NOT_ALLOWED,
        CONFLICT,
        FORBIDDEN,
        GONE,
        TOO_LARGE,
        UNSUPPORTED,
        TOO_MANY,
        UNAUTHENTICATED,
        UNAVAILABLE,
    }
)


@dataclass(frozen=True)
class FieldError:
    """Why one field is refused: ``field`` is a form field's name, a JSON pointer or a file's
    column; ``line`` the file's line where there is one (1 is the header, 0 the whole file)."""

    field: str
    message: TranslationString
    line: int | None = None


class Refusal(Exception):
    """A request that cannot go ahead, and why.

    ``message`` is a catalogue string (``_("...", mapping=...)``), never text built at run
    time. ``title`` overrides the page's heading; ``errors`` lists per-field reasons;
    ``way_on`` is a (URL, label) pair for the one thing the person can do next; ``about`` is
    the object refused (the payment in progress), for a view that offers a way on to it;
    ``headers`` go on the response (``Allow``, ``Retry-After``).
    """

    def __init__(
        self,
        kind: str,
        message: TranslationString,
        *,
        title: TranslationString | None = None,
        errors: Sequence[FieldError] = (),
        field: str | None = None,
        way_on: tuple[str, str] | None = None,
        about: object = None,
        headers: Mapping[str, str] | None = None,
    ):
        if kind not in KINDS:
            raise ValueError(f"unknown kind of refusal: {kind}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.title = title
        # a refusal of one form field: its message is shown by the field too
        self.errors = ((FieldError(field, message),) if field else ()) + tuple(errors)
        self.way_on = way_on
        self.about = about
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.kind}: {self.message.interpolate()}"
