"""`get svc` columns as kubectl prints them: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S)."""

from __future__ import annotations

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
