"""What every store promises (the database, a folder, an S3 bucket on moto's server): the
bytes kept are the bytes read, keeping them again is no change, and bytes changed or lost
behind the portal's back are refused, never served."""

from __future__ import annotations

import hashlib
import logging
import os

import pytest
import requests

from portal.documents.storage import (
    DatabaseStore,
    FilesystemStore,
    S3Store,
    StoredObjectMissing,
    StoreUnreachable,
    check_key,
    document_key,
    file_key,
    keep,
    keep_many,
    read_checked,
    store_from_settings,
)
from portal.refusals import UNAVAILABLE, Refusal
from portal.settings import SettingsError, apply_environment
from tests.functional.documents.conftest import free_port, overwrite, remove, s3_store

#: not valid UTF-8, with every byte value: bytes are kept as bytes
DATA = bytes(range(256)) * 4096
SHA256 = hashlib.sha256(DATA).hexdigest()
KEY = document_key(SHA256)


def test_bytes_kept_are_read_back_exactly(any_store):
    storage_key, in_row = keep(any_store, KEY, DATA, "application/pdf")
    if isinstance(any_store, DatabaseStore):
        assert (storage_key, in_row) == (None, DATA)
    else:
        assert (storage_key, in_row) == (KEY, None)
    assert read_checked(any_store, storage_key, lambda: in_row, SHA256) == DATA


def test_keeping_the_same_bytes_again_is_no_change(any_store):
    """A retried request or task keeps the same bytes under the same key."""
    first = keep(any_store, KEY, DATA, "application/pdf")
    again = keep(any_store, KEY, DATA, "application/pdf")
    assert again == first
    storage_key, in_row = again
    assert read_checked(any_store, storage_key, lambda: in_row, SHA256) == DATA


def test_deleted_bytes_are_gone_and_deleting_again_is_no_error(outside_store):
    keep(outside_store, KEY, DATA, "application/pdf")
    outside_store.delete(KEY)
    with pytest.raises(StoredObjectMissing):
        outside_store.get(KEY)
    outside_store.delete(KEY)


def test_changed_bytes_are_refused_not_served(any_store, caplog):
    storage_key, in_row = keep(any_store, KEY, DATA, "application/pdf")
    changed = DATA[:-1] + b"X"
    if storage_key is None:
        in_row = changed
    else:
        overwrite(any_store, storage_key, changed)
    with caplog.at_level(logging.ERROR), pytest.raises(Refusal) as refused:
        read_checked(any_store, storage_key, lambda: in_row, SHA256)
    assert refused.value.kind == UNAVAILABLE
    assert "cannot be read just now" in str(refused.value.message)
    assert "StoredObjectChanged" in caplog.text


def test_lost_bytes_are_refused(any_store, caplog):
    storage_key, in_row = keep(any_store, KEY, DATA, "application/pdf")
    if storage_key is None:
        in_row = None
    else:
        remove(any_store, storage_key)
    with caplog.at_level(logging.ERROR), pytest.raises(Refusal):
        read_checked(any_store, storage_key, lambda: in_row, SHA256)
    assert "StoredObjectMissing" in caplog.text


def test_many_kept_at_once_are_each_read_back_in_order(any_store):
    """As an opening keeps a tender's bid documents: several puts at a time."""
    files = {
        hashlib.sha256(data).hexdigest(): data for data in (DATA + bytes([n]) for n in range(20))
    }
    kept = keep_many(any_store, [(file_key(d), data, "image/png") for d, data in files.items()])
    for (digest, data), (storage_key, in_row) in zip(files.items(), kept, strict=True):
        assert storage_key in (None, file_key(digest))
        assert read_checked(any_store, storage_key, lambda kept=in_row: kept, digest) == data


def test_outside_stores_keep_under_the_key_and_know_what_they_lack(outside_store):
    assert outside_store.put("files/" + SHA256, DATA, "image/png") == "files/" + SHA256
    assert outside_store.get("files/" + SHA256) == DATA
    with pytest.raises(StoredObjectMissing):
        outside_store.get("files/" + "0" * 64)


def test_the_database_keeps_nothing_under_keys():
    """A row naming a key written while another store was configured is not found here."""
    with pytest.raises(StoredObjectMissing):
        DatabaseStore().get(KEY)


@pytest.mark.parametrize(
    "key",
    [
        "../outside",
        "documents/../../outside",
        "/etc/passwd",
        "documents//x",
        "./x",
        "documents/..",
        "Documents/X.pdf",
        "documents/x\x00.pdf",
        "",
        "a" * 201,
    ],
)
def test_no_key_leaves_its_place(outside_store, key):
    with pytest.raises(ValueError):
        outside_store.put(key, DATA, "application/pdf")
    with pytest.raises(ValueError):
        check_key(key)


