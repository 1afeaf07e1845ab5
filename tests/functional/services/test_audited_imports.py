"""A bill import is audited: by which clerk, into which service, how many rows and bills, and
the SHA-256 of the file; a refused import leaves no entry."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.identity.models import User
from tests.functional.services.conftest import ANA_NATIONAL_ID, csv_bytes, upload
from tests.functional.services.test_taxes import HEADER


def imports(dbsession) -> list[AuditEntry]:
    dbsession.expire_all()
    return list(dbsession.scalars(select(AuditEntry).where(AuditEntry.action == "bills.imported")))


def test_an_import_is_audited_with_the_files_hash(signed_in, dbsession, ana):
    clerk = signed_in("clerk-clara")
    data = csv_bytes(
        HEADER, f"{ANA_NATIONAL_ID},PT-2026-001,K2026-001,2026,412.61,EUR,2,2026-03-31;2026-09-30"
    )
    upload(clerk, "property-tax", data)

    (entry,) = imports(dbsession)
    clara = dbsession.scalar(select(User.id).where(User.name_id == "clerk-clara"))
    assert entry.actor_id == clara
    assert (entry.object_type, entry.object_id) == ("service", "property-tax")
    assert entry.details == {
        "kind": "tax",
        "rows": 1,
        "bills": 2,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert ANA_NATIONAL_ID not in str(entry.details)


def test_a_refused_import_is_not_audited(signed_in, dbsession, ana):
    clerk = signed_in("clerk-clara")
    upload(clerk, "property-tax", csv_bytes(HEADER), status=422)

    assert imports(dbsession) == []
