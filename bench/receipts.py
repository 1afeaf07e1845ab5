"""Benchmark: receipts — render time against a bare WeasyPrint page, download rate of stored
receipts, and PDF size.

Run: ``.venv/bin/python bench/receipts.py [--iterations 30] [--seconds 10]``

Self-contained, reusing ``bench/pay_flow.py``'s helpers: creates its own PostgreSQL database
(``--pg``, trust auth) with ``alembic upgrade head``, starts the portal with gunicorn in a
subprocess (``bench/serve.py``, production.ini's ``[server:main]``, ``egg:portal``), signs a
payer in through the dev IdP, then drops everything again.

Stored receipts are made by the portal's own code, not by the hosted payment page: bills through
``issue_bill`` (3 bills of 2 lines each per receipt), a payment through ``create_payment`` and
``start_payment`` (with a local provider that only hands back an id), the provider's success
through ``apply_provider_payment`` with a ``ProviderPayment`` of the exact amount (so the
settlement is posted to the ledger), then ``DocumentIssuer.record`` and ``DocumentIssuer.render``
as the payment's subscriber and the render task would call them (the e-mail is skipped).

1. Render time, in this process, the variants interleaved per iteration: the whole pipeline as
   the render task runs it (fresh session, load, ``data``, QR, ``render_pdf`` as PDF/A-3b with
   the JSON attachment, ``DocumentSigner.sign``, flush; rolled back), its parts, and the
   baseline: a bare HTML page with the same text, default PDF options.
2. Downloads: ``--clients`` signed-in keep-alive connections fetching random receipts from
   ``GET /receipts/{number}.pdf``; baselines in the same run: a static file of the same bytes
   (Pyramid static view on the same server settings, no portal) and the portal's ``/healthz``.
3. PDF size and what fonts, PDF/A, the attachment and the signature add.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import pstats
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from cryptography.fernet import Fernet
from pay_flow import (
    BASE_URL,
    IDP_ENTITY,
    PYTHON,
    Client,
    Load,
    Server,
    admin,
    free_port,
    migrate,
    pg_url,
    quantile,
    sign_in,
    write_ini,
)
from pyramid.paster import get_appsettings
from pyramid.registry import Registry
from sqlalchemy import create_engine, select
from weasyprint import HTML, Attachment

from portal.billing import BillLineInput, create_payment, issue_bill
from portal.billing.payments import apply_provider_payment, start_payment
from portal.billing.providers import ProviderPayment, StartedPayment
from portal.catalogue.models import Service
from portal.clock import clock_from_settings, install_clock
from portal.db import get_session_factory
from portal.devidp.idp import DevIdP
from portal.documents.issuing import DocumentIssuer
from portal.documents.qr import qr_data_uri
from portal.documents.render import (
    ASSETS,
    DocumentHTML,
    PackagedAssetsOnly,
    _typesetting,
    render_html,
    render_pdf,
    write_pdf,
)
from portal.documents.signing import DocumentSigner
from portal.identity.models import Department, User
from portal.money import Money
from portal.receipts.issuing import ReceiptKind
from portal.receipts.models import Receipt
from portal.scripts.dev_keys import SIGNING_EXTENSIONS
from portal.selfsigned import ensure_self_signed

TEMPLATE = "documents/receipt.jinja2"
PERSONA = "citizen-ana"
SERVICES = [
    ("property-tax", "Property tax"),
    ("waste-fee", "Waste collection fee"),
    ("parking-permit", "Parking permit"),
]
LINES = [
    ("{service} 2026, instalment {n}", 184_20),
    ("Late payment interest, 8 % p.a. for 12 days", 4_85),
]
MS = 1000


# Stored receipts, made by the portal's own code


class LocalProvider:
    """Starts a payment by handing back an id, as a provider would; nothing is charged."""

    name = "local"
    itemised = False

    def start_payment(
        self,
        reference,
        amount,
        description,
        return_url,
        notify_url,
        lines=(),
        *,
        expires_at=None,
        locale=None,
    ):
        provider_id = "psp_" + secrets.token_hex(12)
        return StartedPayment(provider_id, f"{BASE_URL}/pay/{provider_id}")


def paid_receipt(dbsession, issuer, payer, services, k: int) -> Receipt:
    """Three bills of two lines, paid at once; the receipt issued (number taken), not rendered."""
    bills = []
    for i, service in enumerate(services):
        lines = [
            BillLineInput(text.format(service=service.name, n=k + 1), Money(amount + 37 * i, "EUR"))
            for text, amount in LINES
        ]
        bills.append(
            issue_bill(
                dbsession,
                service=service,
                number=f"{service.code.upper()}-2026-{k:05d}",
                description=f"{service.name} 2026, instalment {k + 1}",
                due_date=dt.date(2026, 12, 31),
                lines=lines,
                payer_user=payer,
            )
        )
    now = dt.datetime.now(dt.UTC)
    payment = create_payment(
        dbsession,
        user=payer,
        bill_ids=[bill.id for bill in bills],
        idempotency_key=uuid.uuid4().hex,
        provider="sandbox",
        timeout=dt.timedelta(minutes=90),
        now=now,
    )
    start_payment(
        payment,
        LocalProvider(),
        description="Payment to the public services",
        return_url=f"{BASE_URL}/payments/{payment.public_id}",
        notify_url=f"{BASE_URL}/billing/notifications/sandbox",
        now=now,
    )
    report = ProviderPayment(
        provider_payment_id=payment.provider_payment_id,
        reference=payment.public_id,
        status="succeeded",
        amount=payment.amount,
        refunded=Money(0, payment.currency),
        method="Visa •••• 4242",
        failure_reason=None,
    )
    refunds = apply_provider_payment(dbsession, payment, report, "bench: provider succeeded", now)
    assert not refunds and payment.status == "succeeded", payment.status
    receipt = Receipt(
        payment=payment,
        owner=payer,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        locale=payer.locale or "en",
    )
    return issuer.record(dbsession, receipt, now)


def store_receipts(session_factory, issuer, payer_id: int, count: int) -> tuple[list, int]:
    """``count`` rendered, signed and stored receipts, and one more issued but left unrendered
    (what the render task finds): its id."""
    with session_factory() as dbsession:
        department = Department(code="revenue", name="Revenue Office")
        services = [Service(code=c, name=n, department=department) for c, n in SERVICES]
        dbsession.add_all(services)
        dbsession.flush()
        payer = dbsession.get(User, payer_id)
        receipts = [paid_receipt(dbsession, issuer, payer, services, k) for k in range(count + 1)]
        dbsession.commit()
        for receipt in receipts[:count]:
            issuer.render(dbsession, receipt)
            dbsession.commit()
        stored = [(r.number, r.sha256, len(r.pdf)) for r in receipts[:count]]
        return stored, receipts[count].id


# 1. Render time


class TextOnly(HTMLParser):
    """The text a page shows, one line per block."""

    BLOCKS = {"p", "div", "tr", "br", "h1", "dt", "dd", "li", "header"}

    def __init__(self):
        super().__init__()
        self.lines, self.current, self.skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("title", "style", "script"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.flush()

    def handle_endtag(self, tag):
        if tag in ("title", "style", "script"):
            self.skip -= 1
        elif tag in self.BLOCKS:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.current.append(data)

    def flush(self):
        line = " ".join("".join(self.current).split())
        if line:
            self.lines.append(line)
        self.current = []


def bare_page(receipt_html: str) -> tuple[str, int]:
    """A plain HTML page with the receipt's text (no stylesheet, no image), and its length."""
    parser = TextOnly()
    parser.feed(receipt_html)
    parser.flush()
    body = "\n".join(f"<p>{escape(line)}</p>" for line in parser.lines)
    html = f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>'
    return html, sum(len(line) for line in parser.lines)


