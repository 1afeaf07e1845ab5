"""Where the portal may send a webhook: no SSRF through a service's endpoint URL.

An endpoint must be ``https`` (plain ``http`` only to localhost, and only where the
development setting ``webhooks.development_receivers`` allows it), and every address its host
name resolves to must be a public one: not private, loopback, link-local, shared or reserved,
and not one of the portal's own, unless a network in ``webhooks.allowed_networks`` holds it.
The check runs when the endpoint is registered and again before every delivery (DNS can
change in between), and the delivery connects to the very address that was checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from portal.i18n import _
from portal.refusals import INVALID, FieldError, Refusal
from portal.settings import SettingsError, is_production, setting_bool, setting_lines

MAX_URL_LENGTH = 500
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# IPv6 prefixes whose last 32 bits are an IPv4 address a translator or the host forwards to:
# NAT64 (RFC 6052 well-known, RFC 8215 local use) and the deprecated IPv4-compatible ::a.b.c.d.
LAST_32_BITS_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as the system resolver says."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked endpoint: the addresses to connect to (in the resolver's order, each one
    checked), and what to tell the server (the host name, for the ``Host`` header and the TLS
    certificate)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _refused(reason) -> Refusal:
    """The one refusal of an address, saying why in its field error."""
    return Refusal(
        INVALID,
        _("The portal will not send webhooks to this address."),
        errors=[FieldError("url", reason)],
    )


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _embedded(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (6to4, Teredo, NAT64, IPv4-compatible).

    Python's ``is_global`` judges such an address by its IPv6 prefix alone, so
    ``64:ff9b::a9fe:a9fe`` (NAT64 to 169.254.169.254) counts as public: the IPv4 address
    inside must be checked as well.
    """
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address.is_loopback or address.is_unspecified:  # ::1 and :: are not IPv4-compatible
        return []
    if any(address in network for network in LAST_32_BITS_IPV4):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


class AddressPolicy:
    """The settings' rules for endpoint URLs, and the resolver that names their addresses."""

    def __init__(self, settings, resolver: Resolver = resolve):
        self.development_receivers = setting_bool(settings, "webhooks.development_receivers")
        if self.development_receivers and is_production(settings):
            raise SettingsError(
                "webhooks.development_receivers lets webhooks go to plain http on localhost: "
                "not in production"
            )
        self.allowed_networks = [
            ipaddress.ip_network(line, strict=False)
            for line in setting_lines(settings, "webhooks.allowed_networks")
        ]
        base = urlsplit(settings.get("portal.base_url", ""))
        self.portal_host = base.hostname or ""
        self.portal_port = base.port or (443 if base.scheme == "https" else 80)
        self.resolver = resolver

    def _allowed(self, address: IPAddress, own: set[IPAddress], local: bool) -> bool:
        return self._allowed_alone(address, own, local) and all(
            self._allowed_alone(inner, own, local) for inner in _embedded(address)
        )

    def _allowed_alone(self, address: IPAddress, own: set[IPAddress], local: bool) -> bool:
        networks = self.allowed_networks + (list(LOOPBACK) if local else [])
        if any(address in network for network in networks):
            return True
        return address.is_global and not address.is_multicast and address not in own

    def _own_addresses(self) -> set[IPAddress]:
        if not self.portal_host:
            return set()
        try:
            return {
                _unmapped(ipaddress.ip_address(a)) for a in self.resolver(self.portal_host, 443)
            }
        except (OSError, ValueError):
            return set()

    def check(self, url: str) -> Target:
        """The target of ``url``, or a :class:`Refusal` saying why the portal will not call it."""
        if len(url) > MAX_URL_LENGTH:
            raise _refused(_("The address is too long."))
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _refused(_("Enter a web address starting with https://.")) from None
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise _refused(_("Enter a web address starting with https://."))
        if parts.fragment:
            raise _refused(_("A webhook address has no #fragment."))
        local = self.development_receivers and host in LOCAL_HOSTS
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise _refused(_("Enter a web address starting with https://."))
        port = port or (443 if parts.scheme == "https" else 80)
        try:
            found = self.resolver(host, port)
        except (OSError, UnicodeError):
            raise _refused(_("The address's host name could not be found.")) from None
        addresses = [_unmapped(ipaddress.ip_address(a.split("%", 1)[0])) for a in found]
        own = self._own_addresses()
        # A development receiver shares the loopback address with the portal: the port tells
        # the portal itself from the receiver beside it.
        itself = local and port == self.portal_port and any(a in own for a in addresses)
        if itself or not addresses or not all(self._allowed(a, own, local) for a in addresses):
            raise _refused(
                _(
                    "The address leads to the portal itself or to a private network: "
                    "webhooks go to public addresses only."
                )
            )
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(parts.scheme, host, port, path, tuple(str(a) for a in addresses))
