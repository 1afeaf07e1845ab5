"""Where stored documents' bytes are kept: in their own database row (the default), in a
folder, or in S3-compatible object storage, chosen by ``documents.storage``.

``documents.storage`` is ``database``, ``filesystem``, ``s3`` or the dotted name of a class
with ``from_settings(settings)``. A row records where its bytes are: a NULL ``storage_key``
means its own bytes column holds them (every row written before this setting existed, and
every row written with ``database``); otherwise the configured store holds them under that key.

Keys are content-addressed (``documents/<sha256>.pdf``, ``files/<sha256>``): a retried
request or task writes the same bytes under the same key, so writing is idempotent, and two
renderings of one document (their signatures differ) never overwrite each other. Bytes are
written before the row that names them: a rolled-back transaction leaves at most an unnamed
object (harmless), never a row naming nothing. Whatever is read is checked against the SHA-256
its row recorded, so a changed or swapped object is refused rather than served.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyramid.path import DottedNameResolver
from pyramid.registry import Registry
from pyramid.settings import asbool

from portal.documents.kinds import document_issuer
from portal.i18n import _
from portal.refusals import UNAVAILABLE, Refusal
from portal.settings import ENVIRONMENT, SettingsError

log = logging.getLogger(__name__)

#: what a key may look like: "/"-separated segments of lower-case letters, digits, "-", "_"
#: and ".", each starting with a letter or digit (so never "." or ".."): no key leaves a
#: folder or names something odd in a bucket
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*")


class StoredObjectMissing(LookupError):
    """The store holds nothing under the key a row names (lost, or another store's key)."""


class StoredObjectChanged(ValueError):
    """The bytes read are not the ones whose SHA-256 the row recorded."""


class StoreUnreachable(RuntimeError):
    """The store could not be asked (the object storage down, a folder not mounted)."""


def required(settings: Mapping, store: str, name: str) -> str:
    """The setting ``name`` the store ``store`` cannot work without."""
    value = settings.get(name)
    if not value:
        variable = {setting: var for var, setting in ENVIRONMENT.items()}[name]
        raise SettingsError(f"documents.storage = {store} needs {name} (env {variable})")
    return value


def check_key(key: str) -> str:
    if len(key) > 200 or not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def document_key(sha256: str) -> str:
    return f"documents/{sha256}.pdf"


def file_key(sha256: str) -> str:
    return f"files/{sha256}"


class DocumentStore(ABC):
    """Bytes kept under keys. :meth:`put` returns the key for the row to record, or None
    when the row is to keep the bytes in its own column."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Mapping) -> DocumentStore:
        """The store the settings describe (how ``documents.storage`` makes one)."""

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> str | None:
        """Keep ``data`` under ``key`` durably before returning; the same bytes again under the
        same key is no change."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`StoredObjectMissing` if there are none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Forget the bytes under ``key`` (nothing there is no error). Called only once the
        transaction that deleted the last row naming the key has committed."""

    def download_url(self, key: str, content_type: str, disposition: str) -> str | None:
        """A short-lived address a browser may fetch the bytes from itself, answered with
        these Content-Type and Content-Disposition headers; or None to have the portal send
        them."""
        return None


class DatabaseStore(DocumentStore):
    """The row's own bytes column (``document.pdf``, ``stored_file.content``), written in the
    row's transaction: nothing is kept under a key, so a key names nothing here (a row written
    while another store was configured)."""

    @classmethod
    def from_settings(cls, settings: Mapping) -> DatabaseStore:
        return cls()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        return None

    def get(self, key: str) -> bytes:
        raise StoredObjectMissing(key)

    def delete(self, key: str) -> None:
        """Nothing to do: the bytes went with their row."""


class FilesystemStore(DocumentStore):
    """A folder (``documents.storage.directory``), shared by every app server and worker
    (a network file system when there are several machines). Each object is written to a
    temporary file beside its place, flushed to disk and renamed into place (the folder flushed
    too), so a reader sees the whole object or none, and a crash after the row is committed
    cannot lose it."""

    def __init__(self, directory: str | Path):
        self.root = Path(directory).resolve()

    @classmethod
    def from_settings(cls, settings: Mapping) -> FilesystemStore:
        directory = required(settings, "filesystem", "documents.storage.directory")
        Path(directory).mkdir(parents=True, exist_ok=True)
        return cls(directory)

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"not a storage key: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> str:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                # readable by the group (mkstemp makes it the owner's only): the app servers
                # and workers may run as different users of one group sharing the folder
                os.chmod(temporary, 0o640)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            # the rename itself on disk too, before a row may name the object
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as error:
            raise StoreUnreachable(f"cannot write {key}: {error.strerror}") from error
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as error:
            raise StoredObjectMissing(key) from error
        except OSError as error:
            raise StoreUnreachable(f"cannot read {key}: {error.strerror}") from error

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StoreUnreachable(f"cannot delete {key}: {error.strerror}") from error


class S3Store(DocumentStore):
    """An S3-compatible bucket through boto3. Bucket, endpoint and region come from settings
    (``documents.s3.*``, or ``DOCUMENTS_S3_*``); the credentials from boto3's own chain
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, an instance role), never from the ini
    file. With ``documents.s3.redirect`` a download is a redirect to a presigned URL valid
    ``documents.s3.url_seconds`` (default 60): the bytes then go from the bucket to the
    browser without passing the portal, and the portal no longer checks their hash on the way."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        redirect: bool = False,
        url_seconds: int = 60,
    ):
        # imported here: botocore takes a third of a second to load, which the portal's other
        # stores need not pay at every start
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.redirect = redirect
        self.url_seconds = url_seconds
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # presigned URLs signed with SigV4, which every S3 region and server takes
                signature_version="s3v4",
                # path-style addressing works with every S3-compatible server (MinIO, Ceph)
                s3={"addressing_style": "path"} if endpoint_url else None,
            ),
        )

    @classmethod
    def from_settings(cls, settings: Mapping) -> S3Store:
        bucket = required(settings, "s3", "documents.s3.bucket")
        return cls(
            bucket,
            endpoint_url=settings.get("documents.s3.endpoint_url"),
            region=settings.get("documents.s3.region"),
            redirect=asbool(settings.get("documents.s3.redirect", False)),
            url_seconds=int(settings.get("documents.s3.url_seconds", 60)),
        )

    def put(self, key: str, data: bytes, content_type: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=check_key(key),
                Body=data,
                ContentType=content_type,
                # the bucket checks what arrived against the hash sent with it
                ChecksumAlgorithm="SHA256",
            )
        except (BotoCoreError, ClientError) as error:
            raise StoreUnreachable(f"cannot write {key}: {error}") from error
        return key

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
            return found["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StoredObjectMissing(key) from error
            raise StoreUnreachable(f"cannot read {key}: {error}") from error
        except BotoCoreError as error:
            raise StoreUnreachable(f"cannot read {key}: {error}") from error

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # S3 answers a missing key with success too
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as error:
            raise StoreUnreachable(f"cannot delete {key}: {error}") from error

    def download_url(self, key: str, content_type: str, disposition: str) -> str | None:
        if not self.redirect:
            return None
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": check_key(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=self.url_seconds,
        )


