"""Billing's events reach a service's receiver after commit, signed, once per event id,
retried with backoff for a day, and verified by the reference receiver over real HTTP."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bench.webhook_receiver import Receiver
from portal.api import openapi_document
from portal.billing import cancel_bill
from portal.billing.models import Bill
from portal.clock import clock as app_clock
from portal.services.webhooks.addresses import AddressPolicy
from portal.services.webhooks.delivery import attempt, deliver_due_webhooks
from portal.services.webhooks.models import DELIVERED, FAILED, PENDING
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.webhooks.conftest import (
    SAME_ORIGIN,
    add_endpoint,
    deliveries,
    free_port,
    running,
)


def form_to(page, ending: str):
    """The page's form posting to an address ending with ``ending``."""
    (form,) = [form for form in page.forms.values() if form.action.endswith(ending)]
    return form


def issued_bill(dbsession) -> int:
    bill = factories.bill(dbsession, factories.user(dbsession), amount=84_00)
    dbsession.commit()
    return bill.id


def cancel(wsgi_app, bill_id: int) -> None:
    """Cancel the bill in a transaction of the app's own, as a clerk's request would."""
    with task_dbsession(wsgi_app.registry) as session:
        bill = session.get(Bill, bill_id)
        cancel_bill(session, bill, "assessed twice", app_clock(wsgi_app.registry).now())


def test_a_cancelled_bill_reaches_the_receiver_signed_and_verified(
    clara, wsgi_app, dbsession, clock
):
    receiver = Receiver([])
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://127.0.0.1:{port}/hooks"))
        bill_id = issued_bill(dbsession)
        cancel(wsgi_app, bill_id)
    (event,) = receiver.events.values()
    bill = dbsession.get(Bill, bill_id)
    assert event["type"] == "bill.cancelled"
    assert event["data"]["bill"] == {
        "id": bill.public_id,
        "number": bill.number,
        "service": "property-tax",
        "currency": "EUR",
        "total": 84_00,
        "outstanding": 0,
        "status": "cancelled",
    }
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DELIVERED, 1, 200)
    assert delivery.event_id == event["id"] and delivery.response_excerpt == "accepted"
    assert receiver.refused == 0
    assert as_documented(event, "billCancelled") == []


def as_documented(event: dict, webhook: str) -> list[str]:
    """What in ``event`` differs from the OpenAPI document's schema of ``webhook``."""
    document = openapi_document()
    where = document["webhooks"][webhook]["post"]["requestBody"]["content"]["application/json"]
    registry = Registry().with_resource(
        "urn:portal:openapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {
            "$ref": "urn:portal:openapi#/components/schemas/"
            + where["schema"]["$ref"].rsplit("/", 1)[1]
        },
        registry=registry,
    )
    return [error.message for error in validator.iter_errors(event)]


def test_a_rolled_back_cancel_sends_nothing_and_keeps_no_delivery(clara, wsgi_app, dbsession):
    receiver = Receiver([])
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://127.0.0.1:{port}/hooks"))
        bill_id = issued_bill(dbsession)
        with pytest.raises(RuntimeError), task_dbsession(wsgi_app.registry) as session:
            cancel_bill(
                session, session.get(Bill, bill_id), "x", app_clock(wsgi_app.registry).now()
            )
            raise RuntimeError("the request failed after cancelling")
    assert receiver.events == {} and deliveries(dbsession) == []


def test_an_endpoint_hears_only_the_events_it_chose(clara, wsgi_app, dbsession):
    receiver = Receiver([])
    with running(receiver) as port:
        receiver.secrets.append(
            add_endpoint(clara, f"http://127.0.0.1:{port}/hooks", events=("bill.paid",))
        )
        cancel(wsgi_app, issued_bill(dbsession))
    assert receiver.events == {} and deliveries(dbsession) == []


def test_a_failed_delivery_is_retried_with_backoff_and_then_verified(
    clara, wsgi_app, dbsession, clock
):
    port = free_port()
    secret = add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
    cancel(wsgi_app, issued_bill(dbsession))
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (PENDING, 1, None)
    assert delivery.last_error  # the kind of error only: no address, no secret
    first_wait = delivery.next_attempt_at - delivery.last_attempt_at

    receiver = Receiver([secret])
    with running(receiver, port):
        deliver_due_webhooks(wsgi_app.registry)  # not due yet: nothing sent
        assert receiver.events == {} and deliveries(dbsession)[0].attempts == 1
        clock.advance(minutes=1, seconds=1)
        deliver_due_webhooks(wsgi_app.registry)
    (delivery,) = deliveries(dbsession)
    assert first_wait.total_seconds() == pytest.approx(60, abs=2)
    assert (delivery.status, delivery.attempts) == (DELIVERED, 2)
    assert list(receiver.events) == [delivery.event_id]


