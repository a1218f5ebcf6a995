"""A client generated from the served OpenAPI document works against a real server.

Issue 6 asks that "an API client generated from [the OpenAPI document] must be usable".
This generates one the way a client developer would: the shop pack is served by uvicorn on
a loopback port, ``/api/v1/openapi.json`` is fetched over HTTP, ``openapi-python-client``
(a dev dependency) turns it into a package, and every call below goes through that
package's typed models and per-operation modules, never through hand-written requests.

The generator's complaints are part of the contract: the only thing it may not express is
the raw ``text/csv`` body of the import operations (it generates JSON, form, multipart and
octet-stream bodies only); the multipart upload of the same operation is generated and used
below. One SQLite file serves every test of the module: the record tests cover PostgreSQL,
and what is checked here is the document, which does not depend on the database.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.openapi import openapi_document
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.compiled import compile_schema
from engine.storage.database import Database
from engine.validate import validate_paths

SHOP = Path(__file__).resolve().parents[2] / "fixtures" / "shop_pack"
BIN = Path(sys.executable).parent
GENERATOR = shutil.which("openapi-python-client", path=str(BIN))
PACKAGE = "metacrm_shop_client"
OBJECTS = ("customer", "deal", "deal_line")
# What openapi-python-client 0.29 prints around its complaints, and the one complaint we
# accept: it has no request body type for text/csv (the import's raw CSV upload).
_FRAME = ("Generating ", "Warning(s) encountered while generating.", "If you believe this")
_CSV_BODY = "Unsupported content type text/csv"


@dataclass
class Generated:
    """The generated package, a client for the served app, and the generator's output."""

    package: ModuleType
    client: Any  # the package's AuthenticatedClient
    complaints: list[str]

    def op(self, operation_id: str) -> ModuleType:
        """The module of one operation, e.g. ``op("create_customer").sync_detailed``."""
        tag = operation_id.partition("_")[2]  # the object: operations are tagged with it
        return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


@pytest.fixture(scope="module")
def generator() -> str:
    """The generator's executable; without it these tests skip (``make setup`` installs it)."""
    if GENERATOR is None:
        pytest.skip(
            f"openapi-python-client is not installed beside {sys.executable}; "
            "`make setup` installs it with the dev extras"
        )
    return GENERATOR


def _generate(generator: str, document: dict[str, Any], workdir: Path) -> list[str]:
    """Run the generator on ``document``; its package lands in ``workdir / PACKAGE``.

    Returns its complaints: the lines it prints other than its frame and the JSON excerpts
    of the document it quotes (indented or braces), e.g. ``WARNING parsing POST ...`` and
    the detail line after it.
    """
    spec = workdir / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run(
        [generator, "generate", "--path", str(spec), "--output-path", str(workdir / PACKAGE),
         "--meta", "none"],
        cwd=workdir,
        capture_output=True,
        text=True,
        # Its post-generation hooks run ruff, which is beside it in the same environment.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
             "NO_COLOR": "1"},
        timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return [
        line
        for line in output.splitlines()
        if line.strip() and line[0] not in " {}[]" and not line.startswith(_FRAME)
    ]