#: the short names ``documents.storage`` takes
STORES: dict[str, type[DocumentStore]] = {
    "database": DatabaseStore,
    "filesystem": FilesystemStore,
    "s3": S3Store,
}


def store_from_settings(settings: Mapping) -> DocumentStore:
    name = settings.get("documents.storage", "database")
    factory = STORES.get(name) or DottedNameResolver().resolve(name)
    return factory.from_settings(settings)


def document_store(registry: Registry) -> DocumentStore:
    """The application's store, the issuer's (one object, so a test swapping it swaps both)."""
    return document_issuer(registry).store


def keep(
    store: DocumentStore, key: str, data: bytes, content_type: str
) -> tuple[str | None, bytes | None]:
    """``(storage_key, bytes for the row's column)`` for a row about to record ``data``:
    the bytes are in the store under the key before this returns, or in the row."""
    stored_under = store.put(key, data, content_type)
    return stored_under, None if stored_under else data


#: objects put at once by :func:`keep_many` (boto3's clients are thread-safe; the default
#: connection pool holds 10)
PARALLEL_PUTS = 8


def keep_many(
    store: DocumentStore, items: list[tuple[str, bytes, str]]
) -> list[tuple[str | None, bytes | None]]:
    """:func:`keep` for each ``(key, data, content_type)``, in order, several at a time: an
    opening keeps thousands of files in one transaction, and one at a time to a bucket would
    hold it open for minutes."""
    if isinstance(store, DatabaseStore) or len(items) < 2:
        return [keep(store, *item) for item in items]
    with ThreadPoolExecutor(PARALLEL_PUTS) as pool:
        return list(pool.map(lambda item: keep(store, *item), items))


def forget_after_commit(dbsession, store: DocumentStore, keys: set[str]) -> None:
    """Delete the bytes under ``keys`` from ``store`` once ``dbsession``'s transaction has
    committed (the rows that named them deleted in it; the caller checked no other row names
    them), never before: a rolled-back transaction keeps rows and bytes. A store that cannot be
    reached leaves an unnamed object behind (harmless, logged), never a row naming nothing."""
    if not keys:
        return

    def hook(committed: bool) -> None:
        if not committed:
            return
        for key in sorted(keys):
            try:
                store.delete(key)
            except StoreUnreachable as error:
                log.warning("stored object left behind: %s", error)

    dbsession.info["tm"].get().addAfterCommitHook(hook)


def read_checked(
    store: DocumentStore, storage_key: str | None, in_row: Callable[[], bytes | None], sha256: str
) -> bytes:
    """A row's bytes, from the store under ``storage_key`` or (NULL key) from ``in_row()``,
    refused unless their SHA-256 is ``sha256``: whoever can write to the store must not be able
    to make the portal serve other bytes under a valid document's name."""
    try:
        data = store.get(storage_key) if storage_key else in_row()
        if data is None:
            raise StoredObjectMissing(f"row with sha256 {sha256} has no bytes")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoredObjectChanged(f"{storage_key or 'row bytes'} is not sha256 {sha256}")
    except (StoredObjectMissing, StoredObjectChanged, StoreUnreachable) as error:
        log.error("stored document unreadable: %s: %s", type(error).__name__, error)
        raise Refusal(
            UNAVAILABLE,
            _("This document cannot be read just now. Try again later."),
            headers={"Retry-After": "300"},
        ) from error
    return data
