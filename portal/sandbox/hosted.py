"""The hosted payment page: the only place card details are typed, keeping the portal SAQ-A.

Plain HTML forms, no JavaScript; after the outcome the payer's browser is sent back (303) to the
merchant's `return_url` with only `?psp_id=...`, which proves nothing: the portal must ask the API.
"""

from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response

from .cards import CHALLENGE_CODE, TEST_CARDS, CardRejected, read_card
from .processor import Refused, return_address

ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def format_amount(amount: int, currency: str) -> str:
    """Minor units shown the way the payer reads them, e.g. 1250 EUR → "12.50 EUR"."""
    digits = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    if not digits:
        return f"{amount:,} {currency}"
    major, minor = divmod(amount, 10**digits)
    return f"{major:,}.{minor:0{digits}d} {currency}"


def page(request, template: str, status: int = 200, **context) -> Response:
    html = request.registry.templates.get_template(template).render(
        test_cards=TEST_CARDS, challenge_code=CHALLENGE_CODE, **context
    )
    response = Response(html, status=status, content_type="text/html", charset="utf-8")
    response.headers.update(PAGE_HEADERS)
    return response


def _payment_page(request, payment, status=200, errors=None, values=None) -> Response:
    template = "challenge.jinja2" if payment["awaiting_challenge"] else "pay.jinja2"
    if payment["status"] != "pending":
        template = "finished.jinja2"
    return page(
        request,
        template,
        status,
        payment=payment,
        amount=format_amount(payment["amount"], payment["currency"]),
        return_to=return_address(payment),
        errors=errors or {},
        values=values or {},
    )


def _refusal_page(request, payment_id: str, refusal: Refused) -> Response:
    payment = request.registry.processor.payment(payment_id)
    if payment is None:
        return page(request, "not_found.jinja2", 404)
    return _payment_page(request, payment, refusal.status)


def _back_to_merchant(payment) -> HTTPSeeOther:
    return HTTPSeeOther(location=return_address(payment))


def show(request):
    payment = request.registry.processor.payment(request.matchdict["id"])
    if payment is None:
        return page(request, "not_found.jinja2", 404)
    return _payment_page(request, payment)


def submit(request):
    payment_id = request.matchdict["id"]
    processor = request.registry.processor
    form = request.POST
    try:
        if form.get("action") == "cancel":
            return _back_to_merchant(processor.cancel(payment_id))
        payment = processor.payment(payment_id)
        if payment is None or payment["status"] != "pending":
            raise Refused(409, "payment_finished", "This payment is already finished.")
        try:
            entry = read_card(
                form.get("card_number", ""),
                form.get("expiry", ""),
                form.get("cvc", ""),
                form.get("cardholder_name", ""),
                datetime.now(UTC).date(),
            )
        except CardRejected as rejected:
            kept = {k: form.get(k, "") for k in ("expiry", "cardholder_name")}
            return _payment_page(request, payment, 422, errors=rejected.errors, values=kept)
        payment = processor.pay(payment_id, entry)
    except Refused as refusal:
        return _refusal_page(request, payment_id, refusal)
    if payment["awaiting_challenge"]:
        return _payment_page(request, payment)
    return _back_to_merchant(payment)


def answer_challenge(request):
    payment_id = request.matchdict["id"]
    try:
        payment = request.registry.processor.answer_challenge(
            payment_id, request.POST.get("code", "")
        )
    except Refused as refusal:
        return _refusal_page(request, payment_id, refusal)
    return _back_to_merchant(payment)


def challenge_redirect(request):
    return HTTPSeeOther(location=request.route_path("pay", id=request.matchdict["id"]))


def includeme(config):
    config.registry.templates = Environment(
        loader=PackageLoader("portal.sandbox", "templates"), autoescape=True
    )
    config.add_route("pay", "/pay/{id}")
    config.add_route("pay.challenge", "/pay/{id}/challenge")
    config.add_view(show, route_name="pay", request_method="GET")
    config.add_view(submit, route_name="pay", request_method="POST")
    config.add_view(answer_challenge, route_name="pay.challenge", request_method="POST")
    config.add_view(challenge_redirect, route_name="pay.challenge", request_method="GET")
