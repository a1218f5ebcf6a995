"""Files over HTTP: upload, attach through a write, download through the record; who may
do which; and rich text kept to its allow-list."""

from __future__ import annotations

import pytest

from engine.auth import TokenStore
from engine.storage.blobs import BlobStore
from engine.storage.database import Database

URL = "/api/v1/objects/customer/records"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


@pytest.fixture
def clerk(api):
    user = api.users.create_user("carl", None, "Carl", roles=["clerk"], locale="zh-CN")
    token, _ = TokenStore(api.users).create(user, "clerk", ["records:write"])
    return api.auth(token)


def upload(api, name: str, data: bytes, headers=None, content_type="application/pdf"):
    files = {"file": (name, data, content_type)}
    return api.client.post("/api/v1/files", files=files, headers=headers or api.auth())


def test_a_file_goes_up_onto_a_record_and_comes_back_the_same(api):
    kept = upload(api, "合同 2026.pdf", PDF)
    assert kept.status_code == 201, kept.text
    ref = kept.json()
    assert ref["name"] == "合同 2026.pdf" and ref["size"] == len(PDF)
    assert ref["content_type"] == "application/pdf"

    created = api.client.post(
        URL, json={"name": "Hua", "documents": [ref["id"]]}, headers=api.auth()
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["documents"] == [ref]

    got = api.client.get(f"{URL}/{record['id']}/files/documents/{ref['id']}", headers=api.auth())
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"].startswith("application/pdf")
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"

    # Saving the record with the same files again changes nothing (no history, same refs).
    again = api.client.patch(
        f"{URL}/{record['id']}", json={"documents": record["documents"]}, headers=api.auth()
    )
    assert again.status_code == 200 and again.json()["version"] == record["version"]


def test_only_readers_of_the_record_and_field_download(api, clerk):
    ref = upload(api, "a.pdf", PDF).json()
    mine = api.client.post(URL, json={"name": "A", "documents": [ref["id"]]}, headers=api.auth())
    path = f"{URL}/{mine.json()['id']}/files/documents/{ref['id']}"
    assert api.client.get(path, headers=clerk).status_code == 404  # not their record

    # Their own record, but the clerk's role hides the field: still no file.
    shared = api.client.post(
        f"{URL}/{mine.json()['id']}/shares", headers=api.auth(), json={
            "user": api.users.by_username("carl").id, "access": "read"},
    )  # fmt: skip
    assert shared.status_code == 201
    assert api.client.get(path, headers=clerk).status_code == 404
    assert "documents" not in api.client.get(f"{URL}/{mine.json()['id']}", headers=clerk).json()

    # A file id that is not on the record opens nothing either.
    other = upload(api, "b.pdf", PDF).json()
    stray = f"{URL}/{mine.json()['id']}/files/documents/{other['id']}"
    assert api.client.get(stray, headers=api.auth()).status_code == 404


def test_a_file_someone_else_uploaded_cannot_be_attached(api):
    bob = api.users.create_user("bob", None, "Bob", roles=["sales_rep"], locale="en")
    token, _ = TokenStore(api.users).create(bob, "bob", ["records:write"])
    theirs = upload(api, "secret.pdf", PDF).json()  # uploaded by alice
    response = api.client.post(
        URL, json={"name": "B", "documents": [theirs["id"]]}, headers=api.auth(token)
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("documents", "bad_file")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("notes.txt", b"plain text", "file_type"),  # the field accepts images and .pdf
        # a deal's contract may be 2 MB, so the upload is kept; a customer's files 1 MB
        ("big.pdf", b"0" * (1024 * 1024 + 1), "file_too_large"),
    ],
)
def test_the_field_decides_what_it_accepts(api, name, data, code):
    kept = upload(api, name, data, content_type="application/octet-stream")
    assert kept.status_code == 201, kept.text
    ref = kept.json()
    response = api.client.post(URL, json={"name": "C", "documents": [ref["id"]]},
                               headers=api.auth())  # fmt: skip
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("documents", code)
    assert name in error["message"]


def test_an_upload_larger_than_any_field_takes_is_refused_and_not_kept(api, tmp_path):
    response = upload(api, "huge.pdf", b"0" * (2 * 1024 * 1024 + 10))
    assert response.status_code == 422  # the schema's largest attachment field takes 2 MB
    assert response.json()["errors"][0]["code"] == "file_too_large"
    blobs = api.runtime.snapshot.service.files.root
    assert not [p for p in blobs.rglob("*") if p.is_file()]


def test_rich_text_keeps_structure_and_loses_scripts(api):
    html = (
        '<p>Good <b>customer</b><script>alert(1)</script></p>'
        '<img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
        '<a href="https://example.cn" onclick="alert(4)">site</a>'
    )
    record = api.client.post(URL, json={"name": "R", "profile": html}, headers=api.auth()).json()
    kept = record["profile"]
    assert "<p>Good <b>customer</b></p>" in kept
    for gone in ("script", "onerror", "javascript:", "onclick", "<img"):
        assert gone not in kept
    assert 'href="https://example.cn"' in kept and 'rel="noopener noreferrer nofollow"' in kept


def test_blobs_live_beside_the_sqlite_file_unless_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("METACRM_FILES_DIR", raising=False)
    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    assert BlobStore.for_database(db).root == tmp_path / "crm.sqlite3.files"
    monkeypatch.setenv("METACRM_FILES_DIR", str(tmp_path / "elsewhere"))
    assert BlobStore.for_database(db).root == tmp_path / "elsewhere"
    db.dispose()
