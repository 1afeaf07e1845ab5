"""No English is left where a reader of another language reads the portal: every page the
demo's people reach (a persona of each role, and a visitor), its error pages, forms refused
with their errors, the documents the portal issues and the e-mails it sends, in each
language with a catalogue. What is read fails on any English source message of that
catalogue (those its translators marked "intentionally the same" aside), and on a text from
data shown in the default language where its department gave the reader's.

The pages are found as a person finds them, by following the links of each persona's pages
from their start pages; every page of the portal is reached that way or named in
:data:`UNREACHED` with the reason it is not. The pages are read in the language by the test
seam of :mod:`tests.languages` (Accept-Language); the documents and e-mails in the payer's.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import webtest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from pyramid.i18n import make_localizer
from pyramid.interfaces import ILocalizer, IRoutesMapper
from sqlalchemy import String, Text, select, update

from portal.applications.models import Application
from portal.clock import clock as app_clock
from portal.db import Base
from portal.documents.kinds import document_issuer
from portal.documents.models import Document
from portal.documents.tasks import email_document_task
from portal.identity.models import User
from portal.localized import SOURCE_LANGUAGE
from portal.procurement import award_mail, bidder_mail, complaint_mail, questions
from portal.procurement.models import Award, Bid, Complaint, Question, Tender
from portal.procurement.questions import email_answer_task
from portal.receipts.models import Receipt
from portal.scripts import demo_payments
from portal.tasks import task_dbsession
from tests.conftest import sign_in
from tests.functional.test_demo_data import load_demo
from tests.languages import (
    EnglishMessages,
    catalogue_codes,
    catalogue_path,
    english_messages,
    pages_follow_accept_language,
    tag,
    visible_texts,
    without,
)

#: pages read through the app, the same on either database: .ci/run reads them once
pytestmark = pytest.mark.once

LANGUAGES = [code for code in catalogue_codes() if code != SOURCE_LANGUAGE]

#: a persona of each role (and a visitor), and the pages each starts from
PERSONAS = {
    None: ["/", "/services", "/tenders", "/verify", "/accessibility", "/privacy", "/contact"],
    "citizen-ana": ["/account", "/bills", "/payments", "/receipts", "/utilities", "/applications"],
    "rep-olga": ["/account", "/bills", "/bids", "/tenders"],
    "rep-quinn": ["/bids", "/cases"],
    "clerk-clara": ["/backoffice"],
    "clerk-dan": ["/backoffice"],
    "clerk-mia": ["/backoffice"],
    "buyer-bruno": ["/procurement/tenders"],
    "reviewer-rita": ["/review/complaints"],
    "auditor-ana": ["/backoffice/audit"],
    "admin-ada": ["/backoffice", "/admin/fees", "/admin/privacy/erasure"],
}
#: searches for people, which are sent as forms (no personal data in addresses): (persona,
#: path, form); the pages found are read, and their links followed
SEARCHES = [
    ("clerk-clara", "/backoffice/payers", {"q": "Novak"}),
    ("admin-ada", "/admin/privacy/erasure", {"query": "Novak"}),
]
#: how many pages of one route a persona reads (more of them are written alike)
PER_ROUTE = 6
#: what a link may lead to that is not a page of the portal: files, sign-in, the provider
NOT_PAGES = re.compile(
    r"\.(pdf|csv|zip|json|xlsx|xml|\{format\})$|/documents/|/certificate$|/attachments/"
    r"|/receipts/\{|/protocol$|/contract/document$"
    r"|^/(saml|static|pay/|healthz|readyz|api/|billing/notifications)"
)
SAME_ORIGIN = {"Referer": "https://localhost/"}
#: refusals as pages, and forms shown again with their errors: (persona, method, path, form)
REFUSED = [
    (None, "GET", "/nowhere", None),
    (None, "GET", "/verify/ABCDE-FGHJK", None),
    (None, "GET", "/tenders?cpv=x&status=nothing&from=2026-13-40", None),
    ("citizen-ana", "GET", "/backoffice", None),
    ("citizen-ana", "POST", "/bills/pay", {"csrf_token": "forged"}),
    ("citizen-ana", "POST", "/bills/pay", {}),
    ("citizen-ana", "POST", "/applications/new/vehicle-registration", {"vin": "I0"}),
    ("admin-ada", "POST", "/admin/fees", {"service_code": "", "amount": "x"}),
    ("admin-ada", "POST", "/backoffice/imports", {"service": "water"}),
    ("clerk-clara", "POST", "/backoffice/payers", {}),
    (
        "clerk-clara",
        "POST",
        "/backoffice/departments/revenue/texts",
        {"department.name.sl": "x" * 201},
    ),
]
#: pages no link of the demo leads to, and why
UNREACHED = {
    "saml_login": "with one identity provider, signing in goes straight to it",
    "tender_auction": "the demo's auction starts only once its closed tender is opened",
    "backoffice_approval": "the demo has no approval waiting for a second clerk",
    "buyer_tender_edit": "the demo's tenders are all published, and only a draft is edited",
    "tender_complaint_new": "a complaint is filed during a standstill the demo's bidders "
    "have already complained in",
    "logout": "the page after signing out, shown to no one signed in",
    "payment_return": "the provider sends the payer back to it, and it on to the payment",
}


def browser(wsgi_app, devidp, persona: str | None, language: str) -> webtest.TestApp:
    app = webtest.TestApp(
        wsgi_app,
        extra_environ={
            "wsgi.url_scheme": "https",
            "HTTP_HOST": "localhost",
            "HTTP_ACCEPT_LANGUAGE": tag(language),
        },
    )
    if persona is not None:
        assert sign_in(app, devidp, persona).status_int == 303
    return app


def lived_in(wsgi_app, devidp) -> None:
    """What the demo's people do beyond the demo: Ana saves an application as a draft,
    submits another and pays its fee (so it waits for a clerk), and starts paying a bill
    (so a payment waits on its review page); Olga asks a question on the tender still
    taking questions, and its buyer answers it."""
    registry = wsgi_app.registry
    with task_dbsession(registry) as session:
        tender = session.scalars(select(Tender).where(Tender.status == "questions")).one()
        olga = session.scalars(select(User).where(User.name_id == "rep-olga")).one()
        bruno = session.scalars(select(User).where(User.name_id == "buyer-bruno")).one()
        now = app_clock(registry).now()
        asked = questions.ask(
            session,
            tender,
            asker=olga,
            organisation=olga.organisations[0],
            text="May the meals be delivered twice a day?",
            now=now,
        )
        session.flush()
        questions.answer(
            session, tender, asked.public_id, answerer=bruno, text="Yes, they may.", now=now
        )
    ana = browser(wsgi_app, devidp, "citizen-ana", SOURCE_LANGUAGE)
    form = ana.get("/applications/new/vehicle-registration").forms["application-form"]
    form["make_model"] = "Example Roadster"
    form.submit("action", value="save", headers=SAME_ORIGIN, status=303)
    form = ana.get("/applications/new/business-licence").forms["application-form"]
    for name, value in {
        "business_name": "Ana's Bakery",
        "registration_number": "NW-300400",
        "activity": "Bakery",
        "premises": "2 Main Square, Example City",
        "starts_on-day": "1",
        "starts_on-month": "1",
        "starts_on-year": "2099",
    }.items():
        form[name] = value
    form.submit("action", value="submit", headers=SAME_ORIGIN, status=303)
    with task_dbsession(registry) as session:
        application = session.scalars(
            select(Application).where(Application.status == "awaiting_payment")
        ).one()
        demo_payments.pay(
            session,
            registry,
            [application.bill],
            user=application.applicant,
            organisation=None,
            now=application.submitted_at,
        )
    bills = ana.get("/bills")
    pay = next(form for form in bills.forms.values() if form.action == "/bills/pay")
    pay.fields["bill"][0].checked = True
    pay.submit(headers=SAME_ORIGIN, status=303)


@pytest.fixture
def demo_world(wsgi_app, devidp, engine):
    """The demo ``make run`` shows, its people signing in through the tests' IdP, and what
    they do beyond it (:func:`lived_in`)."""
    load_demo(wsgi_app.registry)
    with task_dbsession(wsgi_app.registry) as session:
        session.execute(update(User).values(idp_entity_id=devidp.entity_id))
    lived_in(wsgi_app, devidp)


def route_of(registry, path: str) -> str | None:
    for route in registry.getUtility(IRoutesMapper).get_routes():
        if route.match(urlsplit(path).path) is not None:
            return route.name
    return None


def pages_of_the_portal(registry) -> set[str]:
    """The routes that answer a GET with a page."""
    names = set()
    for route in registry.introspector.get_category("routes"):
        pattern = route["introspectable"]["pattern"]
        for view in route["related"]:
            methods = view["request_methods"] if view.category_name == "views" else ()
            if (methods is None or "GET" in methods) and not NOT_PAGES.search(
                "/" + pattern.lstrip("/")
            ):
                names.add(route["introspectable"]["name"])
    return names


def links(response) -> list[str]:
    found = []
    for anchor in response.html.select("a[href]"):
        href = anchor["href"].split("#")[0].removeprefix("https://localhost")
        if href.startswith("/") and not NOT_PAGES.search(urlsplit(href).path):
            found.append(href)
    return found


def crawl(app, registry, start: list[str]) -> dict[str, webtest.TestResponse]:
    """The pages reached from ``start`` by following links, at most :data:`PER_ROUTE` of a
    route, by their paths."""
    pages: dict[str, webtest.TestResponse] = {}
    queue, per_route = list(start), defaultdict(int)
    while queue:
        path = queue.pop(0)
        route = route_of(registry, path)
        if path in pages or per_route[route] >= PER_ROUTE:
            continue
        per_route[route] += 1
        response = app.get(path, expect_errors=True)
        if response.content_type == "text/html":
            pages[path] = response
            queue.extend(links(response))
    return pages


def data_texts(dbsession, language: str) -> tuple[list[str], list[str]]:
    """What people wrote (names, tenders' titles and descriptions, reasons: a reader reads
    them as they were written), and the texts from data that have a translation into
    ``language``, whose default text must not be shown."""
    written, translated = set(), set()
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        for column in table.columns:
            if not isinstance(column.type, String | Text) or column.name.endswith("_id"):
                continue
            translations = table.columns.get(f"{column.name}_translations")
            if translations is None:
                for value in dbsession.scalars(select(column).distinct()):
                    if value and re.search(r"[A-Za-z]{3}", value):
                        written.update(part.strip() for part in value.split("\n\n"))
                continue
            for value, others in dbsession.execute(select(column, translations)).all():
                if others and others.get(language) and others[language] != value:
                    translated.add(value)
                elif value:
                    written.add(value)
    return sorted(written - {""}), sorted(translated)


class Reader:
    """What a reader of ``language`` must not meet, and the data they may meet in English."""

    def __init__(self, dbsession, language: str):
        written, translated = data_texts(dbsession, language)
        english = english_messages(language)
        self.english = EnglishMessages(
            english.phrases | {text for text in translated if " " in text},
            english.words | {text for text in translated if " " not in text},
        )
        # only the data that holds an English message need be taken out of what is read
        self.written = [text for text in written if self.english.found_in([text])]
        self.language = language

    def english_in(self, texts: list[str]) -> list[str]:
        return sorted(self.english.found_in(without(texts, self.written)))

    def english_on(self, html: str) -> list[str]:
        return self.english_in(visible_texts(html, self.language))


def pdf_texts(pdf: bytes) -> list[str]:
    """A PDF's text as its reader reads it: line by line, and as a whole (a sentence may
    run over two lines)."""
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    return [*lines, " ".join(text.split())]


def csrf_token(app, path: str) -> str:
    return app.get(path).html.select_one("input[name=csrf_token]")["value"]


def pages_left_english(
    wsgi_app, devidp, reader: Reader, verification_codes: list[str]
) -> tuple[dict, set[str]]:
    """The pages with English in them, by persona and path; and the routes read. The
    visitor checks ``verification_codes`` (of documents)."""
    registry, language = wsgi_app.registry, reader.language
    left, reached = {}, set()
    with pages_follow_accept_language(registry):
        for persona, start in PERSONAS.items():
            app = browser(wsgi_app, devidp, persona, language)
            pages = {}
            for searcher, path, fields in SEARCHES:
                if searcher == persona:
                    form = {**fields, "csrf_token": csrf_token(app, path)}
                    found = app.post(path, form, headers=SAME_ORIGIN)
                    pages[f"POST {path}"] = found
                    start = start + links(found)
            if persona is None:
                start = start + [f"/verify/{code}" for code in verification_codes]
            for path, response in crawl(app, registry, start).items():
                reached.add(route_of(registry, path))
                pages[path] = response
            for path, response in pages.items():
                if found := reader.english_on(response.text):
                    left[f"{persona or 'visitor'} {path} ({response.status_int})"] = found
        for persona, method, path, fields in REFUSED:
            app = browser(wsgi_app, devidp, persona, language)
            if method == "GET":
                response = app.get(path, expect_errors=True)
            else:
                form = dict(fields)
                form.setdefault("csrf_token", csrf_token(app, "/account" if persona else "/"))
                response = app.post(path, form, headers=SAME_ORIGIN, expect_errors=True)
            assert response.status_int >= 400 or "usa-alert--error" in response.text, path
            if found := reader.english_on(response.text):
                left[f"{persona or 'visitor'} {method} {path} ({response.status_int})"] = found
    return left, reached


def documents_left_english(wsgi_app, dbsession, reader: Reader) -> dict:
    """A document of each kind the demo issued, read in the reader's language."""
    issuer = document_issuer(wsgi_app.registry)
    left, kinds = {}, set()
    for document in dbsession.scalars(select(Document).order_by(Document.id)):
        if document.kind in kinds:
            continue
        kinds.add(document.kind)
        document.locale = reader.language
        pdf = issuer.unsigned_pdf(dbsession, document)
        if found := reader.english_in(pdf_texts(pdf)):
            left[f"document {document.kind}"] = found
    dbsession.rollback()
    assert kinds >= {"receipt", "credit_note", "bid_receipt", "opening_protocol"}, kinds
    return left


