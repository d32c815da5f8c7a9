"""Where webhooks may go (SSRF): the URL rules, the allowlist, and refusal at delivery time."""

from __future__ import annotations

import ipaddress

import pytest

from ledger.alerts.destinations import Allowlist, check_url, is_public, route
from ledger.alerts.endpoints import set_endpoint
from ledger.alerts.errors import EndpointRefusedError
from ledger.errors import ConfigurationError
from tests.alerts._banks import Bank
from tests.alerts.conftest import ONE_ATTEMPT, AlertEnv, alert

LOOPBACK = Allowlist.parse(["127.0.0.1"])
NONE = Allowlist()


@pytest.mark.parametrize(
    "url",
    [
        "http://bank.example/hook",  # plain http to a host nobody allowlisted
        "ftp://bank.example/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://100.100.100.200/",  # Alibaba Cloud metadata (shared address space)
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # loopback dressed as IPv6
        "https://[fd00:ec2::254]/",
        "https://0.0.0.0/",
        "https://user:pw@bank.example/hook",
        "https://bank.example/hook#fragment",
        "https://bank_example!/hook",
        "https:///hook",
        "https://bank.example:99999/hook",
        "https://bank.example/" + "x" * 2100,
        "https://bank.example/a b",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(EndpointRefusedError):
        check_url(url, NONE)


def test_admitted_urls() -> None:
    assert check_url("https://Bank.Example/h?x=1", NONE).target == "/h?x=1"
    assert check_url("https://8.8.8.8", NONE).origin == "https://8.8.8.8:443"
    assert check_url("http://127.0.0.1:8080/h", LOOPBACK).origin == "http://127.0.0.1:8080"
    named = Allowlist.parse(["bank-a.internal"])
    assert check_url("http://bank-a.internal/h", named).host_header == "bank-a.internal"
    with pytest.raises(EndpointRefusedError):  # even allowlisted: metadata is never a bank
        check_url("http://169.254.169.254/", Allowlist.parse(["169.254.0.0/16"]))


def test_the_allowlist_takes_names_and_networks_only() -> None:
    allow = Allowlist.parse(["127.0.0.0/8", "LocalHost.", "::1"])
    assert allow.names == frozenset({"localhost"})
    assert allow.trusts_address(ipaddress.ip_address("127.9.9.9"))
    assert allow.trusts_address(ipaddress.ip_address("::ffff:127.0.0.1"))
    with pytest.raises(ConfigurationError):
        Allowlist.parse(["not a host!"])


def test_public_means_globally_routable() -> None:
    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2001:4860:4860::8888"))
    for private in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "169.254.1.1", "::ffff:10.0.0.1"):
        assert not is_public(ipaddress.ip_address(private)), private


def test_every_resolved_address_must_pass() -> None:
    # localhost resolves to loopback only: refused unless allowlisted.
    destination = check_url("https://localhost:8443/h", NONE)
    with pytest.raises(EndpointRefusedError):
        route(destination, NONE)
    way = route(destination, Allowlist.parse(["localhost"]))
    assert way.host_header == "localhost:8443" and way.sni_hostname == "localhost"
    assert way.address in ("127.0.0.1", "::1")  # the checked address, pinned


def test_a_name_that_resolves_inside_is_refused_at_delivery(env: AlertEnv) -> None:
    """https://localhost passes the URL rules; its addresses do not. No byte reaches the port."""
    env.configure(alert_allow_hosts=())
    bank = Bank().start()
    env.add_partner("SNEAKY")
    url = f"https://localhost:{bank.port}/hook"
    set_endpoint(env.store, env.sealer, "SNEAKY", url, allow=NONE)
    (alert_id,) = env.enqueue(alert("SNEAKY", 0))
    try:
        env.dispatcher(**ONE_ATTEMPT).run(once=True)
    finally:
        bank.stop()
    (attempt,) = env.status(alert_id).history
    assert attempt.status_code is None and (attempt.error or "").startswith("refused:")
    assert "non-public address" in (attempt.error or "")
    assert bank.connections == 0


def test_an_unresolvable_name_is_a_retry_not_a_crash(env: AlertEnv) -> None:
    env.add_partner("NOWHERE")
    set_endpoint(env.store, env.sealer, "NOWHERE", "https://nowhere.invalid/h", allow=NONE)
    (alert_id,) = env.enqueue(alert("NOWHERE", 0))
    env.dispatcher(**ONE_ATTEMPT).run(once=True)
    (attempt,) = env.status(alert_id).history
    # gaierror where DNS answers NXDOMAIN; "no answer within" where no DNS answers at all.
    assert attempt.outcome == "retry" and attempt.status_code is None and attempt.error
