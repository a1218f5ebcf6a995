"""Webhooks from automations: a JSON body from a consultant's template, signed, posted.

What leaves is declared: the automation lists its ``fields`` and the record is cut to
them (personal data masked unless ``include_pii``) before the template sees it. The
template is Jinja2 rendered in the sandbox (it sees those fields and the automation's
name, nothing of the server). The body must be JSON. The call is made from the outbox
after the triggering write committed, never inside a database transaction, with a
timeout; a non-2xx answer or a network error leaves the row to be retried. With
``secret_env``, the body is signed: ``X-Metacrm-Signature: sha256=<hex HMAC-SHA256 of
the body with the secret>`` (the secret is read from that environment variable at
delivery, so it never sits in the database).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.records.masking import mask
from engine.records.templates import render_template

if TYPE_CHECKING:
    from engine.compiled import CompiledObject

__all__ = ["WEBHOOK_TOPIC", "call_webhook", "render_body", "sent_record"]

WEBHOOK_TOPIC = "webhook.call"


def sent_record(
    cobj: CompiledObject, record: Mapping[str, Any], fields: Sequence[str], include_pii: bool
) -> dict[str, Any]:
    """What of ``record`` leaves: ``id``, ``version`` and the ``fields`` the automation
    lists, nothing else; personal data masked unless it says ``include_pii``. The
    automation declares this, so it holds whoever triggered it and whatever roles say."""
    out = {"id": record.get("id"), "version": record.get("version")}
    for name in fields:
        fdef = cobj.fields.get(name)
        value = record.get(name)
        if fdef is not None and getattr(fdef, "pii", False) and not include_pii:
            value = mask(fdef.kind, value)
        out[name] = value
    return out


def render_body(
    template: str | None, automation: str, object_name: str, record: dict[str, Any]
) -> str:
    """The JSON body: the template's output, or ``{"automation", "object", "record"}``
    without one; ``record`` is what the automation declared it sends.

    Raises:
        ValueError: The template does not render to JSON (or fails to render).
    """
    if template is None:
        body = {"automation": automation, "object": object_name, "record": record}
        return json.dumps(body, ensure_ascii=False)
    try:
        text = render_template(template, automation=automation, record=record)
        json.loads(text)
    except Exception as exc:  # a template error or output that is not JSON
        raise ValueError(f"the webhook body of {automation} is not JSON: {exc}") from exc
    return text


def call_webhook(payload: dict[str, Any]) -> None:
    """POST one queued webhook; raises on anything but a 2xx answer (to be retried)."""
    body = payload["body"].encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "metacrm-webhook"}
    if payload.get("secret_env"):
        secret = os.environ.get(payload["secret_env"])
        if not secret:
            raise RuntimeError(f"the webhook secret {payload['secret_env']} is not set")
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers["X-Metacrm-Signature"] = f"sha256={digest}"
    request = urllib.request.Request(payload["url"], data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=payload.get("timeout", 10)) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        status = exc.code
    if not 200 <= status < 300:
        raise RuntimeError(f"the webhook answered {status}")