def mails_left_english(wsgi_app, dbsession, reader: Reader) -> dict:
    """The e-mails the portal sends, to people who read the reader's language."""
    registry = wsgi_app.registry
    folder = Path(registry.settings["mail.directory"])
    before = set(folder.iterdir()) if folder.exists() else set()
    with task_dbsession(registry) as session:
        session.execute(update(User).values(locale=reader.language))
        # a document is in its payer's language when it was issued
        receipt = session.scalars(select(Receipt).order_by(Receipt.id)).first()
        receipt.locale, receipt.emailed_at = reader.language, None
    email_document_task(registry, receipt.id)
    award = dbsession.scalars(select(Award).order_by(Award.id)).first()
    award_mail.mail_award_task(registry, award.id)
    bids = [
        bid.id for bid in dbsession.scalars(select(Bid).where(Bid.tender_id == award.tender_id))
    ]
    bidder_mail.mail_bidders_task(registry, bidder_mail.AMENDED, bids, "")
    bidder_mail.mail_bidders_task(registry, bidder_mail.CANCELLED, bids, "")
    complaint = dbsession.scalars(select(Complaint)).first()
    for what in (
        complaint_mail.FILED,
        complaint_mail.REGISTERED,
        complaint_mail.UPHELD,
        complaint_mail.REJECTED,
        complaint_mail.LAPSED,
        complaint_mail.PAID_LATE,
    ):
        complaint_mail.mail_complaint_task(registry, what, complaint.id)
    question = dbsession.scalars(select(Question).order_by(Question.id)).first()
    email_answer_task(registry, question.id)
    left = {}
    sent = sorted(set(folder.iterdir()) - before)
    for path in sent:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = mail.get_body(("plain",)).get_content()
        texts = [str(mail["Subject"]), *(" ".join(p.split()) for p in body.split("\n\n"))]
        if found := reader.english_in(texts):
            left[f"e-mail {mail['Subject']}"] = found
    assert len(sent) >= 10, sent
    return left


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_is_left(language, wsgi_app, devidp, demo_world, dbsession):
    reader = Reader(dbsession, language)
    codes = list(dbsession.scalars(select(Document.verification_code).limit(2)))
    left, reached = pages_left_english(wsgi_app, devidp, reader, codes)
    left |= documents_left_english(wsgi_app, dbsession, reader)
    left |= mails_left_english(wsgi_app, dbsession, reader)
    assert left == {}, "English left:\n" + "\n".join(f"{k}: {v}" for k, v in sorted(left.items()))
    unread = pages_of_the_portal(wsgi_app.registry) - reached - set(UNREACHED)
    assert not unread, f"pages no link of the demo leads to: {sorted(unread)}"