def test_a_folder_reached_through_a_link_out_of_the_store_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    store = FilesystemStore(tmp_path / "documents")
    store.root.mkdir()
    (store.root / "documents").symlink_to(outside)
    with pytest.raises(ValueError):
        store.put(KEY, DATA, "application/pdf")
    assert list(outside.iterdir()) == []


def test_a_folder_writes_whole_files_and_leaves_no_temporary_ones(tmp_path):
    store = FilesystemStore(tmp_path / "documents")
    store.put(KEY, DATA, "application/pdf")
    store.put(KEY, DATA, "application/pdf")
    assert [p.name for p in store.path(KEY).parent.iterdir()] == [f"{SHA256}.pdf"]
    assert store.path(KEY).read_bytes() == DATA


def test_a_folder_that_cannot_be_written_says_so_and_keeps_nothing(tmp_path):
    blocked = tmp_path / "documents"
    blocked.mkdir()
    (blocked / "documents").write_bytes(b"a file where the folder of documents goes")
    store = FilesystemStore(blocked)
    with pytest.raises(StoreUnreachable):
        store.put(KEY, DATA, "application/pdf")
    assert sorted(os.listdir(blocked)) == ["documents"]


def test_an_unreachable_bucket_is_refused_as_unavailable(s3_endpoint, caplog):
    store = S3Store("portal", endpoint_url=f"http://127.0.0.1:{free_port()}", region="eu-central-1")
    with pytest.raises(StoreUnreachable):
        store.put(KEY, DATA, "application/pdf")
    with caplog.at_level(logging.ERROR), pytest.raises(Refusal) as refused:
        read_checked(store, KEY, lambda: None, SHA256)
    assert refused.value.kind == UNAVAILABLE
    assert "StoreUnreachable" in caplog.text


def test_a_bucket_hands_out_short_lived_urls_only_when_asked(s3_endpoint):
    disposition = 'attachment; filename="R-2026-000001.pdf"'
    plain = s3_store(s3_endpoint)
    plain.put(KEY, DATA, "application/pdf")
    assert plain.download_url(KEY, "application/pdf", disposition) is None

    redirecting = s3_store(s3_endpoint, redirect=True, url_seconds=45)
    redirecting.put(KEY, DATA, "application/pdf")
    url = redirecting.download_url(KEY, "application/pdf", disposition)
    assert "X-Amz-Expires=45" in url and "X-Amz-Signature=" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == DATA
    assert fetched.headers["Content-Disposition"] == disposition
    assert fetched.headers["Content-Type"] == "application/pdf"


def test_the_setting_chooses_the_store(tmp_path, s3_endpoint):
    assert isinstance(store_from_settings({}), DatabaseStore)
    assert isinstance(store_from_settings({"documents.storage": "database"}), DatabaseStore)
    folder = store_from_settings(
        {"documents.storage": "filesystem", "documents.storage.directory": str(tmp_path / "d")}
    )
    assert isinstance(folder, FilesystemStore) and (tmp_path / "d").is_dir()
    dotted = store_from_settings(
        {
            "documents.storage": "portal.documents.storage.FilesystemStore",
            "documents.storage.directory": str(tmp_path / "e"),
        }
    )
    assert isinstance(dotted, FilesystemStore)
    bucket = s3_store(s3_endpoint).bucket
    settings = apply_environment(
        {},
        {
            "DOCUMENTS_STORAGE": "s3",
            "DOCUMENTS_S3_BUCKET": bucket,
            "DOCUMENTS_S3_ENDPOINT_URL": s3_endpoint,
            "DOCUMENTS_S3_REGION": "eu-central-1",
            "DOCUMENTS_S3_REDIRECT": "true",
            "DOCUMENTS_S3_URL_SECONDS": "30",
        },
    )
    s3 = store_from_settings(settings)
    assert isinstance(s3, S3Store) and s3.redirect and s3.url_seconds == 30
    s3.put(KEY, DATA, "application/pdf")
    assert s3.get(KEY) == DATA


@pytest.mark.parametrize(
    "settings, missing",
    [
        ({"documents.storage": "filesystem"}, "DOCUMENTS_STORAGE_DIRECTORY"),
        ({"documents.storage": "s3"}, "DOCUMENTS_S3_BUCKET"),
    ],
)
def test_a_store_without_its_settings_does_not_start(settings, missing):
    with pytest.raises(SettingsError, match=missing):
        store_from_settings(settings)
