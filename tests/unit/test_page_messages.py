"""The pages' gettext keeps what it looked up, per language: a page in one language never
shows a message kept for another, and a message in a context is not the one without."""

from types import SimpleNamespace

import jinja2
import pytest

from portal.i18n import document_localizer
from portal.templating import PageMessages, install_contextual_gettext


@pytest.fixture
def rendering(monkeypatch):
    """Which language the page being rendered is in (the request's localizer)."""
    current = {}
    monkeypatch.setattr(PageMessages, "_localizer", staticmethod(lambda: current["localizer"]))

    def in_language(code: str) -> None:
        current["localizer"] = document_localizer(code)

    return in_language


def test_each_language_reads_its_own_translation(rendering):
    messages = PageMessages()
    seen = {}
    for code in ("fr", "en", "sl", "fr", "en", "sl"):
        rendering(code)
        seen.setdefault(code, set()).add(messages.gettext("Your bills"))
    assert seen == {"fr": {"Vos factures"}, "en": {"Your bills"}, "sl": {"Vaši računi"}}


def test_a_context_is_kept_apart_from_the_plain_message(rendering):
    messages = PageMessages()
    rendering("fr")
    assert messages.pgettext("bills filter", "Paid") == "Payées"
    assert messages.pgettext("payment state", "Paid") == "Payé"
    assert messages.pgettext("bill state", "Paid") == "Payée"
    assert messages.pgettext("bills filter", "Paid") == "Payées"


def test_plurals_follow_their_number(rendering):
    messages = PageMessages()
    rendering("pl")
    singular = "%(num)s more member must unlock their share to open the bids."
    plural = "%(num)s more members must unlock their shares to open the bids."
    forms = {messages.ngettext(singular, plural, n) for n in (1, 2, 5)}
    assert len(forms) == 3  # Polish: one, few, many


def test_at_most_kept_messages_a_language(rendering, monkeypatch):
    monkeypatch.setattr(PageMessages, "KEPT", 2)
    messages = PageMessages()
    rendering("fr")
    for message in ("Your bills", "Pay", "Filter", "Service"):
        messages.gettext(message)
    assert len(messages._kept[document_localizer("fr")]) == 2
    assert messages.gettext("Filter") == document_localizer("fr").translate("Filter", "portal")


@pytest.fixture
def page(rendering):
    """A template rendered as the pages are: autoescaped, with the i18n extension and the
    globals :func:`install_contextual_gettext` gives the pages' environment."""
    environment = jinja2.Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    install_contextual_gettext(SimpleNamespace(get_jinja2_environment=lambda: environment))

    def render(code: str, source: str, **context) -> str:
        rendering(code)
        return environment.from_string(source).render(**context)

    return render


def test_a_page_prints_each_language_its_own_kept_message(page):
    source = '{{ _("Your bills") }}|{{ pgettext("bills filter", "Paid") }}'
    printed = [page(code, source) for code in ("fr", "en", "fr", "en")]
    assert printed == ["Vos factures|Payées", "Your bills|Paid"] * 2
    assert page("sl", '{{ _("Your bills") }}') == "Vaši računi"


def test_a_page_escapes_a_message_variable_and_keeps_the_message_apart(page):
    source = '{{ _("Bills of %(name)s", name=name) }}'
    assert page("en", source, name="<b>Acme</b>") == "Bills of &lt;b&gt;Acme&lt;/b&gt;"
    assert page("en", source, name="Zeta & Co") == "Bills of Zeta &amp; Co"
    assert page("fr", source, name="Zeta") == "Factures de Zeta"


def test_a_page_prints_a_doubled_percent_sign_once(page):
    # newstyle gettext formats every message, so a literal % is written %% in the template
    assert page("en", '{{ _("up to 400%% bigger") }}') == "up to 400% bigger"
    assert page("en", '{{ _("up to 400%% bigger") }}') == "up to 400% bigger"
    assert page("en", '{% autoescape false %}{{ _("a %%") }}{% endautoescape %}') == "a %"


def test_a_message_variable_may_be_called_context(page):
    # Jinja's own gettext takes it; its context is a parameter no template can name
    assert page("en", '{{ _("Hi %(context)s", context=who) }}', who="<b>") == "Hi &lt;b&gt;"
    assert page("en", "{% trans context=who %}Hi {{ context }}{% endtrans %}", who="a") == "Hi a"
    # pgettext's msgctxt is a default: the caller's own ``context`` variable wins, as in Jinja
    assert page("en", '{{ pgettext("c", "%(context)s", context="mine") }}') == "mine"
    assert page("en", '{{ pgettext("c", "%(context)s", context="yours") }}') == "yours"
    assert page("en", '{{ pgettext("c", "%(context)s") }}') == "c"


def test_a_context_message_escapes_its_variables_and_is_not_kept_with_them(page):
    source = '{{ pgettext("bills filter", "Paid") }} {{ pgettext("x", "Hi %(name)s", name=n) }}'
    assert page("fr", source, n="<i>") == "Payées Hi &lt;i&gt;"
    assert page("fr", source, n="Zoë") == "Payées Hi Zoë"


def test_plural_messages_still_format_their_number(page):
    source = '{{ ngettext("%(num)d bill", "%(num)d bills", n) }}'
    assert [page("en", source, n=n) for n in (1, 3)] == ["1 bill", "3 bills"]
    source = '{{ npgettext("c", "%(num)d bill", "%(num)d bills", n) }}'
    assert page("en", source, n=2) == "2 bills"