def test_retries_stop_after_a_day_and_the_administrator_resends(
    clara, signed_in, wsgi_app, dbsession, clock
):
    port = free_port()
    secret = add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
    cancel(wsgi_app, issued_bill(dbsession))
    waits = []
    while deliveries(dbsession)[0].status == PENDING:
        delivery = deliveries(dbsession)[0]
        waits.append(
            round((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds() / 60)
        )
        clock.set(delivery.next_attempt_at)
        deliver_due_webhooks(wsgi_app.registry)
    (delivery,) = deliveries(dbsession)
    assert delivery.status == FAILED
    assert waits[:6] == [1, 2, 4, 8, 16, 32]  # doubling, then at most 6 hours
    assert delivery.last_attempt_at - delivery.created_at <= dt.timedelta(hours=24)
    clara = signed_in("clerk-clara")  # a day later: signed in again
    log = clara.get("/backoffice/services/property-tax/webhooks/deliveries")
    assert "Failed" in log.text and delivery.event_id in log.text

    receiver = Receiver([secret], clock=lambda: clock.now().timestamp())
    with running(receiver, port):
        form_to(log, "/resend").submit(headers=SAME_ORIGIN, status=303)
    (delivery,) = deliveries(dbsession)
    assert delivery.status == DELIVERED
    assert list(receiver.events) == [delivery.event_id]


def test_resending_without_the_csrf_token_is_refused(clara, wsgi_app, dbsession):
    add_endpoint(clara, f"http://127.0.0.1:{free_port()}/hooks")
    cancel(wsgi_app, issued_bill(dbsession))
    (delivery,) = deliveries(dbsession)
    clara.post(
        f"/backoffice/services/property-tax/webhooks/deliveries/{delivery.id}/resend",
        headers=SAME_ORIGIN,
        status=400,
    )


def test_the_same_event_is_sent_again_under_the_same_id_and_the_receiver_acts_once(
    clara, wsgi_app, dbsession
):
    receiver = Receiver([])
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://127.0.0.1:{port}/hooks"))
        cancel(wsgi_app, issued_bill(dbsession))
        log = clara.get("/backoffice/services/property-tax/webhooks/deliveries")
        form_to(log, "/resend").submit(headers=SAME_ORIGIN, status=303)
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.attempts) == (DELIVERED, 2)
    assert len(receiver.events) == 1


def test_a_rotated_secret_signs_alongside_the_old_one_until_it_is_retired(
    clara, wsgi_app, dbsession
):
    port = free_port()
    old = add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
    page = clara.get("/backoffice/services/property-tax/webhooks")
    rotated = form_to(page, "/rotate").submit(headers=SAME_ORIGIN, status=200)
    new = rotated.html.find("code", id="secret").text
    assert new != old and rotated.headers["Cache-Control"] == "no-store"

    still_old, switched = Receiver([old]), Receiver([new])
    with running(still_old, port):
        cancel(wsgi_app, issued_bill(dbsession))
    with running(switched, port):
        cancel(wsgi_app, issued_bill(dbsession))
    assert len(still_old.events) == 1 and len(switched.events) == 1

    page = clara.get("/backoffice/services/property-tax/webhooks")
    form_to(page, "/retire").submit(headers=SAME_ORIGIN, status=303)
    with running(still_old, port):
        cancel(wsgi_app, issued_bill(dbsession))
    assert still_old.refused == 1 and len(still_old.events) == 1
    assert deliveries(dbsession)[-1].status == PENDING  # refused: tried again later
    with running(switched, port):
        attempt(wsgi_app.registry, deliveries(dbsession)[-1].id)  # not due: nothing happens
    assert len(switched.events) == 1


