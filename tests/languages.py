"""Reading the portal in a language, for the tests that check its catalogues and that no
English is left on a page in another language: the catalogues there are, the English source
messages a reader must not meet, what a reader sees of a page, and the seam that sets the
pages' language.

The seam: :func:`pages_follow_accept_language` has the app read pages in the language
Accept-Language asks for, whatever a persona's account or a picker's cookie says (the
portal's own negotiation puts those first); the tests send Accept-Language.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lxml.html
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from pyramid.interfaces import ILocaleNegotiator

from portal.localized import LANGUAGES, SOURCE_LANGUAGE

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "portal" / "locale"
#: the translator's comment on a message whose translation is rightly the English text (a
#: format name, a code): the reader meets it in every language
SAME = "intentionally the same"
#: messages shorter than this (after their placeholders are taken out) are too short to tell
#: English from data (``OK``, ``PDF``)
MIN_LENGTH = 4


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / "portal.po"


def catalogue_codes() -> list[str]:
    """The languages with a catalogue under portal/locale."""
    return sorted(path.parent.parent.name for path in LOCALE_DIR.glob("*/LC_MESSAGES/portal.po"))


@cache
def catalogue(code: str, path: Path | None = None) -> Catalog:
    with open(path or catalogue_path(code), "rb") as po:
        return read_po(po, locale=code)


def tag(code: str) -> str:
    """The BCP 47 tag of a locale name (``zh_Hans`` is ``zh-Hans``)."""
    return code.replace("_", "-")


def _accept_language(request):
    """The page language a request's Accept-Language asks for, among the portal's."""
    tags = {tag(code).lower(): code for code in LANGUAGES}
    found = request.accept_language.lookup(list(tags), default="")
    return tags.get(found.lower(), SOURCE_LANGUAGE) if found else SOURCE_LANGUAGE


@contextmanager
def pages_follow_accept_language(registry):
    """The seam: pages in the language of Accept-Language while the block runs."""
    before = registry.queryUtility(ILocaleNegotiator)
    registry.registerUtility(_accept_language, ILocaleNegotiator)
    try:
        yield
    finally:
        registry.registerUtility(before, ILocaleNegotiator)


_PLACEHOLDER = re.compile(r"\$\{[^}]*\}|%\([^)]*\)[sdif]|%[sdif]|\{[a-z_]*\}")
_EDGES = " \t\n:;,.!?()[]«»“”‘’\"'–—-·/…*"


def _fragments(text: str) -> list[str]:
    """The literal parts of a message, between its placeholders, trimmed of punctuation."""
    return [part.strip(_EDGES) for part in _PLACEHOLDER.split(text) if part.strip(_EDGES)]


@dataclass(frozen=True)
class EnglishMessages:
    """What a reader of a language must not meet: the catalogue's English source messages
    (those marked :data:`SAME` aside), as phrases met inside a text and as short messages
    (a single word) met only as a whole text, a button or a table heading."""

    phrases: frozenset[str]
    words: frozenset[str]

    def found_in(self, texts: list[str]) -> set[str]:
        """The messages ``texts`` (what a reader sees, piece by piece) hold."""
        whole = {text.strip(_EDGES) for text in texts}
        found = set(self.words & whole)
        joined = "\n".join(texts)
        for phrase in self.phrases:
            if phrase in joined and re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", joined):
                found.add(phrase)
        return found


def english_messages(code: str, path: Path | None = None) -> EnglishMessages:
    """The English messages a page in ``code`` must not show (its catalogue: the real one,
    or the one at ``path``). A message the language itself writes the same way as one of
    its translations is not English there (French *Question*, or *Payer*, the French for
    "Pay", which is not the English "Payer")."""
    phrases, words, translations = set(), set(), []
    for message in catalogue(code, path):
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
        translations.extend(form for form in forms if form)
        if any(SAME in comment for comment in message.user_comments):
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        for msgid in ids:
            parts = _fragments(msgid)
            whole = len(parts) == 1 and parts[0] == msgid.strip(_EDGES)
            for part in parts:
                if len(part) < MIN_LENGTH:
                    continue
                if " " in part:
                    phrases.add(part)
                elif whole:
                    words.add(part)
    written = "\n".join(translations)
    words -= {part for text in translations for part in _fragments(text)}
    phrases = {
        phrase
        for phrase in phrases
        if phrase not in written or not re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", written)
    }
    return EnglishMessages(frozenset(phrases), frozenset(words))


#: attributes a reader sees or hears: a stacked table's cell labels, names of controls
_SEEN_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder", "data-label")
_BUTTONS = ("submit", "button", "reset")


def visible_texts(html: str, page_language: str) -> list[str]:
    """The texts a reader of a page sees or hears, one piece per text node or attribute:
    not scripts or styles, nor what is marked as written in another language (``lang``; the
    page's own ``<html lang>`` aside, which the seam does not set)."""
    root = lxml.html.document_fromstring(html)
    own = tag(page_language).lower()

    def shown(element) -> bool:
        """Whether ``element``'s own text is for a reader of the page's language."""
        for node in (element, *element.iterancestors()):
            if node is root:
                return True
            if not isinstance(node.tag, str) or node.tag in ("script", "style", "template"):
                return False
            if node.get("lang") is not None:
                return node.get("lang").lower() == own
        return True

    texts = []
    for element in root.iter():
        if isinstance(element.tag, str) and shown(element):
            if element.text and element.text.strip():
                texts.append(" ".join(element.text.split()))
            for name in _SEEN_ATTRIBUTES:
                if element.get(name):
                    texts.append(" ".join(element.get(name).split()))
            if element.tag == "input" and element.get("type") in _BUTTONS and element.get("value"):
                texts.append(element.get("value"))
        parent = element.getparent()
        if element.tail and element.tail.strip() and parent is not None and shown(parent):
            texts.append(" ".join(element.tail.split()))
    return texts


def without(texts: list[str], data: list[str]) -> list[str]:
    """``texts`` with the data in them (names, titles written by people) taken out: a
    tender's English title is what its buyer wrote, not English left by the portal."""
    if not data:
        return texts
    pattern = re.compile("|".join(re.escape(item) for item in sorted(data, key=len, reverse=True)))
    return [pattern.sub("\u241f", text) for text in texts]