def _only_csv_bodies_refused(complaints: list[str]) -> None:
    """Exactly one complaint per import operation, that its text/csv body is unsupported."""
    expected = []
    for name in OBJECTS:
        expected += [f"WARNING parsing POST /api/v1/objects/{name}/import within {name}.",
                     _CSV_BODY]  # fmt: skip
    assert sorted(complaints) == sorted(expected)


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    """``app`` on a real uvicorn server on a free loopback port, in a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, a records:write token) of the shop pack served over real HTTP.

    Built as ``conftest.api`` builds its app (same pack, user, role and scopes), but once
    per module: generating the client is the slow part and the document is the same.
    """
    path = tmp_path_factory.mktemp("generated_client") / "shop.sqlite3"
    database = Database(f"sqlite:///{path}")
    runtime = Runtime(database, [SHOP])
    tables = runtime.snapshot.compiled.tables
    users = UserStore(database, tables, hasher=PasswordHasher(n=2**4))
    alice = users.create_user("alice", "correct horse", "Alice", roles=["sales_rep"],
                              locale="en")  # fmt: skip
    token, _ = TokenStore(users).create(alice, "generated", ["records:write", "metadata:read"])
    app = create_app(AppConfig(runtime=runtime, authenticator=Authenticator(database, tables)))
    try:
        with _serve(app) as base_url:
            yield base_url, token
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def generated(
    generator: str, served: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Generated]:
    """The package generated from the served document, imported, with a client for it."""
    base_url, token = served
    with urllib.request.urlopen(base_url + "/api/v1/openapi.json", timeout=10) as response:
        document = json.load(response)
    workdir = tmp_path_factory.mktemp("generated_package")
    complaints = _generate(generator, document, workdir)
    sys.path.insert(0, str(workdir))
    try:
        package = importlib.import_module(PACKAGE)
        # Undocumented statuses raise instead of parsing to None: the document must list
        # every answer the server gives to these calls.
        client = package.AuthenticatedClient(
            base_url=base_url, token=token, raise_on_unexpected_status=True, timeout=10.0
        )
        with client:
            yield Generated(package, client, complaints)
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_the_generator_refuses_nothing_but_raw_csv_uploads(generated: Generated) -> None:
    _only_csv_bodies_refused(generated.complaints)
    for name in OBJECTS:
        for verb in ("list", "create", "get", "update", "delete", "bulk", "history", "import"):
            assert hasattr(generated.op(f"{verb}_{name}"), "sync_detailed"), (verb, name)
    # Multipart is the import's generated body; the raw text/csv one is what was refused.
    assert generated.model("ImportCustomerFilesBody")


def test_a_customer_is_created_read_changed_and_found_with_typed_models(
    generated: Generated,
) -> None:
    g, client = generated, generated.client
    name = f"Acme {uuid.uuid4().hex[:8]}"
    body = g.model("CustomerInput")(
        name=name,
        email="buyer@acme.example",
        tier=g.model("CustomerInputTier").GOLD,
        tags=[g.model("CustomerInputTagsType0Item").VIP],
    )
    created = g.op("create_customer").sync_detailed(client=client, body=body)
    assert created.status_code == 201
    customer = created.parsed
    assert isinstance(customer, g.model("Customer"))
    assert isinstance(customer.id, uuid.UUID) and customer.version == 1
    assert customer.name == name and customer.tier == g.model("CustomerTier").GOLD
    assert customer.tags == [g.model("CustomerTagsType0Item").VIP]
    assert isinstance(customer.since, datetime.date)  # the default, a date, not a string
    assert customer.code is None and customer.archived is False

    read = g.op("get_customer").sync_detailed(customer.id, client=client)
    assert read.status_code == 200 and read.parsed.to_dict() == customer.to_dict()

    patch = g.model("CustomerPatch")(code="ACME-1", tier=None, version=1)
    updated = g.op("update_customer").sync_detailed(customer.id, client=client, body=patch)
    assert updated.status_code == 200
    assert updated.parsed.version == 2
    assert updated.parsed.code == "ACME-1" and updated.parsed.tier is None
    assert updated.parsed.name == name and updated.parsed.updated_at >= customer.updated_at

    page = g.op("list_customer").sync_detailed(
        client=client,
        filter_=json.dumps({"==": [{"var": "name"}, name]}),
        sort="-name",
        count=True,
    )
    assert page.status_code == 200
    assert isinstance(page.parsed, g.model("CustomerPage")) and page.parsed.total == 1
    [found] = page.parsed.records
    assert found.id == customer.id and found.version == 2 and found.code == "ACME-1"


def _new_customer(g: Generated, name: str) -> Any:
    created = g.op("create_customer").sync_detailed(
        client=g.client, body=g.model("CustomerInput")(name=name)
    )
    assert created.status_code == 201, created.content
    return created.parsed


def test_decimals_travel_as_strings_and_lookups_as_uuids(generated: Generated) -> None:
    g, client = generated, generated.client
    customer = _new_customer(g, "Decimal Ltd")
    deal = g.op("create_deal").sync_detailed(
        client=client,
        body=g.model("DealInput")(
            customer=customer.id,
            stage=g.model("DealInputStage").WON,
            close_date=datetime.date(2025, 3, 31),
            amount="1200.50",
            discount="10",
        ),
    )
    assert deal.status_code == 201, deal.content
    assert deal.parsed.customer == customer.id and deal.parsed.stage == g.model("DealStage").WON
    assert deal.parsed.number.startswith("D-")
    assert Decimal(deal.parsed.net) == Decimal("1080.45")
    line = g.op("create_deal_line").sync_detailed(
        client=client,
        body=g.model("DealLineInput")(deal=deal.parsed.id, product="Tyres", quantity=3,
                                      price="12.50"),
    )  # fmt: skip
    assert line.status_code == 201 and Decimal(line.parsed.total) == Decimal("37.50")
    again = g.op("get_deal").sync_detailed(deal.parsed.id, client=client).parsed
    assert again.line_count == 1 and Decimal(again.line_total) == Decimal("37.50")