def test_an_address_that_now_resolves_to_a_private_network_is_not_called(
    clara, wsgi_app, dbsession
):
    """DNS may change after registration: the address is checked again before each attempt."""
    receiver = Receiver([])
    registry = wsgi_app.registry
    checked = registry["webhooks.address_policy"]
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://localhost:{port}/hooks"))
        registry["webhooks.address_policy"] = AddressPolicy(
            registry.settings, lambda host, port: ["10.9.8.7"]
        )
        try:
            cancel(wsgi_app, issued_bill(dbsession))
        finally:
            registry["webhooks.address_policy"] = checked
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.last_error) == (PENDING, "address refused")
    assert receiver.events == {}


def test_two_workers_picking_up_the_same_delivery_send_it_once(clara, wsgi_app, dbsession, clock):
    """The job after commit and the every-minute sweep may both hold a delivery's id: the
    conditional claim lets one of them send it."""
    port = free_port()
    secret = add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
    cancel(wsgi_app, issued_bill(dbsession))  # nobody listening yet: due again in a minute
    (delivery,) = deliveries(dbsession)
    clock.advance(minutes=2)
    receiver = Receiver([secret], clock=lambda: clock.now().timestamp())
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        attempt(wsgi_app.registry, delivery.id)

    with running(receiver, port):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    (delivery,) = deliveries(dbsession)
    assert receiver.received == 1
    assert (delivery.status, delivery.attempts) == (DELIVERED, 2)


def test_an_https_receiver_is_called_at_the_checked_address_with_its_certificate_verified(
    clara, wsgi_app, dbsession, localhost_certificate
):
    """The attempt connects to the checked address yet names the host for TLS: a certificate
    for ``localhost`` verifies; untrusted, the attempt fails and is retried."""
    certificate, tls = localhost_certificate
    settings = wsgi_app.registry.settings
    receiver = Receiver([])
    with running(receiver, tls=tls) as port:
        receiver.secrets.append(add_endpoint(clara, f"https://localhost:{port}/hooks"))
        cancel(wsgi_app, issued_bill(dbsession))  # the system's CAs do not know this one
        settings["webhooks.ca_bundle"] = str(certificate)
        try:
            cancel(wsgi_app, issued_bill(dbsession))
        finally:
            del settings["webhooks.ca_bundle"]
    untrusted, trusted = deliveries(dbsession)
    assert (untrusted.status, untrusted.last_status_code) == (PENDING, None)
    assert untrusted.last_error
    assert (trusted.status, trusted.last_status_code) == (DELIVERED, 200)
    assert list(receiver.events) == [trusted.event_id]


def test_a_host_resolving_to_several_addresses_is_reached_on_the_one_that_listens(
    clara, wsgi_app, dbsession
):
    """``localhost`` may resolve to ``::1`` before ``127.0.0.1``; the receiver listens on one."""
    receiver = Receiver([])
    registry = wsgi_app.registry
    checked = registry["webhooks.address_policy"]
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://localhost:{port}/hooks"))
        registry["webhooks.address_policy"] = AddressPolicy(
            registry.settings, lambda host, port: ["::1", "127.0.0.1"]
        )
        try:
            cancel(wsgi_app, issued_bill(dbsession))
        finally:
            registry["webhooks.address_policy"] = checked
    (delivery,) = deliveries(dbsession)
    assert delivery.status == DELIVERED and len(receiver.events) == 1


def test_a_delivery_pending_for_a_removed_endpoint_fails_and_is_not_sent(
    clara, wsgi_app, dbsession, clock
):
    port = free_port()
    secret = add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
    cancel(wsgi_app, issued_bill(dbsession))
    page = clara.get("/backoffice/services/property-tax/webhooks")
    form_to(page, "/remove").submit(headers=SAME_ORIGIN, status=303)
    receiver = Receiver([secret], clock=lambda: clock.now().timestamp())
    with running(receiver, port):
        clock.advance(minutes=2)
        deliver_due_webhooks(wsgi_app.registry)
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.last_error) == (FAILED, "endpoint removed")
    assert receiver.received == 0
    log = clara.get("/backoffice/services/property-tax/webhooks/deliveries")
    assert not [form for form in log.forms.values() if form.action.endswith("/resend")]


