"""A webhook sends what its automation lists and nothing else: ``id``, ``version`` and
``fields``, personal data masked unless ``include_pii``; ``metacrm validate`` says so."""

from __future__ import annotations

import http.server
import json
import threading
from typing import ClassVar

import pytest

from engine.compiled import compile_schema
from engine.records import RecordService
from engine.validate import validate_paths

from .conftest import ALICE, shop_pack

CUSTOMER = {
    "name": "Acme",
    "code": "C-7",
    "phone": "13812345678",
    "email": "zhang@qq.com",
    "profile": "Pays late",
}


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).bodies.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.bodies
    server.shutdown()
    server.server_close()


def _with_webhook(tmp_path, action: str):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "to_erp.yaml").write_text(f"""
name: to_erp
object: customer
trigger: {{kind: record, "on": [create]}}
actions:
  - {action}
""")
    return pack


def _service(database, clock, pack) -> RecordService:
    compiled = compile_schema(validate_paths([pack]).schema)
    compiled.tables.metadata.create_all(database.engine)
    return RecordService(database, compiled, clock=clock)


def test_a_webhook_carries_exactly_its_fields_with_personal_data_masked(
    database, clock, tmp_path, receiver
):
    url, bodies = receiver
    pack = _with_webhook(tmp_path, f'{{type: webhook, url: "{url}", fields: [name, phone]}}')
    service = _service(database, clock, pack)
    customer = service.create("customer", CUSTOMER, ALICE)
    assert bodies == [
        {
            "automation": "to_erp",
            "object": "customer",
            "record": {"id": customer["id"], "version": 1, "name": "Acme", "phone": "138****5678"},
        }
    ]


def test_include_pii_sends_personal_data_as_stored(database, clock, tmp_path, receiver):
    url, bodies = receiver
    pack = _with_webhook(
        tmp_path, f'{{type: webhook, url: "{url}", fields: [phone, email], include_pii: true}}'
    )
    service = _service(database, clock, pack)
    customer = service.create("customer", CUSTOMER, ALICE)
    [body] = bodies
    assert body["record"] == {
        "id": customer["id"],
        "version": 1,
        "phone": "+8613812345678",
        "email": "zhang@qq.com",  # not a personal field in the shop pack: never masked
    }


def test_a_template_body_sees_only_the_listed_fields(database, clock, tmp_path, receiver):
    url, bodies = receiver
    body = '{"who": {{ record.name | tojson }}, "phone": {{ record.phone | tojson }}}'
    pack = _with_webhook(
        tmp_path, f"{{type: webhook, url: \"{url}\", fields: [name, phone], body: '{body}'}}"
    )
    service = _service(database, clock, pack)
    service.create("customer", CUSTOMER, ALICE)
    assert bodies == [{"who": "Acme", "phone": "138****5678"}]


def test_validate_warns_on_include_pii_and_refuses_unknown_or_unsent_fields(tmp_path):
    pack = shop_pack(tmp_path)
    (pack / "automations" / "to_erp.yaml").write_text("""
name: to_erp
object: customer
trigger: {kind: record, "on": [create]}
actions:
  - {type: webhook, url: "http://127.0.0.1:9/a", fields: [name, phone], include_pii: true}
  - {type: webhook, url: "http://127.0.0.1:9/b", fields: [name, nickname]}
  - {type: webhook, url: "http://127.0.0.1:9/c", fields: [name],
     body: '{"code": {{ record.code | tojson }}, "id": {{ record.id | tojson }}}'}
  - {type: webhook, url: "http://127.0.0.1:9/d"}
""")
    report = validate_paths([pack])
    warnings = [(p.path, p.code) for p in report.warnings if p.code == "webhook_sends_pii"]
    assert warnings == [("actions[0].include_pii", "webhook_sends_pii")]
    [warning] = [p for p in report.warnings if p.code == "webhook_sends_pii"]
    assert warning.file.endswith("automations/to_erp.yaml") and warning.line
    assert "phone" in warning.message
    errors = {(p.path, p.code) for p in report.errors}
    assert ("actions[1].fields[1]", "unknown_field") in errors
    assert ("actions[2].body", "unsent_field") in errors
    assert any(p.path.startswith("actions[3]") for p in report.errors)  # fields is required
    assert not any(p.path.startswith("actions[0]") for p in report.errors)
