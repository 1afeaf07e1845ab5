"""Every refusal's message is a catalogue string the extractor can see: a literal ``_()`` call
with its variable parts as ``mapping=`` parameters, never text built at run time (an f-string,
a concatenation, a variable), which no catalogue could hold and no translator could see."""

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from portal.i18n import _, document_localizer
from portal.refusals import KINDS, Refusal
from portal.web import STATUS, TITLES

PORTAL = Path(__file__).resolve().parents[2] / "portal"
CATALOGUES = sorted((PORTAL / "locale").glob("*/LC_MESSAGES/portal.po"))


def _is_refusal(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name == "Refusal"


def _is_catalogue_literal(node: ast.expr) -> bool:
    """``_("...")`` with a literal first argument (adjacent literals are one constant)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _message_of(call: ast.Call) -> ast.expr | None:
    if len(call.args) >= 2:
        return call.args[1]
    return next((kw.value for kw in call.keywords if kw.arg == "message"), None)


def built_messages(source: str, filename: str = "<source>") -> list[str]:
    """Where a ``Refusal(...)`` in ``source`` takes a message that is not a literal ``_()``
    call. Passing on the message of a refusal caught (``refused.message``) is allowed: it
    was a literal where that refusal was raised."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and _is_refusal(node)):
            continue
        message = _message_of(node)
        forwarded = isinstance(message, ast.Attribute) and message.attr == "message"
        if message is None or not (_is_catalogue_literal(message) or forwarded):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_every_refusal_message_in_the_portal_is_a_literal_catalogue_string():
    found = []
    for path in sorted(PORTAL.rglob("*.py")):
        found += built_messages(path.read_text(), str(path.relative_to(PORTAL.parent)))
    assert found == []


def refusal_msgids() -> set[str]:
    found = set()
    for path in PORTAL.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _is_refusal(node):
                message = _message_of(node)
                if _is_catalogue_literal(message):
                    found.add(message.args[0].value)
    return found


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda path: path.parts[-3])
def test_every_refusal_message_is_in_the_catalogue(catalogue):
    """Run ``make catalogue`` after adding a refusal, and translate it there."""
    with catalogue.open("rb") as po:
        msgids = {message.id for message in read_po(po) if message.id}
    assert sorted(refusal_msgids() - msgids) == []


def test_a_refusal_reads_in_slovenian():
    message = _("Bill ${number} has nothing left to pay.", mapping={"number": "2026-7"})
    translated = document_localizer("sl").translate(message)
    assert translated == "Na računu 2026-7 ni več ničesar za plačati."


def test_the_portal_refuses_through_refusal():
    """The check above has something to check: refusals are raised across the packages."""
    raising = {
        path.relative_to(PORTAL).parts[0]
        for path in PORTAL.rglob("*.py")
        if "Refusal(" in path.read_text()
    }
    assert {"api", "applications", "billing", "identity", "services"} <= raising


@pytest.mark.parametrize(
    "source",
    [
        'Refusal(INVALID, f"At most {count} bills")',
        'Refusal(INVALID, "Bill " + number + " is paid")',
        'Refusal(INVALID, _("Bill ") + number)',
        "Refusal(INVALID, message)",
        'Refusal(INVALID, _(f"At most {count} bills"))',
        'Refusal(INVALID, _("At most %d bills" % count))',
        'refusals.Refusal(INVALID, "plain text")',
        "Refusal(INVALID)",
        'Refusal(kind=INVALID, message="plain text")',
    ],
)
def test_a_message_built_at_run_time_is_found(source):
    assert built_messages(source) != []


@pytest.mark.parametrize(
    "source",
    [
        'Refusal(INVALID, _("At most ${count} bills.", mapping={"count": count}))',
        'Refusal(INVALID, _("A long message " "in two literals."), title=_("Title"))',
        "Refusal(refused.kind, refused.message, title=CANNOT)",
    ],
)
def test_a_catalogue_message_passes(source):
    assert built_messages(source) == []


def test_every_kind_of_refusal_has_a_status_and_a_heading():
    assert set(STATUS) == KINDS == set(TITLES)
    with pytest.raises(ValueError):
        Refusal("teapot", _("I am a teapot."))
