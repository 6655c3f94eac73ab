"""plan.endpoints: the v1 Endpoints the endpoints controller would keep, derived from the
EndpointSlices, and why a Service port has no endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import endpoints
from kubeplay.plan.services import MANAGED_BY, MANAGED_BY_LABEL, PodInfo, service_spec


def _service(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, **spec},
    }


def _slice(name: str, ports: list[dict[str, Any]], *eps: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
        "ports": ports,
        "endpoints": list(eps),
    }


def _ep(ip: str, *, ready: bool = True, terminating: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": ready, "terminating": terminating},
        **extra,
    }


HTTP = [{"name": "http", "port": 8080, "protocol": "TCP"}]
POD_REF = {"kind": "Pod", "namespace": "default", "name": "web-1"}


@pytest.mark.parametrize(
    ("service", "slices", "expected"),
    [
        pytest.param(
            _service(),
            [_slice("web-a", HTTP, _ep("10.0.0.6"), _ep("10.0.0.5", targetRef=POD_REF))],
            [
                {
                    "addresses": [{"ip": "10.0.0.5", "targetRef": POD_REF}, {"ip": "10.0.0.6"}],
                    "ports": HTTP,
                }
            ],
            id="ready-endpoints-are-addresses-sorted-by-ip",
        ),
        pytest.param(
            _service(),
            [_slice("web-a", HTTP, _ep("10.0.0.5"), _ep("10.0.0.6", ready=False))],
            [
                {
                    "addresses": [{"ip": "10.0.0.5"}],
                    "notReadyAddresses": [{"ip": "10.0.0.6"}],
                    "ports": HTTP,
                }
            ],
            id="not-ready-endpoints-are-not-ready-addresses",
        ),
        pytest.param(
            _service(),
            [_slice("web-a", HTTP, _ep("10.0.0.5", ready=False, terminating=True))],
            None,
            id="terminating-endpoint-left-out",
        ),
        pytest.param(
            _service(),
            [
                _slice("web-a", HTTP, _ep("10.0.0.5")),
                _slice(
                    "web-b", [{"name": "http", "port": 9090, "protocol": "TCP"}], _ep("10.0.0.6")
                ),
            ],
            [
                {"addresses": [{"ip": "10.0.0.5"}], "ports": HTTP},
                {
                    "addresses": [{"ip": "10.0.0.6"}],
                    "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}],
                },
            ],
            id="named-target-port-groups-are-subsets",
        ),
        pytest.param(
            _service(clusterIP="None"),
            [_slice("web-a", [], _ep("10.0.0.5", hostname="db-0"))],
            [{"addresses": [{"ip": "10.0.0.5", "hostname": "db-0"}]}],
            id="headless-without-ports-keeps-hostname",
        ),
        pytest.param(_service(), [_slice("web-a", HTTP)], None, id="no-endpoints-no-subsets"),
        pytest.param(
            _service(),
            [{**_slice("mine", HTTP, _ep("10.0.0.9")), "metadata": {"name": "mine"}}],
            None,
            id="user-slices-of-a-selector-service-ignored",
        ),
    ],
)
def test_derive_endpoints_subsets(
    service: dict[str, Any], slices: list[dict[str, Any]], expected: list[dict[str, Any]] | None
) -> None:
    body = endpoints.derive_endpoints(service, slices)
    assert body is not None
    assert body.get("subsets") == expected


def test_derived_endpoints_carry_the_service_labels_and_the_controller_marks() -> None:
    body = endpoints.derive_endpoints(_service(clusterIP="None"), [])
    assert body == {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {
                "app": "web",
                endpoints.SKIP_MIRROR_LABEL: "true",
                endpoints.HEADLESS_LABEL: "",
            },
        },
    }


@pytest.mark.parametrize(
    "service",
    [
        pytest.param({"metadata": {"name": "x"}, "spec": {}}, id="selector-less-is-the-users"),
        pytest.param(
            {"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "selector": {"a": "b"}}},
            id="external-name-has-none",
        ),
    ],
)
def test_no_derived_endpoints(service: dict[str, Any]) -> None:
    assert endpoints.derive_endpoints(service, []) is None


def _pod(
    name: str,
    *,
    ready: bool = True,
    ports: dict[str, tuple[int, str]] | None = None,
    labels: dict[str, str] | None = None,
) -> PodInfo:
    return PodInfo(
        namespace="default",
        name=name,
        ip="10.0.0.5",
        labels={"app": "web"} if labels is None else labels,
        ready=ready,
        named_ports=ports or {},
    )


def _svc(target: int | str = "http", protocol: str = "TCP", **spec: Any) -> Any:
    port = {"name": "web", "port": 80, "targetPort": target, "protocol": protocol}
    return service_spec(_service(ports=[port], **spec))


@pytest.mark.parametrize(
    ("svc", "pods", "expected"),
    [
        pytest.param(
            _svc(),
            [_pod("a", labels={"app": "other"})],
            "no running pod in the namespace matches the selector",
            id="selector-matches-no-pod",
        ),
        pytest.param(
            _svc("metrics"),
            [_pod("a", ports={"http": (8080, "TCP")}), _pod("b")],
            'of the 2 pods the selector matches, none has a container port named "metrics"',
            id="named-target-port-no-pod-has",
        ),
        pytest.param(
            _svc("dns", protocol="UDP"),
            [_pod("a", ports={"dns": (53, "TCP")})],
            'of the 1 pod the selector matches, container port "dns" is TCP, not UDP',
            id="named-target-port-other-protocol",
        ),
        pytest.param(
            _svc(8080),
            [_pod("a", ready=False)],
            "of the 1 pod the selector matches, none is Ready",
            id="matched-pods-not-ready",
        ),
        pytest.param(
            _svc(8080, publishNotReadyAddresses=True),
            [_pod("a", ready=False)],
            None,
            id="publish-not-ready-addresses-has-endpoints",
        ),
        pytest.param(
            _svc("http"),
            [_pod("a", ports={"http": (8080, "TCP")})],
            None,
            id="named-target-port-resolved-has-endpoints",
        ),
    ],
)
def test_explain_no_endpoints(svc: Any, pods: list[PodInfo], expected: str | None) -> None:
    assert endpoints.explain_no_endpoints(svc, pods).get(("web", svc.ports[0].protocol)) == (
        expected
    )
