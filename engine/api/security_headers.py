"""Headers that tell the browser what our responses may do, on every response.

UI pages load only our own scripts, styles and images (``/ui-static``) and post only to
us, so their policy names nothing else and no inline script or style. API responses are
data, never pages: nothing may load from them. No response may be framed (clickjacking),
none is sniffed into another type, and a Referer never leaves the site (record ids are in
our URLs). A response that sets its own policy (the docs page) keeps it.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

__all__ = ["API_POLICY", "UI_POLICY", "add_security_headers"]

UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_ALWAYS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
_UI_PREFIXES = ("/ui/", "/ui-static/")


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook: runs for every response, errors included."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    path = scope.get("path", "")
    ui = path in ("/", "/ui") or path.startswith(_UI_PREFIXES)
    if "content-security-policy" not in headers:
        headers["content-security-policy"] = UI_POLICY if ui else API_POLICY
    for name, value in _ALWAYS.items():
        if name not in headers:
            headers[name] = value
    if ui:
        headers["cross-origin-opener-policy"] = "same-origin"
    if scope.get("scheme") == "https":
        headers["strict-transport-security"] = "max-age=31536000"
