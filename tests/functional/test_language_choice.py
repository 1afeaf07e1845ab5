"""Which language a page is in: the person's choice in this browser, else their account's,
else their browser's Accept-Language, else the portal's default; and the picker on every page
that makes the choice, without JavaScript."""

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from portal.identity.language_choice import COOKIE_NAME
from portal.identity.models import User, WebSession
from portal.security import CSRF_COOKIE_NAME
from tests.conftest import sign_in
from tests.functional.test_sign_in_landing import OPEN_REDIRECTS

#: how the start page's heading reads in Slovenian and English
START = {"sl": "Plačila javnih storitev", "en": "Public services payments"}


def lang_of(page) -> str:
    return page.html.html["lang"]


def picker(page):
    """The language picker's form on ``page``."""
    return page.forms["language-picker"]


def forget_choice(testapp) -> None:
    """Clear the language cookie, as another browser would not have it."""
    for cookie in list(testapp.cookiejar):
        if cookie.name == COOKIE_NAME:
            testapp.cookiejar.clear(cookie.domain, cookie.path, cookie.name)


def choose(page, code: str):
    """Press the picker's button for ``code`` on ``page``, as a browser without JavaScript
    would; the answer (a redirect)."""
    return picker(page).submit("language", value=code, status=303)


def the_user(dbsession, name_id: str) -> User:
    dbsession.expire_all()
    return dbsession.scalars(select(User).where(User.name_id == name_id)).one()


def test_a_browser_that_asks_for_no_offered_language_gets_the_default(testapp):
    page = testapp.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert lang_of(page) == "en" and page.headers["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("header", "lang"),
    [("sl-SI,sl;q=0.9,en;q=0.5", "sl"), ("de, fr;q=0.8", "fr"), ("zh-CN,zh;q=0.9", "zh-Hans")],
)
def test_accept_language_chooses_the_language_of_a_page(testapp, header, lang):
    page = testapp.get("/services", headers={"Accept-Language": header})
    assert lang_of(page) == lang and page.headers["Content-Language"] == lang


def test_a_page_in_slovenian_reads_in_slovenian(testapp):
    page = testapp.get("/", headers={"Accept-Language": "sl"})
    assert START["sl"] in page.text and START["en"] not in page.text


def test_the_picker_names_each_language_in_itself_and_marks_the_page_own(testapp):
    page = testapp.get("/services", headers={"Accept-Language": "sl"})
    form = page.html.find("form", id="language-picker")
    names = {button["value"]: (button.text, button["lang"]) for button in form.find_all("button")}
    assert names == {
        "en": ("English", "en"),
        "pl": ("Polski", "pl"),
        "fr": ("Français", "fr"),
        "zh_Hans": ("简体中文", "zh-Hans"),
    }
    current = form.find(attrs={"aria-current": "true"})
    assert (current.text, current["lang"]) == ("Slovenščina", "sl")


def test_a_visitor_chooses_a_language_without_javascript_and_it_is_kept(testapp, dbsession):
    page = testapp.get("/services?page=1", headers={"Accept-Language": "sl"})
    answer = choose(page, "fr")
    assert urlsplit(answer.location).path == "/services" and answer.location.endswith("?page=1")
    assert testapp.cookies[COOKIE_NAME] == "fr"
    # the choice beats what the browser asks for, on every page after
    for path in ("/services", "/", "/verify"):
        assert lang_of(testapp.get(path, headers={"Accept-Language": "sl"})) == "fr"
    # nothing of it was written on the server: no session for a visitor
    assert dbsession.scalar(select(func.count()).select_from(WebSession)) == 0


def test_pages_shown_to_a_visitor_write_no_session(testapp, dbsession):
    """The picker's CSRF token of a visitor without a session is in a cookie of its own."""
    testapp.get("/")
    testapp.get("/services")
    assert CSRF_COOKIE_NAME in testapp.cookies and "portal_session" not in testapp.cookies
    assert dbsession.scalar(select(func.count()).select_from(WebSession)) == 0


def test_the_account_language_comes_before_the_browser_and_after_a_choice(
    signed_in, testapp, dbsession
):
    signed_in("citizen-ana")
    ana = the_user(dbsession, "citizen-ana")
    ana.locale = "sl"
    dbsession.commit()
    assert lang_of(testapp.get("/bills", headers={"Accept-Language": "fr"})) == "sl"
    # a choice in the browser comes first, and becomes the account's too
    choose(testapp.get("/bills"), "pl")
    assert the_user(dbsession, "citizen-ana").locale == "pl"
    ana = the_user(dbsession, "citizen-ana")
    ana.locale = "fr"  # changed in another browser
    dbsession.commit()
    assert lang_of(testapp.get("/bills")) == "pl"
    forget_choice(testapp)
    assert lang_of(testapp.get("/bills", headers={"Accept-Language": "sl"})) == "fr"


