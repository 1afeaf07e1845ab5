"""The stores documents are kept in, real ones: a folder under the test's tmp_path, and an
S3 bucket on moto's server over HTTP (so boto3 runs as in production), and the database."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from portal.documents.kinds import document_issuer
from portal.documents.storage import DatabaseStore, DocumentStore, FilesystemStore, S3Store
from tests.functional.backoffice.conftest import payments, provider, services  # noqa: F401
from tests.functional.billing.conftest import ana, ana_bills, payer  # noqa: F401 (fixtures)

#: moto's server takes any credentials; boto3 must find some in its chain, as in production
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "portal-test", "AWS_SECRET_ACCESS_KEY": "portal-test-secret"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free port of this machine, for the session (one per xdist worker)."""
    server_module = pytest.importorskip("moto.server")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as environment:
        for name, value in CREDENTIALS.items():
            environment.setenv(name, value)
        environment.delenv("AWS_PROFILE", raising=False)
        yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_store(endpoint: str, **options) -> S3Store:
    """A store on a new, empty bucket of its own."""
    bucket = f"portal-{uuid.uuid4().hex[:12]}"
    store = S3Store(bucket, endpoint_url=endpoint, region="eu-central-1", **options)
    store.client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    return store


@pytest.fixture(params=["database", "filesystem", "s3"])
def any_store(request, tmp_path) -> DocumentStore:
    if request.param == "database":
        return DatabaseStore()
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "documents")
    return s3_store(request.getfixturevalue("s3_endpoint"))


@pytest.fixture(params=["filesystem", "s3"])
def outside_store(request, tmp_path) -> DocumentStore:
    """A store keeping bytes outside the database, under keys."""
    if request.param == "filesystem":
        return FilesystemStore(tmp_path / "documents")
    return s3_store(request.getfixturevalue("s3_endpoint"))


@pytest.fixture
def use_store(wsgi_app):
    """Have the app (its requests and its tasks) keep documents in the store given, for this
    test; the database again afterwards."""
    issuer = document_issuer(wsgi_app.registry)
    before = issuer.store

    def use(store: DocumentStore) -> DocumentStore:
        issuer.store = store
        return store

    yield use
    issuer.store = before


def overwrite(store: DocumentStore, key: str, data: bytes) -> None:
    """Change an object behind the portal's back, as someone with access to the store could."""
    if isinstance(store, FilesystemStore):
        store.path(key).write_bytes(data)
    else:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=data)


def remove(store: DocumentStore, key: str) -> None:
    if isinstance(store, FilesystemStore):
        os.unlink(store.path(key))
    else:
        store.client.delete_object(Bucket=store.bucket, Key=key)
