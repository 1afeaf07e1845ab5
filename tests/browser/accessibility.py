"""axe-core over every page a person can reach, in Debian's Chromium through Playwright.

A *visit* signs one persona in once (or none: a visitor), then walks the portal the way they
would: from their start pages along every link on every page it opens, a few pages of each
route (each route's template is one page; a few of its instances show its variations). Each
page is checked at 375 px wide with axe-core against WCAG 2.1 A and AA and the rules that a
page has one ``main`` landmark and one level-one heading, and must not scroll sideways there
nor at 640 px (a 1280 px window at 200 % zoom).

JavaScript on and off: axe-core needs scripts to run, which a browser with JavaScript off does
not do (its timers never fire), so the page as such a browser shows it - the DOM it built,
``<noscript>`` contents shown, no scripts - is replayed at the portal's address in a browser
with JavaScript on and checked there. On a page without any script or ``<noscript>`` that is
also the page with JavaScript on; a page with scripts is opened again with it on and checked
as its scripts leave it. The replay is written into one document (``document.write``), which
keeps axe-core loaded and costs no request: a few hundred pages are checked in minutes.

axe-core comes from the asset build's ``node_modules`` (``npm ci``, a devDependency in
package.json): the engine behind the accessibility checkers people run on government sites,
pinned like the rest of the front end and read from disk, so nothing is downloaded at test time.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, TIMEOUT_MS

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_SOURCE = AXE.read_text() if AXE.exists() else ""
#: the tags of WCAG 2.1 levels A and AA, and two best-practice rules the portal keeps
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
AXE_RULES = ("landmark-one-main", "page-has-heading-one")
PHONE = {"width": 375, "height": 812}
#: a 1280 x 900 window at 200 % zoom lays the page out in 640 x 450 CSS pixels
ZOOMED = {"width": 640, "height": 450}

#: routes answered by something other than an HTML page (files, JSON, redirects to another
#: site), or that change who is signed in: the walk does not follow links to them
NOT_PAGES = {
    "__static/": "static files",
    "account_data_json": "JSON export",
    "api_bill": "API",
    "api_bill_payments": "API",
    "api_my_bills": "API",
    "api_my_payments": "API",
    "api_ocds_record": "API",
    "api_ocds_releases": "API",
    "api_ocds_tenders": "API",
    "api_openapi": "API",
    "application_certificate": "PDF",
    "backoffice_case_attachment": "a download",
    "backoffice_report_file": "CSV and XLSX",
    "backoffice_refund_transfer_file": "XML (a pain.001 credit transfer file)",
    "buyer_complaint_document": "a download",
    "complaint_document": "a download",
    "review_complaint_document": "a download",
    "opened_bid_document": "a download",
    "tender_document": "a download",
    "tender_contract_document": "PDF",
    "tender_auction_protocol": "PDF",
    "tender_bid_receipt": "PDF",
    "tender_protocol": "PDF",
    "tender_auction_status": "JSON",
    "receipt_pdf": "PDF",
    "receipts_zip": "ZIP",
    "payments_csv": "CSV",
    "payment_checkout": "a redirect to the payment provider",
    "payment_return": "a redirect from the payment provider",
    "healthz": "a probe",
    "readyz": "a probe",
    "logout": "signs out",
    "saml_login": "the identity provider's pages",
    "saml_sls": "signs out",
    "saml_metadata": "XML",
}

AXE_RUN = """options => axe.run(document, options).then(result => result.violations.flatMap(
    violation => violation.nodes.map(node => [
        violation.id, violation.impact || '', node.target.join(' '),
        (node.failureSummary || '').split('\\n').slice(1, 2).join('').trim()])))"""

#: how far the page is wider than its window (0: no sideways scrolling)
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"

#: the DOM as a browser with JavaScript off built it, made into a page to replay with it on:
#: no scripts, and what was in <noscript> shown as itself
SNAPSHOT_WITHOUT_SCRIPTS = """() => {
    const root = document.documentElement.cloneNode(true);
    const scripted = root.querySelector('script, noscript') !== null;
    root.querySelectorAll('script').forEach(script => script.remove());
    root.querySelectorAll('noscript').forEach(tag => tag.replaceWith(...tag.childNodes));
    return ['<!DOCTYPE html>' + root.outerHTML, scripted];
}"""
#: ``document.write`` of a whole page, waiting for its stylesheets (colour contrast needs them)
WRITE_DOCUMENT = """async html => {
    document.open();
    document.write(html);
    document.close();
    await Promise.all(Array.from(document.querySelectorAll('link[rel=stylesheet]'), link =>
        link.sheet || new Promise(done => {
            link.addEventListener('load', done);
            link.addEventListener('error', done);
        })));
}"""
LINKS = "() => Array.from(document.querySelectorAll('a[href]'), link => link.href)"
REPLAY_PATH = "/__replayed-without-javascript"


@dataclass(frozen=True)
class Visit:
    """Who walks the portal (a persona's display name, or ``None`` for a visitor), from which
    pages, in which language (an Accept-Language value; ``None``: the browser's, English),
    and which forms they send empty at the end (``(path, CSS selector of the form's submit
    button)``): a form shown again with its errors is a page too."""

    persona: str | None
    start: tuple[str, ...]
    language: str | None = None
    empty_forms: tuple[tuple[str, str], ...] = ()
    #: whether the walk goes on from its start pages along their links
    follow_links: bool = True

    @property
    def label(self) -> str:
        who = self.persona or "visitor"
        return f"{who} [{self.language}]" if self.language else who


@dataclass
class Findings:
    """What the walks found, gathered to be reported at once."""

    #: (rule, impact, element, why) -> the pages, as "who, mode: path"
    violations: dict[tuple[str, str, str, str], list[str]] = field(
        default_factory=lambda: defaultdict(list)
    )
    #: "who: path @ width" -> pixels too wide
    overflow: dict[str, int] = field(default_factory=dict)
    #: "who: path" -> what went wrong opening it (not HTML, a server error)
    broken: dict[str, str] = field(default_factory=dict)
    #: route name -> how many pages of it were checked, over all visits
    routes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pages: int = 0
    axe_runs: int = 0

    def report(self) -> str:
        lines = []
        for (rule, impact, target, why), where in sorted(self.violations.items()):
            shown = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
            lines.append(f"{rule} ({impact}) at {target}: {why} -- on {shown}")
        lines += [
            f"{where}: {pixels} px too wide" for where, pixels in sorted(self.overflow.items())
        ]
        lines += [f"{where}: {problem}" for where, problem in sorted(self.broken.items())]
        return "\n".join(lines)


class RouteNames:
    """Which of the portal's routes a path is (the app's own route patterns)."""

    def __init__(self, app) -> None:
        self.routes = [
            route for route in app.routes_mapper.get_routes() if not route.name.startswith("__")
        ]

    def __call__(self, path: str) -> str:
        if path.startswith("/static/"):
            return "__static/"
        for route in self.routes:
            if route.match(path) is not None:
                return route.name
        return "(not found)"


def page_routes(app) -> set[str]:
    """Every route a browser can GET, bar the ones that are not pages (NOT_PAGES)."""
    introspector = app.registry.introspector
    names = set()
    for route in introspector.get_category("routes"):
        for related in route["related"]:
            methods = related["request_methods"] if related.category_name == "views" else None
            if related.category_name == "views" and (
                not methods or "GET" in ([methods] if isinstance(methods, str) else methods)
            ):
                names.add(route["introspectable"]["name"])
    return names - set(NOT_PAGES)


async def sign_in(page, portal_url: str, persona: str) -> None:
    """Sign ``persona`` in at the development IdP, as a person with JavaScript off would."""
    await page.goto(f"{portal_url}/saml/login?next=/account")
    await page.get_by_role("radio", name=re.compile(rf"^{persona}")).check()
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(f"{portal_url}/account")


class Walker:
    """Walks the portal as each visit's person, several visits at a time, into ``findings``.

    A visit has two tabs in two browser contexts sharing its cookies: ``plain``, with
    JavaScript off, follows the links (it signs in there, as such a person does), and
    ``scripted``, with it on, runs axe-core on what ``plain`` shows (replayed) and opens again
    each page that has scripts, to check it as they leave it."""

    def __init__(self, browser, portal_url: str, route_of: RouteNames, per_route: int) -> None:
        self.browser = browser
        self.portal_url = portal_url
        self.route_of = route_of
        self.per_route = per_route
        self.findings = Findings()
        self.axe_options = {
            "runOnly": {"type": "tag", "values": list(AXE_TAGS)},
            "rules": {rule: {"enabled": True} for rule in AXE_RULES},
            "resultTypes": ["violations"],
        }

    async def walk_all(self, visits: Iterable[Visit], at_once: int) -> Findings:
        slots = asyncio.Semaphore(at_once)

        async def walk(visit: Visit) -> None:
            async with slots:
                await self.walk(visit)

        await asyncio.gather(*(walk(visit) for visit in visits))
        return self.findings

    async def walk(self, visit: Visit) -> None:
        headers = {"Accept-Language": visit.language} if visit.language else {}
        contexts = [
            await self.browser.new_context(
                java_script_enabled=javascript, viewport=PHONE, extra_http_headers=headers
            )
            for javascript in (False, True)
        ]
        try:
            for context in contexts:
                context.set_default_timeout(TIMEOUT_MS)
            tabs = Tabs(await contexts[0].new_page(), await contexts[1].new_page())
            if visit.persona:
                await sign_in(tabs.plain, self.portal_url, visit.persona)
            await contexts[1].add_cookies(await contexts[0].cookies(self.portal_url))
            await tabs.scripted.route(
                f"{self.portal_url}{REPLAY_PATH}",
                lambda route: route.fulfill(
                    body=tabs.replay, content_type="text/html; charset=utf-8"
                ),
            )
            await self.follow_links(visit, tabs)
            for path, form in visit.empty_forms:
                await self.send_empty(visit, tabs, path, form)
        finally:
            for context in contexts:
                await context.close()

    async def follow_links(self, visit: Visit, tabs: Tabs) -> None:
        """Breadth first from the visit's start pages (each of them checked), ``per_route``
        pages of each route at most."""
        seen: set[str] = set()
        taken: dict[str, int] = defaultdict(int)
        queue: list[str] = []

        def offer(url: str, start: bool = False) -> None:
            url = urldefrag(url).url
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != self.portal_url or url in seen:
                return
            route = self.route_of(parts.path)
            if route in NOT_PAGES or (taken[route] >= self.per_route and not start):
                return
            seen.add(url)
            taken[route] += 1
            queue.append(url)

        for path in visit.start:
            offer(f"{self.portal_url}{path}", start=True)
        while queue:
            url = queue.pop(0)
            where = f"{visit.label}: {url.removeprefix(self.portal_url)}"
            try:
                response = await tabs.plain.goto(url)
            except PlaywrightError as error:  # a download, a refused connection
                self.findings.broken[where] = str(error).splitlines()[0]
                continue
            if await self.check(tabs, where, response, reopen=url) and visit.follow_links:
                for link in await tabs.plain.evaluate(LINKS):
                    offer(link)

    async def send_empty(self, visit: Visit, tabs: Tabs, path: str, button: str) -> None:
        """Send the form of ``button`` at ``path`` with nothing filled in (the browser's own
        checks of required fields off, as the server must not rely on them), and check the
        answer."""
        where = f"{visit.label}: {path} {button} sent empty"
        await tabs.plain.goto(f"{self.portal_url}{path}")
        await tabs.plain.eval_on_selector(button, "button => { button.form.noValidate = true; }")
        async with tabs.plain.expect_navigation() as navigation:
            await tabs.plain.click(button)
        await self.check(tabs, where, await navigation.value, reopen=None)

    async def check(self, tabs: Tabs, where: str, response, reopen: str | None) -> bool:
        """Check the page ``tabs.plain`` shows (at ``reopen``, or the answer to a form);
        return whether it is one of the portal's HTML pages."""
        findings, plain, scripted = self.findings, tabs.plain, tabs.scripted
        if not plain.url.startswith(self.portal_url):
            return False  # sent elsewhere (to sign in): not a page of the portal's
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            findings.broken[where] = "not an HTML page"
            return False
        if response.status >= 500:
            findings.broken[where] = f"status {response.status}"
        findings.pages += 1
        findings.routes[self.route_of(urlsplit(plain.url).path)] += 1
        await self.measure_width(plain, where)
        tabs.replay, has_scripts = await plain.evaluate(SNAPSHOT_WITHOUT_SCRIPTS)
        if has_scripts and reopen is None:
            findings.broken[where] = "a form's answer with scripts: not checked with them on"
        elif has_scripts:
            await scripted.goto(reopen)
            await self.measure_width(scripted, f"{where} (JavaScript on)")
            await scripted.set_viewport_size(PHONE)
            await self.run_axe(scripted, where, ", JavaScript on")
        await tabs.show_replay(self.portal_url)
        await self.run_axe(scripted, where, ", JavaScript off" if has_scripts else "")
        return True

    async def measure_width(self, page, where: str) -> None:
        """Sideways scrolling at both widths, starting at the one the page is shown at (it
        stays at the other, where the next page is opened)."""
        first = page.viewport_size
        for size in (first, ZOOMED if first == PHONE else PHONE):
            if size != first:
                await page.set_viewport_size(size)
            wider = await page.evaluate(OVERFLOW)
            if wider > 0:
                self.findings.overflow[f"{where} @ {size['width']} px"] = wider

    async def run_axe(self, page, where: str, mode: str) -> None:
        if not await page.evaluate("typeof axe === 'object'"):
            await page.evaluate(AXE_SOURCE)
        self.findings.axe_runs += 1
        for rule, impact, target, why in await page.evaluate(AXE_RUN, self.axe_options):
            self.findings.violations[(rule, impact, target, why)].append(f"{where}{mode}")


@dataclass
class Tabs:
    """A visit's two tabs (:class:`Walker`), and the page ``scripted`` replays."""

    plain: Page
    scripted: Page
    replay: str = ""
    #: whether ``scripted`` has the replay address open, where replays are written in place
    replaying: bool = False

    async def show_replay(self, portal_url: str) -> None:
        """Show ``replay`` in ``scripted``: written into the document at the replay address
        once that is open (its scripts, axe-core among them, stay loaded), else by opening it."""
        if self.replaying and self.scripted.url == f"{portal_url}{REPLAY_PATH}":
            await self.scripted.evaluate(WRITE_DOCUMENT, self.replay)
        else:
            await self.scripted.goto(f"{portal_url}{REPLAY_PATH}")
            self.replaying = True


def report_to(name: str, findings: Findings, seconds: float) -> None:
    """Print what the sweep did and how long it took (``pytest -s`` shows it), and keep the
    report in ``var/accessibility-<name>.txt`` for people to read."""
    summary = (
        f"axe-core ({name}): {findings.pages} pages, {findings.axe_runs} runs of axe-core"
        f" in {seconds:.0f} s"
    )
    print(summary)
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / f"accessibility-{name}.txt").write_text(
        f"{summary}\n\n{findings.report()}\n\npages by route: "
        + repr(dict(sorted(findings.routes.items())))
    )


async def sweep(portal_url: str, app, visits: list[Visit], per_route: int, at_once: int):
    """Walk the portal as each visit's person, ``at_once`` visits at a time in one Chromium;
    return the findings and the seconds it took."""
    from playwright.async_api import async_playwright

    started = time.monotonic()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            walker = Walker(browser, portal_url, RouteNames(app), per_route)
            findings = await walker.walk_all(visits, at_once)
        finally:
            await browser.close()
    return findings, time.monotonic() - started
