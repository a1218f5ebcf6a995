"""Property-based API tests: schemathesis fuzzes every operation of the base pack's OpenAPI.

The hand-written API tests check chosen behaviour on the small shop pack; this one checks
the contract for every object of ``industry_packs/base`` with generated requests, so a
field type whose JSON Schema and stored value disagree, or a request that crashes a
handler, shows up without anyone writing a test for that object. The examples are few and
derandomized (the same requests on every run, so a failure is reproducible and CI time is
bounded); one SQLite file is enough here because the record tests cover PostgreSQL.

Checks run on every response:

- ``not_a_server_error``: no 5xx, whatever the input.
- ``status_code_conformance``: every status the API answers is documented.
- ``content_type_conformance``: the body's media type is the documented one.
- ``response_schema_conformance``: the body matches the documented schema.

Schemathesis' other default checks are left out on purpose: ``negative_data_rejection`` and
``positive_data_acceptance`` expect the API to decide validity exactly as the JSON Schema
does, but the record service also enforces what a schema cannot say (validation rules,
lookups that must point at existing records, workflow transitions, uniqueness), so valid
looking data is rightly refused with 422 and that is not a contract violation; the auth
checks (``ignored_auth``) are covered by ``test_api_auth.py`` with real sessions and tokens;
``use_after_free`` and ``ensure_resource_availability`` belong to stateful testing, which
needs links the document does not declare.

Schemathesis' own pytest loader (``schemathesis.pytest.from_fixture``) is not used: with
pytest 9 it fails on ``request.node._nodeid`` (schemathesis 4.32), and loading the schema at
import time would build the base pack's database during collection of every test run. So
the operations are parametrized here and each runs a Hypothesis test from the operation's
strategy, which is the same generation without the plugin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema

from engine.api.app import AppConfig, create_app
from engine.api.auth import Authenticator
from engine.api.runtime import Runtime
from engine.auth import PasswordHasher, TokenStore, UserStore
from engine.demo.base import seed_demo
from engine.storage.database import Database
from engine.validate import validate_paths

BASE = Path(__file__).resolve().parents[3] / "industry_packs" / "base"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OBJECTS = sorted(path.stem for path in (BASE / "objects").glob("*.yaml"))
VERBS = (
    "list", "create", "get", "update", "delete", "import", "export", "bulk", "history",
    "shares", "share", "unshare",
)  # fmt: skip


def _operations() -> list[tuple[str, str]]:
    """(operationId, the object whose record ids it takes) for every documented operation:
    the verbs of every object, revealing personal data where an object has some, stage
    transitions where it has a workflow, submitting where it has an approval process, the
    approvals routes, and one related list per child object linking to a parent."""
    operations = [(f"{verb}_{name}", name) for name in OBJECTS for verb in VERBS]
    objects = validate_paths([BASE]).schema.objects
    operations += [
        (f"reveal_{name}", name)
        for name, obj in objects.items()
        if any(getattr(f, "pii", False) for f in obj.fields)
    ]
    schema = validate_paths([BASE]).schema
    operations += [("approval_inbox", ""), ("get_approval", ""), ("decide_approval", "")]
    operations += [("notifications", ""), ("read_notification", "")]
    operations += [("metadata_versions", ""), ("metadata_plan", ""), ("apply_metadata", "")]
    operations += [("upload_file", "")]
    operations += [
        (f"file_{name}", name)
        for name, obj in objects.items()
        if any(f.kind.value == "attachment" for f in obj.fields)
    ]
    submitted = sorted({p.object for p in schema.approvals.values()})
    operations += [(f"submit_{name}", name) for name in submitted]
    staged = {w.object for w in schema.workflows.values()}
    operations += [(f"{verb}_{name}", name) for name in sorted(staged)
                   for verb in ("transitions", "transition")]  # fmt: skip
    related = {
        (field.to, child)
        for child, obj in objects.items()
        for field in obj.fields
        if getattr(field, "to", None) in objects
    }
    operations += [(f"related_{parent}_{child}", parent) for parent, child in sorted(related)]
    return operations


OPERATIONS = _operations()
_ON_ONE_RECORD = (
    "get", "update", "delete", "history", "related", "shares", "share", "unshare", "reveal",
    "transitions", "transition", "submit", "file",
)  # fmt: skip
FUZZ_SETTINGS = settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    database=None,
    # The app is shared and requests are slow next to pure functions; neither is a problem.
    suppress_health_check=list(HealthCheck),
)


@dataclass
class FuzzTarget:
    """The served base pack: its loaded schema, a writer's token, and ids that exist."""

    schema: OpenApiSchema
    token: str
    ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """The base pack's app on a fresh SQLite file, with the demo records in it.

    Module scope: building the base pack's tables takes seconds, and the generated requests
    only add or change rows, so one database for all operations is harmless. The demo data
    gives the reads real records to return, so response schemas are checked against stored
    values and not only against empty pages and 404s.
    """
    path = tmp_path_factory.mktemp("schemathesis") / "base.sqlite3"
    database = Database(f"sqlite:///{path}")
    runtime = Runtime(database, [BASE])
    snapshot = runtime.snapshot
    users = UserStore(database, snapshot.compiled.tables, hasher=PasswordHasher(n=2**4))
    seed_demo(snapshot.service, users, snapshot.compiled, leads=10)
    admin = next(u for u in users.list_users() if u.username == "admin")
    token, _ = TokenStore(users).create(admin, "schemathesis", ["records:write", "metadata:read"])
    actor = users.actor_for(admin)
    ids = {
        name: [r["id"] for r in snapshot.service.list(name, actor, limit=20).records]
        for name in OBJECTS
    }
    authenticator = Authenticator(database, snapshot.compiled.tables)
    app = create_app(AppConfig(runtime=runtime, authenticator=authenticator))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    yield FuzzTarget(schema, token, ids)
    database.dispose()


