"""resource.Quantity parsing (k8s.io/apimachinery/pkg/api/resource): the same values as the
kubernetes client's parse_quantity, checked against it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kubeplay.kube.quantity import parse_quantity

CASES = [
    pytest.param("500m", Decimal("0.5"), id="milli-cpu"),
    pytest.param("0.5", Decimal("0.5"), id="fraction-cpu"),
    pytest.param("1", Decimal(1), id="plain"),
    pytest.param(2, Decimal(2), id="integer"),
    pytest.param("1.5Gi", Decimal(1536 * 2**20), id="binary-si-fraction"),
    pytest.param("1024Mi", Decimal(2**30), id="mebibytes"),
    pytest.param("1G", Decimal(10**9), id="decimal-si"),
    pytest.param("128974848", Decimal(128974848), id="bytes"),
    pytest.param("129e6", Decimal(129 * 10**6), id="decimal-exponent"),
    pytest.param("1E3", Decimal(1000), id="upper-exponent"),
    pytest.param("1E", Decimal(10**18), id="exa-not-exponent"),
    pytest.param("100n", Decimal("1e-7"), id="nano"),
    pytest.param("5u", Decimal("5e-6"), id="micro"),
    pytest.param(".5", Decimal("0.5"), id="leading-dot"),
    pytest.param("1k", Decimal(1000), id="kilo"),
    pytest.param("1Ki", Decimal(1024), id="kibi"),
]


@pytest.mark.parametrize(("text", "value"), CASES)
def test_parse_quantity(text: Any, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(("text", "value"), CASES)
def test_same_value_as_the_kubernetes_client(text: Any, value: Decimal) -> None:
    from kubernetes.utils.quantity import parse_quantity as reference

    assert parse_quantity(text) == Decimal(reference(text))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("1Kb", id="unknown-suffix"),
        pytest.param("ten", id="words"),
        pytest.param(True, id="boolean"),
        pytest.param(None, id="null"),
    ],
)
def test_not_a_quantity(text: Any) -> None:
    assert parse_quantity(text) is None
