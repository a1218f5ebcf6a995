"""Which pages may sign a browser in: our own, or origins named in ``METACRM_ALLOWED_ORIGINS``.

A page on another site can make the victim's browser post a sign-in (a form, or a
``fetch`` with a text/plain body) and so sign them in as the attacker: login CSRF. A
browser names the page's origin in ``Origin`` on every cross-origin POST (or at least in
``Referer``), so a sign-in whose Origin is another site's, or ``null``, is refused. A
request with neither header did not come from a browser page, and there is no browser
to trick.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection

__all__ = ["allowed_origins_from_env", "from_allowed_origin", "normalise_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` (lower case, default port dropped), else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown}"


def allowed_origins_from_env(env: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """The origins besides our own that may sign users in (comma-separated).

    Raises:
        ValueError: An entry is not an http(s) origin (the message names it).
    """
    origins = []
    for entry in (p.strip() for p in env.get("METACRM_ALLOWED_ORIGINS", "").split(",")):
        if not entry:
            continue
        origin = normalise_origin(entry)
        if origin is None:
            raise ValueError(
                f"METACRM_ALLOWED_ORIGINS: {entry!r} is not an origin like https://crm.example.com"
            )
        origins.append(origin)
    return tuple(origins)


def from_allowed_origin(
    connection: ASGIConnection[object, object, object, object], allowed: Iterable[str] = ()
) -> bool:
    """Whether the page that sent this request is ours (or allowed), or there is no page.

    Our own origin is the scheme the request arrived with (as trusted proxies report it)
    and its ``Host``: the victim's browser sends the real host, whatever the attacker's
    page says.
    """
    sent = connection.headers.get("origin")
    if sent is None:
        referer = connection.headers.get("referer")
        if referer is None:
            return True
        sent = referer
    origin = normalise_origin(sent)
    if origin is None:  # "null" (sandboxed frames, file: pages, privacy redirects) included
        return False
    own = normalise_origin(f"{connection.url.scheme}://{connection.headers.get('host', '')}")
    return origin == own or origin in set(allowed)