def test_base_openapi_document_is_valid_and_fuzzed_whole(target: FuzzTarget) -> None:
    """The document validates, and its operations are exactly those fuzzed below."""
    document = target.schema.raw_schema
    validate(document)
    documented = {
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method != "parameters"
    }
    assert documented == {operation_id for operation_id, _ in OPERATIONS}


@pytest.mark.parametrize("method", ["post", "patch"])
def test_unknown_org_unit_is_refused_not_a_server_error(target: FuzzTarget, method: str) -> None:
    """Found by this fuzzing: an unknown org unit reached the foreign key and answered 500."""
    base = "/api/v1/objects/account/records"
    body = {"org_unit": str(uuid.uuid4())}
    with asgi.get_client(target.schema.app) as client:
        if method == "post":
            body["name"] = "Nobody Ltd"
            response = client.post(base, json=body, headers=target.headers)
        else:
            record_id = target.ids["account"][0]
            response = client.patch(f"{base}/{record_id}", json=body, headers=target.headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "org_unit"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(
    ("operation_id", "object_name"), OPERATIONS, ids=[o for o, _ in OPERATIONS]
)
def test_base_api_honours_its_openapi(
    target: FuzzTarget, operation_id: str, object_name: str, mode: GenerationMode
) -> None:
    """Generated requests, valid and then invalid ones, get documented, well-formed answers.

    Operations on one record mostly address records that exist (demo data and records
    the create operation made), else every generated id would only ever meet a 404.
    """
    verb = operation_id.partition("_")[0]
    operation = target.schema.find_operation_by_id(operation_id)
    strategy = operation.as_strategy(generation_mode=mode)
    known = target.ids.setdefault(object_name, [])
    if verb in _ON_ONE_RECORD and known:
        existing = st.sampled_from(list(known)).flatmap(
            lambda record_id: operation.as_strategy(
                generation_mode=mode, path_parameters={"record_id": record_id}
            )
        )
        strategy = st.one_of(existing, strategy)

    @given(case=strategy)
    @FUZZ_SETTINGS
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=target.headers, checks=CHECKS)
        if verb == "create" and response.status_code == 201:
            known.append(response.json()["id"])

    fuzz()