def attachment(data: dict) -> Attachment:
    """receipt.json exactly as ``render_pdf`` attaches it."""
    return Attachment(
        string=json.dumps(data, indent=2, ensure_ascii=False),
        name="receipt.json",
        description="Machine-readable receipt data",
        relationship="Data",
    )


def receipt_document(html: str) -> DocumentHTML:
    """The rendered receipt template as ``render_pdf`` hands it to WeasyPrint."""
    return DocumentHTML(
        string=html, base_url=ASSETS.as_uri() + "/", url_fetcher=PackagedAssetsOnly()
    )


def measure_render(session_factory, issuer, receipt_id: int, args) -> dict:
    """Each variant once per iteration, in a shuffled order, after ``--warmup`` iterations.

    The pipeline's stages are measured alone, each as the pipeline runs it: load (a fresh
    session and the receipt row), data (``load()``, ``data()`` and the kind's context on that
    receipt: the payment, bills and lines), QR, render (Jinja and WeasyPrint, default PDF), and
    sign; PDF/A + attachment is ``render_pdf`` less render."""
    kind = issuer.kinds["receipt"]
    with session_factory() as dbsession:
        receipt = dbsession.get(Receipt, receipt_id)
        kind.load(receipt, dbsession)
        data = issuer.data(receipt)
        number, locale = receipt.number, receipt.locale
        context = dict(
            data,
            **kind.context(receipt, issuer, dbsession),
            locale=locale,
            qr=qr_data_uri(data["verify_url"]),
            title="Receipt",
        )
    html, stylesheets = render_html(TEMPLATE, context, locale)
    bare_html, bare_chars = bare_page(html)
    pdfa = {"pdf_variant": "pdf/a-3b"}
    # as the pipeline signs it (DocumentIssuer.render): the authority in the receipt's language
    reason, location = f"Receipt {number}", issuer.authority(locale)["name"]
    unsigned = render_pdf(TEMPLATE, context, data, locale, "receipt.json")
    pdfs = {
        "bare": HTML(string=bare_html).write_pdf(),
        "plain": write_pdf(html, stylesheets),
        "pdfa": write_pdf(html, stylesheets, **pdfa),
        "pdfa+attachment": unsigned,
        "signed": issuer.signer.sign(unsigned, reason=reason, location=location),
    }

    def full():
        with session_factory() as dbsession:
            issuer.render(dbsession, dbsession.get(Receipt, receipt_id))
            dbsession.rollback()

    def split():
        fonts = _typesetting.fonts_here()
        sheets = [_typesetting.stylesheet(name) for name in stylesheets]
        options = dict(pdfa, attachments=[attachment(data)], stylesheets=sheets)
        began = time.process_time()
        document = receipt_document(html).render(font_config=fonts, **options)
        laid_out = time.process_time()
        document.write_pdf(**pdfa, attachments=[attachment(data)])
        return {"layout": laid_out - began, "pdf write": time.process_time() - laid_out}

    def load():
        with session_factory() as dbsession:
            dbsession.get(Receipt, receipt_id)
            dbsession.rollback()

    def load_data():
        with session_factory() as dbsession:
            found = dbsession.get(Receipt, receipt_id)
            kind.load(found, dbsession)
            issuer.data(found)
            kind.context(found, issuer, dbsession)
            dbsession.rollback()

    variants = {
        "full": full,
        "load": load,
        "load+data": load_data,
        "qr": lambda: qr_data_uri(data["verify_url"]),
        "jinja": lambda: render_html(TEMPLATE, context, locale),
        "render": lambda: write_pdf(*render_html(TEMPLATE, context, locale)),
        "render_pdf": lambda: render_pdf(TEMPLATE, context, data, locale, "receipt.json"),
        "split": split,
        "sign": lambda: issuer.signer.sign(unsigned, reason=reason, location=location),
        "bare": lambda: HTML(string=bare_html).write_pdf(),
    }
    timings: dict[str, list[float]] = defaultdict(list)
    order = list(variants)
    shuffle = random.Random(6)
    for iteration in range(args.warmup + args.iterations):
        shuffle.shuffle(order)
        for name in order:
            began = time.process_time()
            parts = variants[name]()
            if iteration >= args.warmup:
                timings[name].append(time.process_time() - began)
                if name == "split":
                    for part, seconds in parts.items():
                        timings[part].append(seconds)
    profile = cProfile.Profile()
    profile.runcall(lambda: [full() for _ in range(3)])
    return {
        "timings": timings,
        "pdfs": pdfs,
        "chars": bare_chars,
        "json": len(json.dumps(data, indent=2, ensure_ascii=False).encode()),
        "profile": by_package(profile),
    }


