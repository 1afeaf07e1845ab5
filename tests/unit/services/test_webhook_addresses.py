"""Where webhooks may go: https to public addresses only, whatever the host name resolves to,
the portal's own addresses and private networks refused unless the settings allow them."""

from __future__ import annotations

import pytest

from portal.refusals import Refusal
from portal.services.webhooks.addresses import AddressPolicy
from portal.settings import SettingsError

PUBLIC = "93.184.215.14"


def resolver(table: dict[str, list[str]]):
    """A name service answering from ``table`` (the system's answers cannot be chosen)."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


def policy(table, **settings) -> AddressPolicy:
    return AddressPolicy(
        {"portal.base_url": "https://portal.example.gov", **settings}, resolver(table)
    )


def refused_because(policy: AddressPolicy, url: str) -> str:
    """Why ``policy`` refuses ``url`` (the message under the address field)."""
    with pytest.raises(Refusal) as refused:
        policy.check(url)
    (error,) = refused.value.errors
    assert error.field == "url"
    return error.message.interpolate()


def test_an_https_address_resolving_to_public_addresses_is_taken_as_checked():
    target = policy({"hooks.example.org": [PUBLIC]}).check("https://hooks.example.org:8443/in?x=1")
    assert (target.addresses, target.port, target.path) == ((PUBLIC,), 8443, "/in?x=1")
    assert target.host_header == "hooks.example.org:8443"


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.7"],
        [PUBLIC, "192.168.1.1"],  # one private answer among public ones is enough to refuse
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["::1"],
        ["fe80::1"],
        ["fd00::1"],
        ["::ffff:10.0.0.7"],
        ["224.0.0.1"],
        # IPv6 forms Python calls global that lead to an internal IPv4 address
        ["64:ff9b::a9fe:a9fe"],  # NAT64 to 169.254.169.254
        ["64:ff9b:1::a00:7"],  # local-use NAT64 to 10.0.0.7
        ["2002:a9fe:a9fe::1"],  # 6to4 of 169.254.169.254
        ["::a9fe:a9fe"],  # IPv4-compatible 169.254.169.254
        ["::7f00:1"],  # IPv4-compatible 127.0.0.1
        ["2001:0:4136:e378:8000:63bf:f5ff:fff8"],  # Teredo, client 10.0.0.7
    ],
)
def test_a_name_resolving_to_a_private_or_local_address_is_refused(addresses):
    assert "private network" in refused_because(
        policy({"hooks.example.org": addresses}), "https://hooks.example.org/"
    )


def test_ipv6_forms_of_a_public_ipv4_address_may_be_called():
    for address in ["64:ff9b::5db8:d70e", "2002:5db8:d70e::1"]:  # NAT64 and 6to4 of PUBLIC
        assert policy({"hooks.example.org": [address]}).check(
            "https://hooks.example.org/"
        ).addresses == (address,)


def test_the_portals_own_public_address_is_refused():
    table = {"hooks.example.org": [PUBLIC], "portal.example.gov": [PUBLIC]}
    assert "portal itself" in refused_because(policy(table), "https://hooks.example.org/")


def test_a_network_allowed_in_the_settings_may_be_called():
    table = {"erp.city.internal": ["10.20.0.5"]}
    allowed = policy(table, **{"webhooks.allowed_networks": "10.20.0.0/16"})
    assert allowed.check("https://erp.city.internal/hooks").addresses == ("10.20.0.5",)
    with pytest.raises(Refusal):
        policy(table).check("https://erp.city.internal/hooks")


def test_an_unknown_host_is_refused():
    assert "could not be found" in refused_because(policy({}), "https://nowhere.example.org/")


def test_plain_http_only_to_localhost_and_only_in_development():
    table = {"localhost": ["127.0.0.1"], "hooks.example.org": [PUBLIC]}
    assert "https://" in refused_because(policy(table), "http://localhost:8765/")
    development = policy(table, **{"webhooks.development_receivers": "true"})
    assert development.check("http://localhost:8765/").addresses == ("127.0.0.1",)
    on_ipv6 = policy({"localhost": ["::1"]}, **{"webhooks.development_receivers": "true"})
    assert on_ipv6.check("http://localhost:8765/").addresses == ("::1",)
    assert "https://" in refused_because(development, "http://hooks.example.org/")


def test_a_development_receiver_beside_the_portal_is_not_the_portal_itself():
    table = {"localhost": ["127.0.0.1", "::1"], "127.0.0.1": ["127.0.0.1"]}
    development = policy(
        table,
        **{"portal.base_url": "http://localhost:6543", "webhooks.development_receivers": "true"},
    )
    assert development.check("http://localhost:8765/").port == 8765
    for url in ("http://localhost:6543/x", "http://127.0.0.1:6543/", "https://localhost:6543/"):
        assert "portal itself" in refused_because(development, url)


def test_production_refuses_development_receivers():
    with pytest.raises(SettingsError):
        AddressPolicy(
            {"portal.environment": "production", "webhooks.development_receivers": "true"}
        )
