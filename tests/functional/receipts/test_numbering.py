"""Receipt numbers stay gap-free and unique when many payments succeed at once."""

import threading

import pytest
import transaction
from sqlalchemy import select

from portal.db import get_tm_session
from portal.documents.models import DocumentCounter
from portal.documents.numbering import DocumentNumberer


def take_numbers(factory, count, roll_back_every, barrier, taken, errors):
    barrier.wait()
    for index in range(count):
        manager = transaction.TransactionManager(explicit=True)
        try:
            manager.begin()
            session = get_tm_session(factory, manager)
            number = DocumentNumberer(session).next("R", 2026)
            if index % roll_back_every == roll_back_every - 1:
                manager.abort()  # the payment's transaction failed: the number goes back
            else:
                manager.commit()
                taken.append(number)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            manager.abort()


@pytest.mark.postgresql
def test_concurrent_numbering_has_no_gaps_and_no_repeats(wsgi_app, dbsession):
    factory = wsgi_app.registry["dbsession_factory"]
    threads, per_thread = 8, 12
    barrier = threading.Barrier(threads)
    taken, errors = [], []
    workers = [
        threading.Thread(target=take_numbers, args=(factory, per_thread, 4, barrier, taken, errors))
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    expected = threads * per_thread - threads * (per_thread // 4)
    assert sorted(taken) == list(range(1, expected + 1))
    counter = dbsession.scalar(select(DocumentCounter).where(DocumentCounter.series == "R"))
    assert counter.last_number == expected


def test_a_rolled_back_number_is_given_again(wsgi_app, dbsession):
    factory = wsgi_app.registry["dbsession_factory"]
    taken, errors = [], []
    take_numbers(factory, 4, 2, threading.Barrier(1), taken, errors)
    assert errors == [] and taken == [1, 2]
