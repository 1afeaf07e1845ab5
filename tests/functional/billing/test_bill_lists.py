"""A list of values given to a statement when it runs (``portal.db.one_of``: an array on
PostgreSQL, an expanding IN on SQLite) matches whole values only: PostgreSQL would cut a
value cast to the column's ``varchar(n)`` short, so a longer one would match the row whose
value is its first n characters."""

from sqlalchemy import select

from portal.billing.models import Bill
from portal.db import one_of
from tests import factories


def test_a_list_parameter_matches_whole_values_only(dbsession):
    bill = factories.bill(dbsession, factories.user(dbsession))
    other = factories.bill(dbsession, bill.payer_user)
    dbsession.commit()
    query = select(Bill.id).where(one_of(Bill.public_id, "ids", dbsession.get_bind().dialect.name))
    found = lambda ids: sorted(dbsession.scalars(query, {"ids": ids}))  # noqa: E731
    assert found([bill.public_id]) == [bill.id]
    assert found([bill.public_id, other.public_id]) == sorted([bill.id, other.id])
    assert found([bill.public_id + "-and-more"]) == []
    assert found([]) == []