def test_english_left_on_a_page_is_found(tmp_path, wsgi_app, testapp):
    """The check can fail: with the Slovenian catalogue missing one translation, a page in
    Slovenian shows that message in English, and the check finds it there (and nothing on
    the page as the real catalogue writes it)."""
    folder = tmp_path / "sl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "portal.po"
    text = catalogue_path("sl").read_text()
    translated = 'msgid "Public services"\nmsgstr "Javne storitve"\n'
    assert translated in text
    po.write_text(text.replace(translated, 'msgid "Public services"\nmsgstr ""\n'))
    with open(po, "rb") as source, open(folder / "portal.mo", "wb") as compiled:
        write_mo(compiled, read_po(source, locale="sl"))
    registry = wsgi_app.registry
    english = english_messages("sl", po)
    headers = {"Accept-Language": "sl"}
    with pages_follow_accept_language(registry):
        page = testapp.get("/services", headers=headers)
        assert english.found_in(visible_texts(page.text, "sl")) == set()
        real = registry.queryUtility(ILocalizer, name="sl")
        registry.registerUtility(make_localizer("sl", [str(tmp_path)]), ILocalizer, name="sl")
        try:
            page = testapp.get("/services", headers=headers)
        finally:
            registry.registerUtility(real, ILocalizer, name="sl")
    assert "Storitve" in page.text  # the rest of the page is still Slovenian
    assert english.found_in(visible_texts(page.text, "sl")) == {"Public services"}