def test_refusals_come_back_as_the_documented_problem(generated: Generated) -> None:
    g, client = generated, generated.client
    customer = _new_customer(g, "Strict Ltd")
    refused = g.op("create_deal").sync_detailed(
        client=client, body=g.model("DealInput")(customer=customer.id, discount="90")
    )
    assert refused.status_code == 422
    problem = refused.parsed
    assert isinstance(problem, g.model("Problem"))
    assert problem.status == 422 and problem.code == "validation_failed"
    [error] = problem.errors
    assert (error.field, error.rule) == ("discount", "discount_range")

    stale = g.model("CustomerPatch")(email="old@strict.example", version=1)
    g.op("update_customer").sync_detailed(customer.id, client=client, body=stale)
    conflict = g.op("update_customer").sync_detailed(customer.id, client=client, body=stale)
    assert conflict.status_code == 409
    assert conflict.parsed.current_version == 2


def test_bulk_rows_are_new_records_or_changes_by_id(generated: Generated) -> None:
    """The bulk body's records are ``anyOf`` two schemas; both generated models are accepted."""
    g, client = generated, generated.client
    bulk = g.op("bulk_customer")
    created = bulk.sync_detailed(
        client=client,
        body=g.model("BulkCustomerBody")(
            records=[g.model("CustomerInput")(name=f"Bulk {i}") for i in range(2)]
        ),
    )
    assert created.status_code == 200 and created.parsed.ok
    rows = [r.record for r in created.parsed.results]
    changed = bulk.sync_detailed(
        client=client,
        body=g.model("BulkCustomerBody")(
            operation=g.model("BulkCustomerBodyOperation").UPDATE,
            records=[
                g.model("CustomerChange")(id=uuid.UUID(row["id"]), version=row["version"],
                                          tier=g.model("CustomerChangeTier").GOLD)
                for row in rows
            ],
        ),
    )  # fmt: skip
    assert changed.status_code == 200 and changed.parsed.ok
    assert [r.record["version"] for r in changed.parsed.results] == [2, 2]
    assert {r.record["tier"] for r in changed.parsed.results} == {"gold"}


def test_csv_is_imported_through_the_generated_multipart_body(generated: Generated) -> None:
    g = generated
    upload = importlib.import_module(f"{PACKAGE}.types").File(
        payload=BytesIO(b"name,tier\nCsv One,gold\n"), file_name="c.csv", mime_type="text/csv"
    )
    report = g.op("import_customer").sync_detailed(
        client=g.client, body=g.model("ImportCustomerFilesBody")(file=upload)
    )
    assert report.status_code == 200, report.content
    assert (report.parsed.rows, report.parsed.created, report.parsed.rejected) == (1, 1, 0)


def test_client_names_follow_object_names_not_labels_or_language(
    generator: str, tmp_path: Path
) -> None:
    """Labels are translated and need not be unique; the generated classes must not care.

    When schemas were titled with labels, two objects labelled alike made duplicate model
    classes and the generator left out their endpoints (with a warning), and a client
    generated from the zh-CN document had Chinese class names.
    """
    pack = tmp_path / "shop"
    shutil.copytree(SHOP, pack)
    line = pack / "objects" / "deal_line.yaml"
    line.write_text(line.read_text().replace("{en: Deal line, zh-CN: 交易明细}",
                                             "{en: Deal, zh-CN: 交易}"))  # fmt: skip
    compiled = compile_schema(validate_paths([pack]).schema)
    assert compiled.object("deal_line").obj.label == compiled.object("deal").obj.label
    complaints = _generate(generator, openapi_document(compiled, "zh-CN"), tmp_path)
    _only_csv_bodies_refused(complaints)
    models = {p.stem for p in (tmp_path / PACKAGE / "models").glob("*.py")}
    for name in OBJECTS:
        assert {name, f"{name}_input", f"{name}_patch", f"{name}_change", f"{name}_page"} <= models
    for name in OBJECTS:
        assert (tmp_path / PACKAGE / "api" / name / f"create_{name}.py").is_file()
