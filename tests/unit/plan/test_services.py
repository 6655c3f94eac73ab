"""Services: cluster IP allocation, endpoints, port rules, DNS records and their nft text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kubeplay.errors import ManifestError
from kubeplay.plan import network, services
from kubeplay.plan.services import Endpoint, PodInfo, PortRule, ServicePort

CIDR = "10.96.0.0/24"


def _svc(spec: Mapping[str, Any], name: str = "web", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(spec),
    }


@pytest.mark.parametrize(
    ("spec", "used", "expected"),
    [
        pytest.param({}, set(), "10.96.0.2", id="first-free-skips-reserved-first-address"),
        pytest.param({}, {"10.96.0.2", "10.96.0.3"}, "10.96.0.4", id="taken-ones-skipped"),
        pytest.param({"clusterIP": "10.96.0.50"}, set(), "10.96.0.50", id="clusterIP-honoured"),
        pytest.param({"clusterIP": "None"}, set(), "None", id="headless-has-none"),
        pytest.param(
            {"type": "ExternalName", "externalName": "example.org"},
            set(),
            "",
            id="externalName-has-no-cluster-ip",
        ),
    ],
)
def test_allocate_cluster_ip(spec: dict[str, Any], used: set[str], expected: str) -> None:
    assert services.allocate_cluster_ip(_svc(spec), cidr=CIDR, used=used) == expected


@pytest.mark.parametrize(
    ("wanted", "used", "message"),
    [
        pytest.param("10.97.0.5", set(), "not in the valid range", id="out-of-range"),
        pytest.param("10.96.0.9", {"10.96.0.9"}, "already allocated", id="taken"),
        pytest.param("10.96.0.1", set(), "reserved", id="reserved-first-address"),
        pytest.param("banana", set(), "valid IP address", id="not-an-address"),
    ],
)
def test_allocate_cluster_ip_refused(wanted: str, used: set[str], message: str) -> None:
    with pytest.raises(ManifestError, match=message) as err:
        services.allocate_cluster_ip(_svc({"clusterIP": wanted}), cidr=CIDR, used=used)
    assert err.value.path == "spec.clusterIP"
    assert err.value.exit_code == 2


def test_range_full() -> None:
    used = {f"10.96.0.{i}" for i in range(2, 7)}
    with pytest.raises(ManifestError, match="full"):
        services.allocate_cluster_ip(_svc({}), cidr="10.96.0.0/29", used=used)


def _pod(name: str, ip: str, **kw: Any) -> PodInfo:
    base: dict[str, Any] = {
        "namespace": "default",
        "labels": {"app": "web"},
        "ready": True,
        "named_ports": {"http": (8080, "TCP")},
    }
    base.update(kw)
    return PodInfo(name=name, ip=ip, **base)


def _spec(**spec: Any) -> services.ServiceSpec:
    body = {"selector": {"app": "web"}, "clusterIP": "10.96.0.10", "type": "ClusterIP"}
    body.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}])
    body.update(spec)
    return services.service_spec(_svc(body))


def _ips(svc: services.ServiceSpec, pods: list[PodInfo]) -> list[tuple[str, int, bool]]:
    (only,) = services.compute_endpoints(svc, pods)
    return [(e.ip, e.port, e.ready) for e in only.endpoints]


@pytest.mark.parametrize(
    ("svc", "pods", "expected"),
    [
        pytest.param(
            _spec(),
            [_pod("a", "10.90.0.3"), _pod("b", "10.90.0.2")],
            [("10.90.0.2", 8080, True), ("10.90.0.3", 8080, True)],
            id="ready-pods-selected",
        ),
        pytest.param(
            _spec(),
            [_pod("a", "10.90.0.3", ready=False)],
            [("10.90.0.3", 8080, False)],
            id="not-ready-pod-listed-not-ready",
        ),
        pytest.param(
            _spec(),
            [_pod("a", "10.90.0.3", terminating=True)],
            [("10.90.0.3", 8080, False)],
            id="terminating-pod-not-ready",
        ),
        pytest.param(
            _spec(), [_pod("a", "10.90.0.3", finished=True)], [], id="finished-pod-no-endpoint"
        ),
        pytest.param(_spec(), [_pod("a", "")], [], id="pod-without-ip-no-endpoint"),
        pytest.param(
            _spec(), [_pod("a", "10.90.0.3", labels={"app": "db"})], [], id="selector-mismatch"
        ),
        pytest.param(
            _spec(), [_pod("a", "10.90.0.3", namespace="other")], [], id="other-namespace"
        ),
        pytest.param(
            _spec(publishNotReadyAddresses=True),
            [_pod("a", "10.90.0.3", ready=False)],
            [("10.90.0.3", 8080, True)],
            id="publishNotReadyAddresses-makes-ready",
        ),
        pytest.param(
            _spec(ports=[{"name": "h", "port": 80, "targetPort": "http", "protocol": "TCP"}]),
            [
                _pod("a", "10.90.0.2"),
                _pod("b", "10.90.0.3", named_ports={"http": (9090, "TCP")}),
                _pod("c", "10.90.0.4", named_ports={}),
            ],
            [("10.90.0.2", 8080, True), ("10.90.0.3", 9090, True)],
            id="named-targetPort-resolved-per-pod",
        ),
        pytest.param(
            _spec(ports=[{"name": "h", "port": 80, "targetPort": "http", "protocol": "UDP"}]),
            [_pod("a", "10.90.0.2")],
            [],
            id="named-targetPort-other-protocol-no-endpoint",
        ),
        pytest.param(
            _spec(selector=None), [_pod("a", "10.90.0.2")], [], id="selector-less-no-endpoints"
        ),
    ],
)
def test_compute_endpoints(
    svc: services.ServiceSpec, pods: list[PodInfo], expected: list[tuple[str, int, bool]]
) -> None:
    assert _ips(svc, pods) == expected


def test_endpoint_hostname_only_for_matching_subdomain() -> None:
    pods = [
        _pod("web-0", "10.90.0.2", hostname="web-0", subdomain="web"),
        _pod("x", "10.90.0.3", hostname="x", subdomain="other"),
    ]
    (port,) = services.compute_endpoints(_spec(), pods)
    assert [(e.pod, e.hostname) for e in port.endpoints] == [
        ("default/web-0", "web-0"),
        ("default/x", ""),
    ]


@pytest.mark.parametrize(
    ("svc", "expected"),
    [
        pytest.param(
            _spec(),
            (PortRule("default/web", "http", "TCP", "10.96.0.10", 80, (("10.90.0.2", 8080),)),),
            id="cluster-ip-ready-endpoints-only",
        ),
        pytest.param(
            _spec(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {}}),
            (
                PortRule(
                    "default/web",
                    "http",
                    "TCP",
                    "10.96.0.10",
                    80,
                    (("10.90.0.2", 8080),),
                    affinity_seconds=10800,
                ),
            ),
            id="clientIP-affinity-default-timeout",
        ),
        pytest.param(_spec(clusterIP="None"), (), id="headless-no-rules"),
    ],
)
def test_compute_port_rules(svc: services.ServiceSpec, expected: tuple[PortRule, ...]) -> None:
    pods = [_pod("a", "10.90.0.2"), _pod("b", "10.90.0.3", ready=False)]
    assert services.compute_port_rules(svc, services.compute_endpoints(svc, pods)) == expected


def test_dns_records() -> None:
    pods = [
        _pod("web-0", "10.90.0.2", hostname="web-0", subdomain="web"),
        _pod("web-1", "10.90.0.3", hostname="web-1", subdomain="web", ready=False),
    ]
    vip = _spec()
    headless = services.service_spec(
        _svc(
            {"selector": {"app": "web"}, "clusterIP": "None", "ports": []},
            name="web",
            namespace="default",
        )
    )
    other = services.service_spec(
        _svc({"selector": {"app": "web"}, "clusterIP": "10.96.0.11"}, name="api")
    )
    records = services.compute_dns_records(
        [
            (other, services.compute_endpoints(other, pods)),
            (headless, services.compute_endpoints(headless, pods)),
        ],
        pods,
    )
    assert records == {
        "10-90-0-2.default.pod.cluster.local": ("10.90.0.2",),
        "10-90-0-3.default.pod.cluster.local": ("10.90.0.3",),
        "api.default.svc.cluster.local": ("10.96.0.11",),
        "web-0.web.default.svc.cluster.local": ("10.90.0.2",),
        "web.default.svc.cluster.local": ("10.90.0.2",),
    }
    assert vip.fqdn == "web.default.svc.cluster.local"


def test_headless_with_ports_lists_ready_endpoints() -> None:
    pods = [_pod("a", "10.90.0.2"), _pod("b", "10.90.0.3")]
    headless = _spec(clusterIP="None")
    records = services.compute_dns_records(
        [(headless, services.compute_endpoints(headless, pods))], []
    )
    assert records == {
        "10-90-0-2.web.default.svc.cluster.local": ("10.90.0.2",),
        "10-90-0-3.web.default.svc.cluster.local": ("10.90.0.3",),
        "web.default.svc.cluster.local": ("10.90.0.2", "10.90.0.3"),
    }


def _ruleset(*rules: PortRule) -> str:
    return network.render_nft_ruleset(
        table="kubeplay",
        bridge="kubeplay0",
        subnet="10.89.0.0/24",
        port_maps=[],
        services=rules,
    )


def _chain(text: str, prefix: str) -> list[str]:
    body = text.split(f"\tchain {prefix}", 1)[1].split("\n\t}", 1)[0]
    return [line.strip() for line in body.splitlines()[1:]]


def test_nft_service_golden() -> None:
    text = _ruleset(
        PortRule(
            "ns/web", "http", "TCP", "10.96.0.10", 80, (("10.89.0.2", 8080), ("10.89.0.3", 8080))
        )
    )
    service = _chain(text, "service-")
    assert service == [
        "ip daddr 10.96.0.10 ip saddr != 10.89.0.0/24 jump mark-for-masquerade",
        "numgen random mod 2 vmap { 0 : goto endpoint-XOTNI6BL-ns/web/tcp/http__10.89.0.2/8080, "
        "1 : goto endpoint-6PS765MD-ns/web/tcp/http__10.89.0.3/8080 }",
    ]
    assert _chain(text, "endpoint-XOTNI6BL") == ["meta l4proto tcp dnat to 10.89.0.2:8080"]
    assert "elements = { 10.96.0.10 . tcp . 80 : goto service-Y6QD5CCT-ns/web/tcp/http };" in text
    assert _chain(text, "services") == [
        "ip daddr . meta l4proto . th dport vmap @service-ips",
        "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
    ]
    assert "jump services" in "\n".join(_chain(text, "prerouting"))
    assert "jump services" in "\n".join(_chain(text, "output"))
    assert _chain(text, "mark-for-masquerade") == ["meta mark set meta mark | 0x4000"]
    assert _chain(text, "masquerading") == [
        "meta mark & 0x4000 == 0 return",
        "meta mark set meta mark xor 0x4000",
        "masquerade fully-random",
    ]
    assert _chain(text, "postrouting")[1] == "jump masquerading"


def _node_port_rule(*, local: bool) -> PortRule:
    return PortRule(
        "ns/web",
        "http",
        "TCP",
        "10.96.0.10",
        80,
        (("10.89.0.2", 8080),),
        node_port=30080,
        local_traffic=local,
    )


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        pytest.param(
            False,
            [
                "ip saddr != 10.89.0.0/24 jump mark-for-masquerade",
                "goto service-Y6QD5CCT-ns/web/tcp/http",
            ],
            id="externalTrafficPolicy-Cluster-masquerades-what-is-not-from-the-pod-network",
        ),
        pytest.param(
            True,
            [
                "fib saddr type local jump mark-for-masquerade",
                "goto service-Y6QD5CCT-ns/web/tcp/http",
            ],
            id="externalTrafficPolicy-Local-keeps-the-client-ip-masquerades-the-host-only",
        ),
    ],
)
def test_nft_external_traffic_policy(local: bool, expected: list[str]) -> None:
    text = _ruleset(_node_port_rule(local=local))
    assert _chain(text, "external-Y6QD5CCT-ns/web/tcp/http") == expected
    assert "elements = { tcp . 30080 : goto external-Y6QD5CCT-ns/web/tcp/http };" in text


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"type": "NodePort"}, False, id="externalTrafficPolicy-default-Cluster"),
        pytest.param(
            {"type": "NodePort", "externalTrafficPolicy": "Local"}, True, id="nodePort-Local"
        ),
        pytest.param(
            {"externalTrafficPolicy": "Local"}, False, id="Local-without-nodePort-no-effect"
        ),
    ],
)
def test_port_rule_traffic_policy(spec: dict[str, Any], expected: bool) -> None:
    ports = [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    if spec.get("type") == "NodePort":
        ports[0]["nodePort"] = 30080
    svc = _spec(ports=ports, **spec)
    pods = [_pod("a", "10.90.0.2")]
    (rule,) = services.compute_port_rules(svc, services.compute_endpoints(svc, pods))
    assert rule.local_traffic is expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            PortRule("ns/web", "", "TCP", "10.96.0.10", 80, ()),
            "elements = { 10.96.0.10 . tcp . 80 : goto reject-chain };",
            id="no-endpoints-rejected",
        ),
        pytest.param(
            PortRule("ns/dns", "dns", "UDP", "10.96.0.10", 53, (("10.89.0.2", 53),)),
            "meta l4proto udp dnat to 10.89.0.2:53",
            id="udp",
        ),
        pytest.param(
            PortRule(
                "ns/web", "", "TCP", "10.96.0.10", 80, (("10.89.0.2", 80),), affinity_seconds=30
            ),
            "flags dynamic,timeout; timeout 30s;",
            id="clientIP-affinity-set",
        ),
        pytest.param(
            PortRule("ns/web", "", "TCP", "10.96.0.10", 80, (("10.89.0.2", 80),), node_port=30080),
            "elements = { tcp . 30080 : goto external-",
            id="nodePort-goes-to-its-external-chain",
        ),
        pytest.param(
            PortRule("ns/web", "", "TCP", "10.96.0.10", 80, (), node_port=30080),
            "elements = { tcp . 30080 : goto reject-chain };",
            id="nodePort-without-endpoints-rejected",
        ),
        pytest.param(
            PortRule("ns/web", "", "TCP", "10.96.0.10", 80, ()),
            "set cluster-ips {\n\t\ttype ipv4_addr; elements = { 10.96.0.10 };",
            id="unknown-port-of-cluster-ip-rejected",
        ),
    ],
)
def test_nft_service_rules(rule: PortRule, expected: str) -> None:
    assert expected in _ruleset(rule)


def test_nft_no_services_empty_maps() -> None:
    text = _ruleset()
    assert "map service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict;\n" in text


def test_service_ports_parsed() -> None:
    svc = services.service_spec(
        _svc({"ports": [{"port": 53, "protocol": "UDP", "targetPort": "dns", "nodePort": 30053}]})
    )
    assert svc.ports == (ServicePort("", "UDP", 53, "dns", 30053),)
    assert svc.selector is None
    assert Endpoint("10.0.0.1", 1, True) < Endpoint("10.0.0.2", 1, True)


def test_service_link_env() -> None:
    body = _svc(
        {
            "clusterIP": "10.96.0.10",
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "protocol": "UDP"},
            ],
        },
        name="my-web",
    )
    headless = services.service_spec(_svc({"clusterIP": "None", "ports": [{"port": 1}]}, "h"))
    elsewhere = services.service_spec(
        _svc({"clusterIP": "10.96.0.11", "ports": [{"port": 1}]}, "o", "other")
    )
    env = dict(
        services.service_link_env([services.service_spec(body), headless, elsewhere], "default")
    )
    assert env == {
        "MY_WEB_SERVICE_HOST": "10.96.0.10",
        "MY_WEB_SERVICE_PORT": "80",
        "MY_WEB_SERVICE_PORT_HTTP": "80",
        "MY_WEB_SERVICE_PORT_DNS_UDP": "53",
        "MY_WEB_PORT": "tcp://10.96.0.10:80",
        "MY_WEB_PORT_80_TCP": "tcp://10.96.0.10:80",
        "MY_WEB_PORT_80_TCP_PROTO": "tcp",
        "MY_WEB_PORT_80_TCP_PORT": "80",
        "MY_WEB_PORT_80_TCP_ADDR": "10.96.0.10",
        "MY_WEB_PORT_53_UDP": "udp://10.96.0.10:53",
        "MY_WEB_PORT_53_UDP_PROTO": "udp",
        "MY_WEB_PORT_53_UDP_PORT": "53",
        "MY_WEB_PORT_53_UDP_ADDR": "10.96.0.10",
    }


@pytest.mark.parametrize(
    ("spec", "used", "seed", "expected"),
    [
        pytest.param(
            {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]},
            set(),
            5,
            (30005, 30006),
            id="allocated-from-the-seed-on",
        ),
        pytest.param(
            {"type": "NodePort", "ports": [{"port": 80}]}, {30005}, 5, (30006,), id="taken-skipped"
        ),
        pytest.param(
            {"type": "NodePort", "ports": [{"port": 80, "nodePort": 31000}]},
            set(),
            0,
            (31000,),
            id="given-kept",
        ),
        pytest.param(
            {"type": "LoadBalancer", "ports": [{"port": 80}]}, set(), 2767, (32767,), id="lb"
        ),
        pytest.param({"type": "ClusterIP", "ports": [{"port": 80}]}, set(), 0, (), id="cluster-ip"),
        pytest.param(
            {
                "type": "NodePort",
                "ports": [
                    {"port": 53, "protocol": "TCP", "nodePort": 30053},
                    {"port": 53, "protocol": "UDP", "nodePort": 30053},
                ],
            },
            set(),
            0,
            (30053, 30053),
            id="one-port-tcp-and-udp",
        ),
    ],
)
def test_allocate_node_ports(
    spec: dict[str, Any], used: set[int], seed: int, expected: tuple[int, ...]
) -> None:
    assert services.allocate_node_ports(_svc(spec), used=used, seed=seed) == expected


@pytest.mark.parametrize(
    ("ports", "used", "message"),
    [
        pytest.param([{"port": 80, "nodePort": 8080}], set(), "not in the valid range", id="range"),
        pytest.param([{"port": 80, "nodePort": 30080}], {30080}, "already allocated", id="taken"),
        pytest.param(
            [{"port": 80, "nodePort": 30080}, {"port": 81, "nodePort": 30080}],
            set(),
            "Duplicate",
            id="twice",
        ),
    ],
)
def test_allocate_node_ports_refused(
    ports: list[dict[str, Any]], used: set[int], message: str
) -> None:
    with pytest.raises(ManifestError, match=message) as err:
        services.allocate_node_ports(_svc({"type": "NodePort", "ports": ports}), used=used, seed=0)
    assert err.value.path.startswith("spec.ports[")


def test_user_endpoint_slices_of_a_selector_less_service() -> None:
    svc = services.service_spec(
        _svc(
            {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        )
    )
    slices = [
        {
            "metadata": {"labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.90.0.5"]},
                {"addresses": ["10.90.0.6"], "conditions": {"ready": False}},
            ],
        },
        {
            "metadata": {"labels": {"kubernetes.io/service-name": "other"}},
            "ports": [{"name": "http", "port": 1}],
            "endpoints": [{"addresses": ["10.90.0.7"]}],
        },
    ]
    (port,) = services.user_endpoints(svc, slices)
    assert [(e.ip, e.port, e.ready) for e in port.endpoints] == [
        ("10.90.0.5", 8080, True),
        ("10.90.0.6", 8080, False),
    ]


def test_user_endpoints_object_when_no_slice() -> None:
    svc = services.service_spec(
        _svc({"clusterIP": "10.96.0.10", "ports": [{"port": 80, "protocol": "TCP"}]})
    )
    legacy = {
        "subsets": [
            {
                "addresses": [{"ip": "10.90.0.5"}],
                "notReadyAddresses": [{"ip": "10.90.0.6"}],
                "ports": [{"port": 9000}],
            }
        ]
    }
    (port,) = services.user_endpoints(svc, [], legacy)
    assert [(e.ip, e.port, e.ready) for e in port.endpoints] == [
        ("10.90.0.5", 9000, True),
        ("10.90.0.6", 9000, False),
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("8080:80", (8080, "80"), id="local-and-remote"),
        pytest.param(":80", (0, "80"), id="random-local"),
        pytest.param("80", (80, "80"), id="same-port"),
        pytest.param("9000:http", (9000, "http"), id="named-remote"),
    ],
)
def test_parse_forward(spec: str, expected: tuple[int, str]) -> None:
    assert services.parse_forward(spec) == expected


@pytest.mark.parametrize("spec", ["x:80", "8080:", "70000:80", "http"])
def test_parse_forward_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        services.parse_forward(spec)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("8080:80", ("", "8080:80"), id="no-address"),
        pytest.param("80", ("", "80"), id="remote-only"),
        pytest.param("127.0.0.2:8080:80", ("127.0.0.2", "8080:80"), id="ipv4-address"),
        pytest.param("localhost::http", ("localhost", ":http"), id="address-random-local"),
        pytest.param("[::1]:8080:80", ("::1", "8080:80"), id="ipv6-address-in-brackets"),
    ],
)
def test_split_forward_address(spec: str, expected: tuple[str, str]) -> None:
    assert services.split_forward_address(spec) == expected


@pytest.mark.parametrize("spec", [":8080:80", "[::1]8080:80", "[]:80:80"])
def test_split_forward_address_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        services.split_forward_address(spec)


def test_port_forward_to_a_service_uses_the_target_port_in_the_pod() -> None:
    svc = _spec(ports=[{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    pod_a = _pod("a", "10.90.0.2", named_ports={"http": (9090, "TCP")})
    assert services.service_target(svc, "80", pod_a) == 9090
    assert services.service_target(svc, "web", pod_a) == 9090
    assert services.container_port("http", pod_a) == 9090
    with pytest.raises(ValueError, match="no TCP port"):
        services.service_target(svc, "81", pod_a)


def test_endpoint_slices_per_port_group() -> None:
    svc = _spec(ports=[{"name": "h", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    pods = [
        _pod("a", "10.90.0.2"),
        _pod("b", "10.90.0.3", named_ports={"http": (9090, "TCP")}),
        _pod("c", "10.90.0.4", ready=False, hostname="c", subdomain="web"),
    ]
    slices = services.compute_endpoint_slices(svc, "uid-1", services.compute_endpoints(svc, pods))
    assert len(slices) == 2  # pods a and c map "http" to 8080, pod b to 9090
    by_port = {s["ports"][0]["port"]: s for s in slices.values()}
    a_c = by_port[8080]
    assert a_c["metadata"]["labels"] == {
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert a_c["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert [
        (e["addresses"], e["conditions"]["ready"], e.get("hostname")) for e in a_c["endpoints"]
    ] == [
        (["10.90.0.2"], True, None),
        (["10.90.0.4"], False, "c"),
    ]
    assert [e["targetRef"]["name"] for e in by_port[9090]["endpoints"]] == ["b"]
    assert all(name.startswith("web-") and len(name) == 9 for name in slices)
    assert (
        services.compute_endpoint_slices(svc, "uid-1", services.compute_endpoints(svc, pods))
        == slices
    )


def test_endpoint_slice_of_a_service_without_endpoints() -> None:
    svc = _spec()
    (only,) = services.compute_endpoint_slices(
        svc, "u", services.compute_endpoints(svc, [])
    ).values()
    assert only["endpoints"] == [] and "ports" not in only


def _with_eps(*specs: services.ServiceSpec, pods: tuple[PodInfo, ...] = ()) -> list[Any]:
    return [(svc, services.compute_endpoints(svc, pods)) for svc in specs]


def test_dns_config_srv_for_named_ports_and_cluster_cname() -> None:
    named = _spec(
        ports=[
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"port": 81, "targetPort": 81, "protocol": "TCP"},
        ]
    )
    alias = services.service_spec(
        _svc({"type": "ExternalName", "externalName": "web.default.svc.cluster.local."}, "alias")
    )
    outside = services.service_spec(
        _svc({"type": "ExternalName", "externalName": "example.org"}, "ext")
    )
    assert services.compute_dns_config(_with_eps(named, alias, outside)) == (
        "cname=alias.default.svc.cluster.local,web.default.svc.cluster.local",
        "srv-host=_http._tcp.web.default.svc.cluster.local,web.default.svc.cluster.local,80",
    )


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param(
            (
                _pod("db-0", "10.90.0.2", hostname="db-0", subdomain="web"),
                _pod("other", "10.90.0.3", named_ports={"http": (9090, "TCP")}),
            ),
            (
                "srv-host=_http._tcp.web.default.svc.cluster.local,"
                "db-0.web.default.svc.cluster.local,8080",
                "srv-host=_http._tcp.web.default.svc.cluster.local,"
                "10-90-0-3.web.default.svc.cluster.local,9090",
            ),
            id="headless-SRV-one-per-endpoint-hostname-else-dashed-ip-target-port",
        ),
        pytest.param(
            (
                _pod("a", "10.90.0.2"),
                _pod("b", "10.90.0.3", ready=False),
                _pod("c", "10.90.0.4", terminating=True),
            ),
            (
                "srv-host=_http._tcp.web.default.svc.cluster.local,"
                "10-90-0-2.web.default.svc.cluster.local,8080",
            ),
            id="headless-SRV-ready-endpoints-only",
        ),
        pytest.param(
            (_pod("a", "10.90.0.2", hostname="a", subdomain="other"),),
            (
                "srv-host=_http._tcp.web.default.svc.cluster.local,"
                "10-90-0-2.web.default.svc.cluster.local,8080",
            ),
            id="headless-SRV-hostname-only-when-the-subdomain-names-the-service",
        ),
        pytest.param((), (), id="headless-SRV-no-endpoints-no-record"),
    ],
)
def test_dns_config_headless_srv(pods: tuple[PodInfo, ...], expected: tuple[str, ...]) -> None:
    headless = _spec(
        clusterIP="None",
        ports=[
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
            {"port": 81, "targetPort": 81, "protocol": "TCP"},  # unnamed: no SRV
        ],
    )
    assert services.compute_dns_config(_with_eps(headless, pods=pods)) == expected


def test_headless_srv_targets_are_a_records() -> None:
    """Every SRV target of a headless Service resolves (compute_dns_records has it)."""
    pods = (_pod("db-0", "10.90.0.2", hostname="db-0", subdomain="web"), _pod("x", "10.90.0.3"))
    with_eps = _with_eps(_spec(clusterIP="None"), pods=pods)
    records = services.compute_dns_records(with_eps, pods)
    targets = [line.split(",")[1] for line in services.compute_dns_config(with_eps)]
    assert targets and all(records.get(t) for t in targets), (targets, records)


@pytest.mark.parametrize(
    ("svc_spec", "published"),
    [
        pytest.param(None, False, id="subdomain-without-a-service-no-record"),
        pytest.param({"clusterIP": "None"}, True, id="subdomain-names-a-headless-service"),
        pytest.param({}, False, id="subdomain-names-a-cluster-ip-service-no-record"),
        pytest.param(
            {"clusterIP": "None", "selector": {"app": "other"}},
            False,
            id="headless-service-not-selecting-the-pod-no-record",
        ),
    ],
)
def test_pod_hostname_record_only_while_a_headless_service_selects_it(
    svc_spec: dict[str, Any] | None, published: bool
) -> None:
    pods = (_pod("db-0", "10.90.0.2", hostname="db-0", subdomain="web"),)
    with_eps = [] if svc_spec is None else _with_eps(_spec(**svc_spec), pods=pods)
    records = services.compute_dns_records(with_eps, pods)
    assert ("db-0.web.default.svc.cluster.local" in records) is published, records