def test_an_endpoint_added_by_another_process_hears_events_from_its_activation(
    wsgi_app, dbsession, clock, tax_service
):
    """This process reads which services have endpoints at most once a minute, so an endpoint
    another process added is heard from its ``active_from`` on, never before, by anyone."""
    from portal.services.webhooks.listening import ACTIVATION, REFRESH, listening_services

    listening_services(wsgi_app.registry).services(dbsession, clock.now())  # known: none
    endpoint, _old = factories.webhook_delivery(dbsession, tax_service)
    endpoint.events, endpoint.active_from = "bill.cancelled", clock.now() + ACTIVATION
    dbsession.commit()  # as the other process commits it, unknown to this one's set

    cancel(wsgi_app, issued_bill(dbsession))  # not looked for: no statement, no delivery
    clock.advance(seconds=REFRESH.total_seconds())
    cancel(wsgi_app, issued_bill(dbsession))  # looked for, not active yet
    clock.advance(seconds=(ACTIVATION - REFRESH).total_seconds())
    cancel(wsgi_app, issued_bill(dbsession))
    assert [d.event_type for d in deliveries(dbsession)] == ["bill.paid", "bill.cancelled"]


@contextlib.contextmanager
def slow_receiver(on_request=None, trickle_for: float = 8.0):
    """A receiver on a free local port that reads the request, calls ``on_request``, then
    answers a byte at a time (one every 0.1 s, each inside any read timeout) for
    ``trickle_for`` seconds: an attempt that only has per-read timeouts waits all along."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopping = threading.Event()

    def answer(connection):
        with connection:
            connection.settimeout(trickle_for)
            with contextlib.suppress(OSError):
                connection.recv(65536)
                if on_request is not None:
                    on_request()
                drip = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
                until = time.monotonic() + trickle_for
                for byte in drip:
                    if stopping.is_set() or time.monotonic() > until:
                        break
                    connection.sendall(bytes([byte]))
                    time.sleep(0.1)

    def serve():
        while not stopping.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join()
        listener.close()


@contextlib.contextmanager
def attempts_of(wsgi_app, seconds: float):
    settings = wsgi_app.registry.settings
    settings["webhooks.attempt_seconds"] = str(seconds)
    try:
        yield
    finally:
        del settings["webhooks.attempt_seconds"]


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_attempts_deadline(
    clara, wsgi_app, dbsession
):
    with slow_receiver() as port:
        add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
        bill_id = issued_bill(dbsession)
        with attempts_of(wsgi_app, 1):
            started = time.monotonic()
            cancel(wsgi_app, bill_id)
            took = time.monotonic() - started
    assert took < 4
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.last_error) == (PENDING, "deadline passed")


def test_an_attempt_tries_three_of_a_hosts_addresses_at_most(clara, wsgi_app, dbsession):
    """Each address that does not answer costs a connect timeout: a host resolving to many
    would hold the attempt (and its worker) for minutes."""
    receiver = Receiver([])
    registry = wsgi_app.registry
    checked = registry["webhooks.address_policy"]
    with running(receiver) as port:
        receiver.secrets.append(add_endpoint(clara, f"http://localhost:{port}/hooks"))
        nobody = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        registry["webhooks.address_policy"] = AddressPolicy(
            registry.settings, lambda host, port: [*nobody, "127.0.0.1"]
        )
        try:
            cancel(wsgi_app, issued_bill(dbsession))
        finally:
            registry["webhooks.address_policy"] = checked
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.last_error) == (PENDING, "NewConnectionError")
    assert receiver.events == {}


def test_an_attempt_that_lost_its_claim_records_nothing(clara, wsgi_app, dbsession, clock):
    """Once another attempt claimed the delivery (this one's lease ran out), this one's
    outcome is not written over the other's."""
    from sqlalchemy import update

    from portal.services.webhooks.models import WebhookDelivery

    def another_worker_claims_it():
        with task_dbsession(wsgi_app.registry) as session:
            session.execute(
                update(WebhookDelivery).values(
                    attempts=WebhookDelivery.attempts + 1, last_error="the other attempt's"
                )
            )

    with slow_receiver(another_worker_claims_it, trickle_for=0.5) as port:
        add_endpoint(clara, f"http://127.0.0.1:{port}/hooks")
        cancel(wsgi_app, issued_bill(dbsession))
    (delivery,) = deliveries(dbsession)
    assert (delivery.status, delivery.attempts) == (PENDING, 2)
    assert delivery.last_error == "the other attempt's" and delivery.last_attempt_at is None
