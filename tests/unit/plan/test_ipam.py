"""IP allocation in the bridge subnet: lowest free host, never network/gateway/broadcast."""

from __future__ import annotations

import pytest

from kubeplay.errors import NetworkError
from kubeplay.plan import ipam


@pytest.mark.parametrize(
    ("subnet", "used", "gateway", "expected"),
    [
        pytest.param("10.89.0.0/24", [], None, "10.89.0.2", id="first-pod-after-gateway"),
        pytest.param("10.89.0.0/24", ["10.89.0.2"], None, "10.89.0.3", id="next-free"),
        pytest.param(
            "10.89.0.0/24", ["10.89.0.2", "10.89.0.4"], None, "10.89.0.3", id="released-reused"
        ),
        pytest.param("10.89.0.0/24", ["10.89.0.2/24"], None, "10.89.0.3", id="used-with-prefix"),
        pytest.param("10.89.0.0/24", [], "10.89.0.254", "10.89.0.1", id="gateway-elsewhere"),
        pytest.param("10.89.0.0/30", [], None, "10.89.0.2", id="smallest-subnet"),
    ],
)
def test_allocate(subnet: str, used: list[str], gateway: str | None, expected: str) -> None:
    assert ipam.allocate(subnet, used=used, gateway=gateway) == expected


def test_allocate_skips_broadcast_and_reports_exhaustion() -> None:
    used = [f"10.89.0.{i}" for i in range(2, 254)]
    assert ipam.allocate("10.89.0.0/24", used=used) == "10.89.0.254"
    with pytest.raises(NetworkError, match=r"subnet 10\.89\.0\.0/24 exhausted"):
        ipam.allocate("10.89.0.0/24", used=[*used, "10.89.0.254"])


@pytest.mark.parametrize(
    ("subnet", "expected"),
    [
        pytest.param("10.89.0.0/24", "10.89.0.1", id="slash-24"),
        pytest.param("172.30.0.0/16", "172.30.0.1", id="slash-16"),
    ],
)
def test_gateway_of(subnet: str, expected: str) -> None:
    assert ipam.gateway_of(subnet) == expected


@pytest.mark.parametrize(
    "subnet",
    [
        pytest.param("10.89.0.1/24", id="host-bits-set"),
        pytest.param("not-a-subnet", id="garbage"),
        pytest.param("10.89.0.0/31", id="too-small"),
    ],
)
def test_bad_subnet(subnet: str) -> None:
    with pytest.raises(NetworkError, match="subnet"):
        ipam.gateway_of(subnet)
