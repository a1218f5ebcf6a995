"""Who the client is: the socket peer, unless that peer is a proxy we were told to trust.

``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``Forwarded`` are written by whoever sends
the request, so they are believed only from the proxies named in
``METACRM_TRUSTED_PROXIES`` (addresses or networks, comma-separated; default none). From
a trusted peer the client is the right-most forwarded address that is not itself a
trusted proxy (the left part of the chain is again whatever the client wrote). The
middleware rewrites the ASGI scope's ``client`` and ``scheme`` once, so every reader
(login throttling, the access log, the Origin check, Secure cookies) sees the same answer.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyHeadersMiddleware", "TrustedProxies"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose forwarded headers are believed; empty trusts nobody."""

    networks: tuple[_Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """``"10.0.0.5, 10.1.0.0/16, ::1"`` → the networks.

        Raises:
            ValueError: An entry is not an address or network (the message names it).
        """
        networks = []
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"METACRM_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                    "(like 10.0.0.5 or 10.1.0.0/16)"
                ) from None
        return cls(tuple(networks))

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TrustedProxies:
        return cls.parse(env.get("METACRM_TRUSTED_PROXIES", ""))

    def trusts(self, host: str | None) -> bool:
        address = _address(host)
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, hops: Sequence[str]) -> str:
        """The client behind ``peer``, given the forwarded addresses (oldest first)."""
        if not self.trusts(peer):
            return peer
        for hop in reversed(hops):
            if _address(hop) is None:  # garbage or "unknown": the chain ends here
                return peer
            if not self.trusts(hop):
                return str(_address(hop))
            peer = hop
        return peer


class ProxyHeadersMiddleware:
    """Pure ASGI, outermost: from a trusted peer, the forwarded client and scheme."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] == "http" and peer and self.proxies.trusts(peer[0]):
            headers = {k.lower(): v.decode("latin-1") for k, v in scope["headers"]}
            hops, proto = _forwarded(headers)
            scope["client"] = (self.proxies.client(peer[0], hops), peer[1])
            if proto in ("http", "https"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)


def _forwarded(headers: Mapping[bytes, str]) -> tuple[list[str], str | None]:
    """The forwarded addresses (oldest first) and the proto the nearest proxy saw.

    RFC 7239 ``Forwarded`` wins over the ``X-Forwarded-*`` pair when both are present.
    """
    if b"forwarded" in headers:
        hops, protos = [], []
        for element in headers[b"forwarded"].split(","):
            pairs = {k.lower(): v.strip('"') for k, v in _FORWARDED_PAIR.findall(element)}
            hops.append(_strip_port(pairs.get("for", "")))
            protos.append(pairs.get("proto", "").lower())
        return hops, protos[-1] or None
    hops = [_strip_port(h) for h in headers.get(b"x-forwarded-for", "").split(",") if h.strip()]
    proto = headers.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
    return hops, proto or None


def _strip_port(hop: str) -> str:
    """``"[2001:db8::1]:443"`` → ``2001:db8::1``; ``"203.0.113.9:80"`` → ``203.0.113.9``."""
    hop = hop.strip()
    if hop.startswith("["):
        return hop[1 : hop.find("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def _address(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address((host or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address
