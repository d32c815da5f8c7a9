"""Where a webhook may go: the operator's allowlist, URL checks and pinned addresses (SSRF).

A bank names its webhook URL; the platform must not become a way into its own
network (Standard Webhooks, "Server side request forgery"). The rules:

- ``https`` anywhere public; plain ``http`` only to a host the operator allowlisted
  (``LEDGER_ALERT_ALLOW_HOSTS``: host names or IP networks, e.g. loopback in tests);
- no user name or password in the URL, no fragment;
- every address the host resolves to must be public (not private, loopback,
  link-local, shared or reserved space) unless the host or the address is
  allowlisted; cloud metadata addresses are refused even then;
- the POST goes to the address that was checked (the request names the host in
  ``Host`` and TLS SNI), so a second DNS answer cannot redirect it; redirects are
  never followed (:mod:`ledger.alerts.dispatcher`).

Deployments that need more (an egress proxy such as smokescreen, a separate
subnet) add it around the dispatcher; these checks hold either way.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ledger.alerts.errors import EndpointRefusedError
from ledger.errors import ConfigurationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS: Final = 2048
#: Instance metadata services (AWS/GCP/Azure/OpenStack, Alibaba Cloud, AWS over IPv6):
#: never a bank's webhook, refused even inside an allowlisted network.
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254")
)
#: Dot-separated labels of letters, digits and inner hyphens (each label delimited, so
#: a failing match never backtracks across labels).
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME: Final = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*").fullmatch
_DEFAULT_PORT: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Host names and IP networks trusted for plain http and non-public addresses."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            item = entry.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
                continue
            except ValueError:
                pass
            if not _HOST_NAME(item):
                raise ConfigurationError(
                    f"allowlist entry {entry[:80]!r} is neither a host name nor an IP network",
                    hint='LEDGER_ALERT_ALLOW_HOSTS is a JSON list such as ["127.0.0.1"]',
                )
            names.add(item)
        return cls(frozenset(names), tuple(networks))

    def trusts_host(self, host: str) -> bool:
        """The host is allowlisted by name, or is an address inside an allowlisted network."""
        if host in self.names:
            return True
        address = _literal(host)
        return address is not None and self.trusts_address(address)

    def trusts_address(self, address: IPAddress) -> bool:
        return any(_unmapped(address) in net for net in self.networks)


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked webhook URL, split into what a POST needs."""

    scheme: str
    host: str
    port: int
    #: Path and query, as sent.
    target: str

    @property
    def origin(self) -> str:
        """``scheme://host:port``: how attempts and messages name it (no path or query)."""
        return f"{self.scheme}://{_bracketed(self.host)}:{self.port}"

    @property
    def host_header(self) -> str:
        if self.port == _DEFAULT_PORT[self.scheme]:
            return _bracketed(self.host)
        return f"{_bracketed(self.host)}:{self.port}"


@dataclass(frozen=True, slots=True)
class Route:
    """Where one POST goes: the checked address, with the URL's host in ``Host`` and SNI."""

    address: str
    host_header: str
    sni_hostname: str | None


def check_url(url: str, allow: Allowlist) -> Destination:
    """The URL's parts when the rules above admit it; :class:`EndpointRefusedError` otherwise.

    Host names are resolved only at delivery time (:func:`route`); an address
    literal is judged here already.
    """
    if len(url) > MAX_URL_CHARS or not url.isascii() or any(c.isspace() for c in url):
        raise EndpointRefusedError(f"a webhook URL is at most {MAX_URL_CHARS} ASCII characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EndpointRefusedError("the webhook URL does not parse") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORT:
        raise EndpointRefusedError("a webhook URL is https (or http to an allowlisted host)")
    if not host or "@" in parts.netloc or parts.fragment:
        raise EndpointRefusedError("a webhook URL has a host, and no user, password or fragment")
    address = _literal(host)
    if address is None and not _HOST_NAME(host):
        raise EndpointRefusedError("the webhook URL's host is not a valid host name")
    if scheme == "http" and not allow.trusts_host(host):
        raise EndpointRefusedError(
            f"plain http only to allowlisted hosts; {host!r} is not one",
            hint="use https, or add the host to LEDGER_ALERT_ALLOW_HOSTS",
        )
    if address is not None:
        _check_address(address, host, allow)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(scheme, host, port or _DEFAULT_PORT[scheme], target)


def route(destination: Destination, allow: Allowlist) -> Route:
    """Resolve the host and pick an address that passes the rules (all must pass).

    Raises :class:`EndpointRefusedError` for an address the rules refuse and
    :class:`OSError` when the name does not resolve.
    """
    host = destination.host
    address = _literal(host)
    if address is not None:
        addresses = [address]
    else:
        infos = socket.getaddrinfo(
            host, destination.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host!r} resolved to no address")
    for each in addresses:
        _check_address(each, host, allow)
    return Route(
        address=str(addresses[0]),
        host_header=destination.host_header,
        sni_hostname=host if destination.scheme == "https" and address is None else None,
    )


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast (an IPv4-mapped IPv6 address is judged as IPv4)."""
    plain = _unmapped(address)
    return plain.is_global and not plain.is_multicast


def _check_address(address: IPAddress, host: str, allow: Allowlist) -> None:
    if _unmapped(address) in METADATA_ADDRESSES or address in METADATA_ADDRESSES:
        raise EndpointRefusedError(f"{host!r} is a cloud metadata address")
    if not is_public(address) and not allow.trusts_host(host) and not allow.trusts_address(address):
        raise EndpointRefusedError(
            f"{host!r} is at a non-public address ({_unmapped(address)})",
            hint="only allowlisted hosts may be private (LEDGER_ALERT_ALLOW_HOSTS)",
        )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
