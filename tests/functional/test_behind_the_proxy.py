"""What a client cannot choose behind the proxy: its address (rate limits count the address
the proxy saw) and the size of what the portal reads (gunicorn has no body limit of its own)."""

from __future__ import annotations

import webtest

from portal.documents.ratelimit import verify_limiter
from tests.functional.test_hostile_input import new_app as app_at


def fresh_verify_limit(wsgi_app):
    limiter = verify_limiter(wsgi_app.registry)
    limiter._hits.clear()
    return limiter


def test_a_client_cannot_escape_the_rate_limit_by_writing_x_forwarded_for(wsgi_app):
    """The proxy (127.0.0.1) appends the address it saw; what the client wrote before it
    changes nothing, so a new address per request does not give a new window."""
    limiter = fresh_verify_limit(wsgi_app)
    proxied = app_at(wsgi_app, "127.0.0.1")
    for turn in range(limiter.limit):
        forged = f"10.0.0.{turn}, 203.0.113.7"
        proxied.get("/verify/ABCDEFGHJK", headers={"X-Forwarded-For": forged}, status=404)
    proxied.get(
        "/verify/ABCDEFGHJK", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}, status=429
    )
    # another client behind the same proxy has its own window
    proxied.get("/verify/ABCDEFGHJK", headers={"X-Forwarded-For": "198.51.100.2"}, status=404)
    limiter._hits.clear()


def test_x_forwarded_for_from_anyone_but_the_proxy_is_ignored(wsgi_app):
    limiter = fresh_verify_limit(wsgi_app)
    direct = app_at(wsgi_app, "198.51.100.9")
    for turn in range(limiter.limit):
        headers = {"X-Forwarded-For": f"203.0.113.{turn}"}
        direct.get("/verify/ABCDEFGHJK", headers=headers, status=404)
    direct.get("/verify/ABCDEFGHJK", headers={"X-Forwarded-For": "203.0.113.99"}, status=429)
    # the victim whose address was written in the header still has its whole allowance
    app_at(wsgi_app, "203.0.113.0").get("/verify/ABCDEFGHJK", status=404)
    limiter._hits.clear()


def test_a_body_over_the_limit_is_refused_before_it_is_read(testapp):
    """Before the view's own, smaller limit: no view reads it (the notification is 64 KB)."""
    request = webtest.TestRequest.blank(
        "/billing/notifications/sandbox",
        method="POST",
        body=b'{"type": "payment.succeeded"}',
        content_type="application/json",
        environ={"wsgi.url_scheme": "https", "HTTP_HOST": "localhost"},
    )
    request.environ["CONTENT_LENGTH"] = str(25 * 1024 * 1024 + 1)  # announced, never sent
    response = testapp.do_request(request, status=413)
    assert "larger than the portal takes" in response.text


def test_a_chunked_body_is_refused(testapp):
    response = testapp.post(
        "/billing/notifications/sandbox",
        params=b'{"type": "payment.succeeded"}',
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        status=400,
    )
    assert "chunked bodies are refused" in response.text
