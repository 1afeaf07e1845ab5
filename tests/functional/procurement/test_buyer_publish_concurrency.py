"""Publishing under the tender's row lock: two clicks on "Publish" at once (on PostgreSQL, in
two threads) or one after the other publish the tender once; the other click is refused
(409), never a 500 nor a second version."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from portal.identity.models import User
from portal.procurement.models import Tender, TenderVersion
from portal.procurement.tenders import publish
from portal.refusals import Refusal
from portal.tasks import task_dbsession
from tests import factories
from tests.functional.procurement import buyer_support
from tests.functional.procurement.buyer_support import START

procurement, bruno = buyer_support.procurement, buyer_support.bruno
TIMEOUT = 30


def publish_once(registry, tender_id: int, user_id: int, now, gate):
    gate.wait(TIMEOUT)
    try:
        with task_dbsession(registry) as session:
            tender = session.get_one(Tender, tender_id)
            publish(session, tender, actor=session.get_one(User, user_id), now=now)
            return "published"
    except Refusal as refused:
        return refused
    except Exception as failed:  # noqa: BLE001 - the test reports whatever went wrong
        return failed


@pytest.mark.postgresql
def test_two_publish_clicks_at_once_publish_once(dbsession, clock, wsgi_app):
    draft = factories.tender(dbsession, now=clock.now(), published=False)
    dbsession.commit()
    gate = threading.Barrier(2)
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda _n: publish_once(
                    wsgi_app.registry, draft.id, draft.created_by_id, clock.now(), gate
                ),
                range(2),
                timeout=TIMEOUT,
            )
        )
    assert results.count("published") == 1, results
    (refused,) = [result for result in results if isinstance(result, Refusal)]
    assert refused.kind == "conflict"
    assert refused.message.interpolate() == "This tender is published already."
    dbsession.expire_all()
    assert dbsession.get(Tender, draft.id).status == "questions"
    assert dbsession.scalar(select(func.count()).select_from(TenderVersion)) == 1


def test_a_second_publish_click_is_refused(bruno, dbsession):
    draft = factories.tender(dbsession, now=START, published=False)
    dbsession.commit()
    url = f"/procurement/tenders/{draft.reference}"
    first, second = bruno.get(url).forms["publish-form"], bruno.get(url).forms["publish-form"]
    first.submit(status=303)
    refused = second.submit(status=409)
    assert "This tender is published already." in refused.text
    dbsession.expire_all()
    assert dbsession.get(Tender, draft.id).status == "questions"
    assert dbsession.scalar(select(func.count()).select_from(TenderVersion)) == 1