def by_package(profile: cProfile.Profile) -> list[tuple[str, float]]:
    """Own time (tottime) of the profiled calls, summed per package (weasyprint per module;
    C functions by name, as they are few and telling)."""
    stats = pstats.Stats(profile)
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():
        path = filename.replace("\\", "/")
        if "site-packages/" in path:
            parts = path.split("site-packages/", 1)[1].split("/")
            name = parts[0].removesuffix(".py")
            if name == "weasyprint":
                name = f"weasyprint.{parts[1].removesuffix('.py')}"
        elif "/portal/" in path:
            name = "portal"
        elif path == "~":
            name = "C: " + function.strip("<>").removeprefix("built-in method ")
        else:
            name = "python stdlib"
        totals[name] += tottime
    total = sum(totals.values())
    return [("total", total)] + sorted(totals.items(), key=lambda item: -item[1])


# 3. PDF size


FONT_KEYS = {"/FontFile", "/FontFile2", "/FontFile3"}


def pdf_parts(pdf: bytes) -> dict[str, int]:
    """Encoded bytes of the document's streams by what they hold, and the signature's CMS."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    sizes: dict[str, int] = defaultdict(int)
    seen: set[int] = set()

    def category(key: str, obj) -> str:
        if key in FONT_KEYS:
            return "font programs"
        if key == "/ToUnicode" or key == "/CIDSet":
            return "font maps (ToUnicode, CIDSet)"
        if key == "/DestOutputProfile" or "/N" in obj:
            return "ICC colour profile (sRGB, for PDF/A)"
        if key == "/Metadata":
            return "XMP metadata"
        if obj.get("/Type") == "/EmbeddedFile":
            return "attachment (receipt.json)"
        if key == "/Contents":
            return "page content"
        return f"other streams ({key})"

    def walk(obj, key):
        if isinstance(obj, generic.IndirectObject):
            if obj.idnum in seen:
                return
            seen.add(obj.idnum)
            obj = obj.get_object()
        if isinstance(obj, generic.StreamObject):
            sizes[category(key, obj)] += len(obj.encoded_data)
        if isinstance(obj, generic.DictionaryObject):
            for name, value in obj.items():
                if name != "/Parent":
                    walk(value, name)
        elif isinstance(obj, generic.ArrayObject):
            for value in obj:
                walk(value, key)

    walk(reader.trailer.raw_get("/Root"), "/Root")
    for signature in reader.embedded_signatures:
        sizes["signature /Contents (reserved, hex-encoded)"] = 2 * len(signature.pkcs7_content)
        sizes["  of which the CMS signature itself (DER)"] = der_length(signature.pkcs7_content)
    return dict(sizes)


def der_length(der: bytes) -> int:
    """Length of the DER value at the start of ``der`` (the rest is the zero padding)."""
    if der[1] < 0x80:
        return 2 + der[1]
    count = der[1] & 0x7F
    return 2 + count + int.from_bytes(der[2 : 2 + count], "big")


# 2. Downloads


def serve_static(ini: str, directory: str) -> None:
    """``receipts.py --serve-static INI DIR``: a Pyramid static view of DIR, nothing else,
    served with the ini's ``[server:main]`` (the portal's production server), as
    ``bench/serve.py INI static DIR`` does for ``bench/pay_flow.py``."""
    from serve import run, static_app

    run(ini, static_app(directory))


class Merged:
    """Loads of one target run in several slices, seen as one."""

    def __init__(self, loads: list[Load], seconds: float, server: str):
        self.loads = loads
        self.measured = [value for load in loads for value in load.measured]
        self.count = sum(load.count for load in loads)
        self.rate = self.count / seconds
        self.errors = [error for load in loads for error in load.errors]
        self.cpu = sum(load.cpu.get(server, 0.0) for load in loads)
        self.busy = sum(load.machine_busy for load in loads) / len(loads)

    def cpu_ms(self) -> float:
        return MS * self.cpu / max(1, self.count)


def fetch(path_for, expect_status: int, sizes: dict | None, headers_for=None):
    def iteration(client: Client):
        path, key = path_for()
        headers = headers_for(key) if headers_for else None
        status, _, body = client.request("GET", path, headers=headers)
        if status != expect_status or (sizes is not None and len(body) != sizes[key]):
            raise RuntimeError(f"{path}: {status}, {len(body)} bytes")

    return iteration


# The run


def main() -> None:
    if sys.argv[1:2] == ["--serve-static"]:
        serve_static(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=30, help="measured renders per variant")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured renders per variant")
    parser.add_argument(
        "--seconds", type=float, default=10, help="measured seconds per download target"
    )
    parser.add_argument("--receipts", type=int, default=10, help="stored receipts of the payer")
    parser.add_argument("--clients", type=int, default=8, help="concurrent download clients")
    parser.add_argument("--pg", default="postgres@127.0.0.1:5432", help="user@host:port")
    parser.add_argument(
        "--queue",
        default="redis://127.0.0.1:6379/14",
        help="task queue of the portal under test (a scratch Redis db: production refuses"
        " 'immediate'; this run enqueues nothing, the receipts are stored beforehand)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only 1. and 3. (render time, PDF size): no downloads",
    )
    args = parser.parse_args()
    began = time.perf_counter()
    results: dict = {"loadavg": [os.getloadavg()], "timing": {}}
    database = f"bench_receipts_{os.getpid()}_{secrets.token_hex(3)}"
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="receipts_") as tmp_name, admin(args) as pg:
        tmp = Path(tmp_name)
        pg.execute(f"CREATE DATABASE {database}")
        try:
            url = pg_url(args, database)
            t = time.perf_counter()
            migrate(url)
            ensure_self_signed(tmp / "sp.key", tmp / "sp.crt", "Portal bench SP")
            ensure_self_signed(
                tmp / "signing.key",
                tmp / "signing.crt",
                "Portal bench receipts",
                extensions=SIGNING_EXTENSIONS,
            )
            portal_port, static_port = free_port(), free_port()
            idp = DevIdP(tmp / "idp", IDP_ENTITY, f"http://127.0.0.1:{portal_port}/saml/metadata")
            settings = {
                "sqlalchemy.url": url,
                "portal.base_url": BASE_URL,
                "portal.pii_hmac_key": secrets.token_hex(32),
                "portal.pii_encryption_key": Fernet.generate_key().decode(),
                "queue.url": args.queue,
                "billing.allow_sandbox": "true",
                "billing.sandbox.base_url": "http://127.0.0.1:9",
                "billing.sandbox.merchant_id": "bench-merchant",
                "billing.sandbox.api_key": "bench-api-key",
                "billing.sandbox.signing_secret": "bench-signing-secret",
                "billing.notify_base_url": BASE_URL,
                "saml.sp_cert": str(tmp / "sp.crt"),
                "saml.sp_key": str(tmp / "sp.key"),
                "saml.idp_metadata": str(idp.metadata_path),
                "receipts.signing_key": str(tmp / "signing.key"),
                "receipts.signing_cert": str(tmp / "signing.crt"),
                "receipts.authority_name": "City of Example – Public Services",
                "receipts.authority_address": "1 Main Square, 1000 Example City",
                "mail.directory": str(tmp / "mail"),
            }
            write_ini(tmp / "portal.ini", portal_port, settings)
            write_ini(tmp / "static.ini", static_port, settings)
            portal = Server(
                "portal",
                [PYTHON, "bench/serve.py", str(tmp / "portal.ini"), "portal"],
                portal_port,
                tmp,
                "/healthz",
            )
            servers.append(portal)
            signed_in = 1 if args.render_only else args.clients  # the first sign-in makes the payer
            clients = [sign_in(portal_port, idp, PERSONA) for _ in range(signed_in)]
            results["timing"]["setup"] = time.perf_counter() - t

            t = time.perf_counter()
            app_settings = get_appsettings(str(tmp / "portal.ini"), "main")
            clock = clock_from_settings(app_settings)
            issuer = DocumentIssuer(
                app_settings, DocumentSigner.from_settings(app_settings), clock.timezone
            )
            issuer.kinds["receipt"] = ReceiptKind()
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            # Billing announces PaymentSucceeded to its sessions' registry: this one has no
            # subscribers, since the bench issues the receipt itself, as receipts' subscriber would.
            registry = Registry("bench")
            registry.settings = app_settings  # the payment's audit entry keys its digest
            install_clock(registry, clock)
            session_factory = get_session_factory(engine, registry)
            with session_factory() as dbsession:
                payer_id = dbsession.scalar(select(User.id).where(User.name_id == PERSONA))
            stored, unrendered_id = store_receipts(session_factory, issuer, payer_id, args.receipts)
            results["timing"]["store"] = time.perf_counter() - t
            results["stored"] = stored

            # 1. render time (the portal server idles meanwhile)
            t = time.perf_counter()
            results["render"] = measure_render(session_factory, issuer, unrendered_id, args)
            results["timing"]["render"] = time.perf_counter() - t
            engine.dispose()
            if args.render_only:
                return report(args, results, time.perf_counter() - began)

            # 2. downloads
            t = time.perf_counter()
            number, sha256, size = stored[0]
            (tmp / "static").mkdir()
            with session_factory() as dbsession:
                first = dbsession.scalar(select(Receipt.pdf).where(Receipt.number == number))
            (tmp / "static" / "receipt.pdf").write_bytes(first)
            static = Server(
                "static",
                [PYTHON, __file__, "--serve-static", str(tmp / "static.ini"), str(tmp / "static")],
                static_port,
                tmp,
                "/healthz",
            )
            servers.append(static)
            static_clients = []
            for client in clients:
                twin = Client(static_port)
                twin.cookies = dict(client.cookies)
                static_clients.append(twin)
            results["downloads"] = downloads(args, stored, portal, static, clients, static_clients)
            results["timing"]["downloads"] = time.perf_counter() - t
        finally:
            for server in reversed(servers):
                server.stop()
            pg.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            if args.queue.startswith("redis://"):
                import redis

                redis.Redis.from_url(args.queue).flushdb()
    results["loadavg"].append(os.getloadavg())
    report(args, results, time.perf_counter() - began)


def downloads(args, stored, portal, static, clients, static_clients) -> dict:
    """Each target in two slices of half ``--seconds``, A B C D A B C D, so that whatever else
    the machine is doing weighs on all of them alike."""
    sizes = {number: size for number, _, size in stored}
    etags = {number: sha256 for number, sha256, _ in stored}
    numbers = list(sizes)
    pick = random.Random(6)

    def receipt_path():
        number = pick.choice(numbers)
        return f"/receipts/{number}.pdf", number

    # each client checks once that it gets exactly the stored bytes
    for client, (number, sha256, _) in zip(clients, stored * len(clients), strict=False):
        status, headers, body = client.request("GET", f"/receipts/{number}.pdf")
        assert status == 200 and hashlib.sha256(body).hexdigest() == sha256, status
        assert headers["ETag"].strip('"') == sha256 and headers["Content-Type"] == "application/pdf"
    static_size = len(static_clients[0].request("GET", "/static/receipt.pdf")[2])
    targets = {
        "receipt": (clients, fetch(receipt_path, 200, sizes), portal),
        "receipt 304": (
            clients,
            fetch(receipt_path, 304, None, lambda number: {"If-None-Match": f'"{etags[number]}"'}),
            portal,
        ),
        "static": (
            static_clients,
            fetch(lambda: ("/static/receipt.pdf", "static"), 200, {"static": static_size}),
            static,
        ),
        "healthz": (clients, fetch(lambda: ("/healthz", None), 200, None), portal),
    }
    slices: dict[str, list[Load]] = defaultdict(list)
    half = args.seconds / 2
    for round_ in range(2):
        for name, (states, iteration, server) in targets.items():
            slices[name].append(
                Load(states, iteration, half, [server], warmup=2.0 if round_ == 0 else 1.0)
            )
    merged = {name: Merged(slices[name], args.seconds, targets[name][2].name) for name in targets}
    return {"merged": merged, "sizes": sizes, "static_size": static_size}


def report(args, results: dict, elapsed: float) -> None:
    render = results["render"]
    timings = render["timings"]
    p50 = {name: quantile(values, 0.5) for name, values in timings.items()}
    print()
    print(
        f"== 1. Render CPU time per receipt (3 bills x 2 lines), {args.iterations} iterations "
        f"after {args.warmup} warm-up, variants interleaved, this process =="
    )
    print(f"{'':62}{'p50 ms':>9}{'p95 ms':>9}{'min ms':>9}{'x bare':>8}")
    rows = [
        ("full pipeline (load, data, QR, render_pdf, sign, flush)", "full"),
        ("  load: session + receipt row", "load"),
        ("  load + data(): payment, bills, lines (kind.load), formatting", "load+data"),
        ("  QR code (PNG data URI)", "qr"),
        ("  render: Jinja + WeasyPrint, default PDF", "render"),
        ("  render_pdf: render as PDF/A-3b + attachment", "render_pdf"),
        ("    Jinja: render the template", "jinja"),
        ("    WeasyPrint layout (parse HTML, style, fonts, boxes)", "layout"),
        ("    WeasyPrint PDF write (draw, subset fonts, PDF/A)", "pdf write"),
        ("  sign: DocumentSigner.sign (PAdES B-B, incremental)", "sign"),
        ("baseline: bare page, same text, default PDF", "bare"),
    ]
    for label, name in rows:
        values = timings[name]
        print(
            f"{label:62}{p50[name] * MS:9.1f}{quantile(values, 0.95) * MS:9.1f}"
            f"{min(values) * MS:9.1f}{p50[name] / p50['bare']:8.2f}"
        )
    print(
        f"RATIO full pipeline : bare page (p50 CPU) = {p50['full'] / p50['bare']:.2f} : 1 "
        f"(goal <= 2.5); render_pdf alone {p50['render_pdf'] / p50['bare']:.2f} : 1"
    )
    stages = {
        "load": p50["load"],
        "data": p50["load+data"] - p50["load"],
        "QR": p50["qr"],
        "render (Jinja + WeasyPrint)": p50["render"],
        "PDF/A + attachment": p50["render_pdf"] - p50["render"],
        "sign": p50["sign"],
    }
    print("stage shares of the full pipeline (p50 of each stage alone / p50 of the whole):")
    for name, seconds in stages.items():
        print(f"  {name:40}{seconds * MS:8.1f} ms{seconds / p50['full']:7.0%}")
    rest = p50["full"] - sum(stages.values())
    print(
        f"  {'rest (flush, stored UPDATE, noise)':40}{rest * MS:8.1f} ms{rest / p50['full']:7.0%}"
    )
    print(
        f"text on the page: {render['chars']} characters in both (the bare page is the "
        "receipt's text as plain paragraphs: no stylesheet, no QR code, default font)"
    )
    print("where the full pipeline's CPU goes (cProfile of 3 runs, own time by package):")
    profile = render["profile"]
    total = profile[0][1]
    for name, seconds in profile[1:11]:
        print(f"  {name:56}{seconds / total:7.0%}")

    if "downloads" in results:
        report_downloads(args, results)
    report_sizes(results)
    if args.render_only:
        return
    start, end = results["loadavg"]
    times = results["timing"]
    print(
        f"\ntotal {elapsed:.0f} s (setup {times['setup']:.0f} s, storing {len(results['stored'])} "
        f"receipts {times['store']:.0f} s, render {times['render']:.0f} s, downloads "
        f"{times['downloads']:.0f} s); load average (1/5/15 min) at start {start[0]:.1f}/"
        f"{start[1]:.1f}/{start[2]:.1f}, at end {end[0]:.1f}/{end[1]:.1f}/{end[2]:.1f} on "
        f"{os.cpu_count()} cores"
    )


def report_downloads(args, results: dict) -> None:
    print()
    downloads = results["downloads"]
    merged = downloads["merged"]
    print(
        f"== 2. Downloads, {args.clients} signed-in keep-alive clients, {args.seconds:g} s "
        f"measured per target (2 interleaved slices), production.ini's server (gunicorn) =="
    )
    sizes = downloads["sizes"]
    print(
        f"{'':50}{'req/s':>8}{'MB/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'CPU ms':>8}{'errors':>7}"
        f"{'busy':>6}"
    )
    mean_size = sum(sizes.values()) / len(sizes)
    rows = [
        (f"GET /receipts/{{number}}.pdf ({len(sizes)} stored)", "receipt", mean_size),
        ("  same, If-None-Match: ETag -> 304 (no body)", "receipt 304", 0),
        (
            "baseline: static file, same bytes, Pyramid only",
            "static",
            downloads["static_size"],
        ),
        ("baseline: portal /healthz (tiny JSON)", "healthz", 0),
    ]
    for label, name, size in rows:
        load = merged[name]
        print(
            f"{label:50}{load.rate:8.1f}{load.rate * size / 1e6:8.2f}"
            f"{quantile(load.measured, 0.5) * MS:8.1f}{quantile(load.measured, 0.95) * MS:8.1f}"
            f"{load.cpu_ms():8.2f}{len(load.errors):7}{load.busy:6.0%}"
        )
    receipt = merged["receipt"]
    print(
        f"ratio receipts/s : static same-size file/s = 1 : "
        f"{merged['static'].rate / receipt.rate:.1f}; : portal /healthz = 1 : "
        f"{merged['healthz'].rate / receipt.rate:.1f}"
    )
    print(
        f"(static file: one stored receipt's {downloads['static_size']:,} bytes; CPU ms: server "
        "process CPU per request; busy: machine CPU use while measuring, "
        f"of {os.cpu_count()} cores)"
    )
    for name, load in merged.items():
        if load.errors:
            print(f"{name}: {len(load.errors)} errors, first: {load.errors[0]}")


def report_sizes(results: dict) -> None:
    render = results["render"]
    print()
    pdfs = render["pdfs"]
    print("== 3. PDF size (bytes) ==")
    signed_parts = pdf_parts(pdfs["signed"])
    bare_parts = pdf_parts(pdfs["bare"])
    print(f"{'bare page (default PDF)':58}{len(pdfs['bare']):>10,}")
    print(f"{'receipt HTML, default PDF':58}{len(pdfs['plain']):>10,}")
    print(
        f"{'receipt, PDF/A-3b':58}{len(pdfs['pdfa']):>10,}"
        f"  +{len(pdfs['pdfa']) - len(pdfs['plain']):,} for PDF/A"
    )
    print(
        f"{'receipt, PDF/A-3b + receipt.json':58}{len(pdfs['pdfa+attachment']):>10,}"
        f"  +{len(pdfs['pdfa+attachment']) - len(pdfs['pdfa']):,} for the attachment "
        f"(JSON {render['json']:,} B before compression)"
    )
    print(
        f"{'receipt as stored (signed)':58}{len(pdfs['signed']):>10,}"
        f"  +{len(pdfs['signed']) - len(pdfs['pdfa+attachment']):,} for the signature"
    )
    stored_sizes = sorted(size for _, _, size in results["stored"])
    print(
        f"{'stored receipts in the download test (min..max)':58}"
        f"{stored_sizes[0]:>10,}..{stored_sizes[-1]:,}"
    )
    print("inside (encoded stream bytes):")
    print(f"  {'':56}{'receipt':>10}{'bare':>10}")
    for name in sorted(set(signed_parts) | set(bare_parts), key=lambda n: -signed_parts.get(n, 0)):
        print(f"  {name:56}{signed_parts.get(name, 0):>10,}{bare_parts.get(name, 0):>10,}")


if __name__ == "__main__":
    main()