def test_the_account_page_changes_the_language_for_good(signed_in, testapp, devidp, dbsession):
    signed_in("citizen-ana")
    form = testapp.get("/account").forms["language-form"]
    assert form["language"].value == "en"
    form["language"] = "sl"
    account = form.submit(status=303).follow()
    assert lang_of(account) == "sl"
    assert (
        "Strani, e-poštna sporočila in dokumenti so odslej v jeziku: Slovenščina." in account.text
    )
    assert account.forms["language-form"]["language"].value == "sl"
    assert the_user(dbsession, "citizen-ana").locale == "sl"
    # kept in the account: another browser, signed in afresh, reads Slovenian
    testapp.reset()
    sign_in(testapp, devidp, "citizen-ana")
    assert lang_of(testapp.get("/bills", headers={"Accept-Language": "en"})) == "sl"


def test_a_new_person_starts_in_their_browser_language(testapp, devidp, departments, dbsession):
    testapp.extra_environ["HTTP_ACCEPT_LANGUAGE"] = "pl-PL,pl;q=0.9,en;q=0.5"
    sign_in(testapp, devidp, "citizen-ana")
    assert the_user(dbsession, "citizen-ana").locale == "pl"


@pytest.mark.parametrize("language", ["xx", "zh-Hans", "", "sl\n"])
def test_a_language_not_offered_is_refused_and_changes_nothing(
    signed_in, testapp, dbsession, caplog, language
):
    signed_in("citizen-ana")
    form = testapp.get("/account").forms["language-form"]
    form["language"].force_value(language)  # as a hand-made form would send it
    refused = form.submit(status=400)
    assert "Choose one of the languages offered." in refused.text
    assert "refused 400 malformed" in caplog.text
    assert COOKIE_NAME not in testapp.cookies
    assert the_user(dbsession, "citizen-ana").locale == "en"


@pytest.mark.parametrize("signed_in_as", [None, "citizen-ana"])
def test_a_choice_without_the_csrf_token_is_refused(signed_in, testapp, dbsession, signed_in_as):
    if signed_in_as:
        signed_in(signed_in_as)
    testapp.get("/")
    same_site = {"Referer": "https://localhost/"}
    for sent in ({"language": "sl"}, {"language": "sl", "csrf_token": "forged"}):
        refused = testapp.post("/language", sent, headers=same_site, status=400)
        assert "The form has expired" in refused.text
    assert COOKIE_NAME not in testapp.cookies
    if signed_in_as:
        assert the_user(dbsession, signed_in_as).locale == "en"


@pytest.mark.parametrize("next_path", OPEN_REDIRECTS)
def test_the_picker_returns_only_to_a_page_of_this_site(testapp, next_path):
    form = picker(testapp.get("/"))
    form["next"].force_value(next_path)
    answer = form.submit("language", value="sl", status=303)
    assert urlsplit(answer.location).path == "/" and not urlsplit(answer.location).query


def test_a_refused_form_page_sends_the_picker_back_to_the_form(signed_in, testapp):
    """A page that answers a form (shown again with its errors) is not one to go back to by
    GET: the picker goes back to the page the form was on."""
    signed_in("citizen-ana")
    form = testapp.get("/account").forms["language-form"]
    form["language"].force_value("xx")
    refused = form.submit(status=400)
    assert picker(refused)["next"].value == "/account"


def test_problem_details_follow_accept_language(testapp):
    problem = testapp.get(
        "/api/v1/no-such-thing", headers={"Accept-Language": "sl"}, status=404
    ).json
    assert problem["title"] == "Strani ni mogoče najti"


def test_a_page_words_a_message_for_its_context(testapp, devidp):
    """The account page's "Name" is a person's (Polish "Imię i nazwisko"), not a thing's
    ("Nazwa"), which the same English word is elsewhere."""
    sign_in(testapp, devidp)
    choose(testapp.get("/account"), "pl")
    page = testapp.get("/account")
    assert lang_of(page) == "pl"
    assert "Imię i nazwisko" in page.text and ">Nazwa<" not in page.text
