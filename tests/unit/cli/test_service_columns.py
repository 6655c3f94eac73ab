"""`get svc` columns as kubectl prints them: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kubeplay.cli import objects


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param(
            {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "ports": [{"port": 80, "protocol": "TCP"}],
            },
            {},
            ["ClusterIP", "10.96.0.10", "<none>", "80/TCP"],
            id="cluster-ip",
        ),
        pytest.param(
            {"type": "ClusterIP", "clusterIP": "None", "ports": []},
            {},
            ["ClusterIP", "None", "<none>", "<none>"],
            id="headless-no-ports",
        ),
        pytest.param(
            {
                "type": "NodePort",
                "clusterIP": "10.96.0.11",
                "ports": [
                    {"port": 80, "protocol": "TCP", "nodePort": 30080},
                    {"port": 53, "protocol": "UDP", "nodePort": 30053},
                ],
            },
            {},
            ["NodePort", "10.96.0.11", "<none>", "80:30080/TCP,53:30053/UDP"],
            id="node-ports",
        ),
        pytest.param(
            {
                "type": "LoadBalancer",
                "clusterIP": "10.96.0.12",
                "ports": [{"port": 80, "nodePort": 31000}],
            },
            {},
            ["LoadBalancer", "10.96.0.12", "<pending>", "80:31000/TCP"],
            id="load-balancer-pending",
        ),
        pytest.param(
            {"type": "ExternalName", "externalName": "db.example.org"},
            {},
            ["ExternalName", "<none>", "db.example.org", "<none>"],
            id="external-name",
        ),
    ],
)
def test_service_cells(spec: dict[str, Any], status: dict[str, Any], expected: list[str]) -> None:
    assert objects._service_cells(spec, status) == expected


def test_describe_service() -> None:
    from kubeplay.cli import describe

    svc = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "NodePort",
            "selector": {"app": "web"},
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ports": [
                {
                    "name": "http",
                    "port": 80,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "nodePort": 30080,
                }
            ],
        },
    }
    slices = [
        {
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.90.0.3"], "conditions": {"ready": True}},
                {"addresses": ["10.90.0.4"], "conditions": {"ready": False}},
            ],
        }
    ]
    text = describe.describe_service(svc, slices)
    lines = [line.split(None, 1) for line in text.splitlines()]
    shown = {k.rstrip(":"): v for k, v in (line for line in lines if len(line) == 2)}
    assert shown["Selector"] == "app=web"
    assert shown["IP"] == "10.96.0.10"
    assert shown["TargetPort"] == "http/TCP"
    assert shown["Endpoints"] == "10.90.0.3:8080"
    assert "NodePort:" in text and "30080/TCP" in text
    empty = describe.describe_service(svc, [])
    assert "Endpoints:" in empty and "<none>" in empty
    why = describe.describe_service(svc, [], {("http", "TCP"): "no pod matches"})
    assert re.search(r"^Endpoints:\s+<none> \(no pod matches\)$", why, re.M), why


def test_describe_endpoints_as_kubectl() -> None:
    from kubeplay.cli import describe

    body = {
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.5"}, {"ip": "10.0.0.6"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    assert describe.describe_body("Endpoints", body).splitlines() == [
        "Name:         web",
        "Namespace:    default",
        "Labels:       app=web",
        "Annotations:  <none>",
        "Subsets:",
        "  Addresses:          10.0.0.5,10.0.0.6",
        "  NotReadyAddresses:  <none>",
        "  Ports:",
        "    Name  Port  Protocol",
        "    ----  ----  --------",
        "    http  8080  TCP",
    ]


def test_describe_endpoint_slice_as_kubectl() -> None:
    from kubeplay.cli import describe

    body = {
        "metadata": {"name": "web-abcde", "namespace": "default"},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": ["10.0.0.5"],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": "web-1"},
            }
        ],
    }
    assert describe.describe_body("EndpointSlice", body).splitlines() == [
        "Name:         web-abcde",
        "Namespace:    default",
        "Labels:       <none>",
        "Annotations:  <none>",
        "AddressType:  IPv4",
        "Ports:",
        "  Name  Port  Protocol",
        "  ----  ----  --------",
        "  http  8080  TCP",
        "Endpoints:",
        "  - Addresses:  10.0.0.5",
        "    Conditions:",
        "      Ready:    true",
        "    Hostname:   <unset>",
        "    TargetRef:  Pod/web-1",
        "    NodeName:   <unset>",
        "    Zone:       <unset>",
    ]


def _ips(n: int, port: int | None = None) -> list[str]:
    return [f"10.0.0.{i}" + (f":{port}" if port else "") for i in range(5, 5 + n)]


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        pytest.param([], "<none>", id="endpoints-without-subsets"),
        pytest.param(
            [{"addresses": [{"ip": ip} for ip in _ips(2)], "ports": [{"port": 8080}]}],
            "10.0.0.5:8080,10.0.0.6:8080",
            id="endpoints-ready-addresses-with-port",
        ),
        pytest.param(
            [{"addresses": [{"ip": ip} for ip in _ips(4)], "ports": [{"port": 8080}]}],
            "10.0.0.5:8080,10.0.0.6:8080,10.0.0.7:8080 + 1 more...",
            id="endpoints-more-than-three",
        ),
        pytest.param(
            [
                {
                    "addresses": [{"ip": "10.0.0.5"}],
                    "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}],
                }
            ],
            "10.0.0.5:80,10.0.0.5:81",
            id="endpoints-address-per-port",
        ),
        pytest.param(
            [{"addresses": [{"ip": ip} for ip in _ips(2)]}],
            "10.0.0.5,10.0.0.6",
            id="endpoints-headless-without-ports",
        ),
        pytest.param(
            [{"notReadyAddresses": [{"ip": "10.0.0.5"}], "ports": [{"port": 80}]}],
            "",
            id="endpoints-not-ready-addresses-not-shown",
        ),
    ],
)
def test_endpoints_column(subsets: list[dict[str, Any]], expected: str) -> None:
    assert objects.endpoints_cell({"subsets": subsets}) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                "endpoints": [{"addresses": [ip]} for ip in _ips(2)],
            },
            ["IPv4", "8080", "10.0.0.5,10.0.0.6"],
            id="endpointslice-port-and-addresses",
        ),
        pytest.param(
            {"addressType": "IPv4", "endpoints": []},
            ["IPv4", "<unset>", "<unset>"],
            id="endpointslice-empty",
        ),
        pytest.param(
            {
                "addressType": "IPv4",
                "ports": [{"port": p} for p in (80, 81, 82, 83, 84)],
                "endpoints": [
                    {"addresses": [ip], "conditions": {"ready": False}} for ip in _ips(4)
                ],
            },
            ["IPv4", "80,81,82 + 2 more...", "10.0.0.5,10.0.0.6,10.0.0.7 + 1 more..."],
            id="endpointslice-more-than-three-ready-or-not",
        ),
        pytest.param(
            {"addressType": "IPv4", "ports": [{"name": "dns"}, {}], "endpoints": []},
            ["IPv4", "dns,*", "<unset>"],
            id="endpointslice-port-without-number",
        ),
    ],
)
def test_endpoint_slice_columns(body: dict[str, Any], expected: list[str]) -> None:
    assert objects.endpoint_slice_cells(body) == expected


def test_wide_service_table_adds_the_selector() -> None:
    from kubeplay.state.store import ObjectRecord

    rec = ObjectRecord(
        uid="u",
        api_group="",
        kind="Service",
        namespace="default",
        name="web",
        body={"spec": {"clusterIP": "10.96.0.10", "selector": {"tier": "a", "app": "web"}}},
    )
    header, row = objects.render_records([rec], kind="Service", namespaces=False, wide=True).split(
        "\n"
    )
    assert header.split() == [
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
        "SELECTOR",
    ]
    assert row.split()[-1] == "app=web,tier=a"
    plain = objects.render_records([rec], kind="Service", namespaces=False)
    assert "SELECTOR" not in plain
