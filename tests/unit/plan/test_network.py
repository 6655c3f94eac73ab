"""hosts, resolv.conf and nft ruleset text, kubelet-style: one behaviour per case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kubeplay.errors import NetworkError
from kubeplay.plan import hostports, network, services
from kubeplay.plan.network import PortMap
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan, PortPlan

LOCALHOST = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


@pytest.mark.parametrize(
    ("kwargs", "tail"),
    [
        pytest.param(
            {"pod_ip": "10.89.0.2", "fqdn": None, "host_aliases": []},
            "10.89.0.2\tweb\n",
            id="pod-ip-and-hostname",
        ),
        pytest.param(
            {"pod_ip": "10.89.0.2", "fqdn": "web.sub.ns.svc.cluster.local", "host_aliases": []},
            "10.89.0.2\tweb.sub.ns.svc.cluster.local\tweb\n",
            id="subdomain-fqdn-first",
        ),
        pytest.param(
            {"pod_ip": None, "fqdn": None, "host_aliases": []},
            "",
            id="hostNetwork-no-pod-line",
        ),
        pytest.param(
            {
                "pod_ip": "10.89.0.2",
                "fqdn": None,
                "host_aliases": [
                    {"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]},
                    {"ip": "10.1.2.4", "hostnames": ["baz"]},
                ],
            },
            "10.89.0.2\tweb\n\n# Entries added by HostAliases.\n"
            "10.1.2.3\tfoo.local\tbar.local\n10.1.2.4\tbaz\n",
            id="hostAliases-one-line-per-ip",
        ),
    ],
)
def test_render_hosts(kwargs: dict[str, Any], tail: str) -> None:
    assert network.render_hosts(hostname="web", **kwargs) == LOCALHOST + tail


HOST_RESOLV = """# host file
nameserver 192.0.2.53
nameserver 192.0.2.54
search corp.example lab.example.
options timeout:2 rotate
"""

CLUSTER_SEARCH = "search ns1.svc.cluster.local svc.cluster.local cluster.local"


@pytest.mark.parametrize(
    ("policy", "dns_config", "host_network", "expected"),
    [
        pytest.param(
            "ClusterFirst",
            None,
            False,
            f"{CLUSTER_SEARCH} corp.example lab.example\nnameserver 10.89.0.1\noptions ndots:5\n",
            id="ClusterFirst-default",
        ),
        pytest.param(
            "",
            None,
            False,
            f"{CLUSTER_SEARCH} corp.example lab.example\nnameserver 10.89.0.1\noptions ndots:5\n",
            id="empty-policy-is-ClusterFirst",
        ),
        pytest.param(
            "ClusterFirst",
            None,
            True,
            "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
            "options timeout:2 rotate\n",
            id="ClusterFirst-hostNetwork-falls-back-to-Default",
        ),
        pytest.param(
            "ClusterFirstWithHostNet",
            None,
            True,
            f"{CLUSTER_SEARCH} corp.example lab.example\nnameserver 10.89.0.1\noptions ndots:5\n",
            id="ClusterFirstWithHostNet-hostNetwork",
        ),
        pytest.param(
            "Default",
            None,
            False,
            "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
            "options timeout:2 rotate\n",
            id="Default-host-file",
        ),
        pytest.param(
            "None",
            {"nameservers": ["1.2.3.4"], "searches": ["a.example"]},
            False,
            "search a.example\nnameserver 1.2.3.4\n",
            id="None-dnsConfig-only",
        ),
        pytest.param("None", None, False, "", id="None-without-dnsConfig-empty"),
        pytest.param(
            "ClusterFirst",
            {"nameservers": ["10.89.0.1", "1.2.3.4"], "searches": ["cluster.local", "x.example"]},
            False,
            f"{CLUSTER_SEARCH} corp.example lab.example x.example\n"
            "nameserver 10.89.0.1\nnameserver 1.2.3.4\noptions ndots:5\n",
            id="dnsConfig-appended-deduplicated",
        ),
        pytest.param(
            "ClusterFirst",
            {"options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]},
            False,
            f"{CLUSTER_SEARCH} corp.example lab.example\nnameserver 10.89.0.1\n"
            "options ndots:2 edns0\n",
            id="dnsConfig-options-override",
        ),
        pytest.param(
            "Default",
            {"nameservers": ["1.1.1.1", "2.2.2.2"]},
            False,
            "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
            "nameserver 1.1.1.1\noptions timeout:2 rotate\n",
            id="nameservers-limited-to-3",
        ),
    ],
)
def test_render_resolv_conf(
    policy: str, dns_config: Mapping[str, Any] | None, host_network: bool, expected: str
) -> None:
    text = network.render_resolv_conf(
        dns_policy=policy,
        dns_config=dns_config,
        cluster_dns="10.89.0.1",
        namespace="ns1",
        host_resolv=HOST_RESOLV,
        host_network=host_network,
    )
    assert text == expected


def _searches(dns_config: Mapping[str, Any]) -> list[str]:
    text = network.render_resolv_conf(
        dns_policy="None",
        dns_config=dns_config,
        cluster_dns="10.89.0.1",
        namespace="ns1",
        host_resolv="",
        host_network=False,
    )
    return text.splitlines()[0].split()[1:]


def test_search_domains_limited_to_32() -> None:
    domains = [f"d{i}.example" for i in range(40)]
    assert _searches({"searches": domains}) == domains[:32]


def test_search_line_limited_to_2048_chars() -> None:
    domains = [f"{'x' * 60}.d{i}.example" for i in range(32)]
    kept = _searches({"searches": domains})
    assert len(" ".join(kept)) <= 2048
    assert kept == domains[: len(kept)]
    assert len(kept) < 32


def test_unknown_dns_policy() -> None:
    with pytest.raises(NetworkError, match="dnsPolicy"):
        network.render_resolv_conf(
            dns_policy="Bogus",
            dns_config=None,
            cluster_dns="10.89.0.1",
            namespace="ns1",
            host_resolv="",
            host_network=False,
        )


def _ruleset(*maps: PortMap) -> str:
    return network.render_nft_ruleset(
        table="kubeplay", bridge="kubeplay0", subnet="10.89.0.0/24", port_maps=maps
    )


def _pm(host_ip: str = "", port: int = 8080, proto: str = "TCP") -> PortMap:
    return PortMap(host_ip, port, proto, "10.89.0.2", 80, "default/web")


@pytest.mark.parametrize(
    ("maps", "expected"),
    [
        pytest.param(
            [_pm()],
            ['tcp dport 8080 dnat to 10.89.0.2:80 comment "default/web"'],
            id="hostPort-every-host-address",
        ),
        pytest.param(
            [_pm("0.0.0.0")],
            ['tcp dport 8080 dnat to 10.89.0.2:80 comment "default/web"'],
            id="hostIP-0.0.0.0-is-every-address",
        ),
        pytest.param(
            [_pm("192.0.2.2")],
            ['ip daddr 192.0.2.2 tcp dport 8080 dnat to 10.89.0.2:80 comment "default/web"'],
            id="hostIP-honoured",
        ),
        pytest.param(
            [_pm(proto="UDP")],
            ['udp dport 8080 dnat to 10.89.0.2:80 comment "default/web"'],
            id="hostPort-UDP",
        ),
        pytest.param(
            [_pm(), _pm("127.0.0.1", 9090)],
            [
                'ip daddr 127.0.0.1 tcp dport 9090 dnat to 10.89.0.2:80 comment "default/web"',
                'tcp dport 8080 dnat to 10.89.0.2:80 comment "default/web"',
            ],
            id="hostIP-rules-before-catch-all",
        ),
        pytest.param([], [], id="no-hostPorts-empty-chain"),
    ],
)
def test_nft_hostport_rules(maps: list[PortMap], expected: list[str]) -> None:
    text = _ruleset(*maps)
    chain = text.split("chain hostports {\n", 1)[1].split("\t}", 1)[0]
    assert [line.strip() for line in chain.splitlines()] == expected


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("add table ip kubeplay\ndelete table ip kubeplay\n", id="atomic-replace"),
        pytest.param(
            "type nat hook prerouting priority dstnat; policy accept;\n"
            "\t\tfib daddr type local jump hostports",
            id="hostPort-from-outside-and-pods",
        ),
        pytest.param(
            "type nat hook output priority -100; policy accept;\n"
            "\t\tfib daddr type local jump hostports",
            id="hostPort-from-host-localhost",
        ),
        pytest.param(
            'ip saddr 127.0.0.0/8 oifname "kubeplay0" ct status dnat masquerade',
            id="localhost-hostPort-route_localnet-masquerade",
        ),
        pytest.param(
            'ip saddr 10.89.0.0/24 oifname "kubeplay0" ct status dnat masquerade',
            id="hairpin-masquerade",
        ),
        pytest.param(
            "ip saddr 10.89.0.0/24 ip daddr != 10.89.0.0/24 masquerade", id="egress-masquerade"
        ),
    ],
)
def test_nft_ruleset_contains(line: str) -> None:
    assert line in _ruleset(_pm())


@pytest.mark.parametrize(
    ("pm", "match"),
    [
        pytest.param(_pm(proto="ICMP"), "protocol", id="unknown-protocol"),
        pytest.param(_pm("fd00::1"), "IPv6", id="ipv6-hostIP"),
        pytest.param(_pm("not-an-ip"), "hostIP", id="bad-hostIP"),
    ],
)
def test_nft_rejects(pm: PortMap, match: str) -> None:
    with pytest.raises(NetworkError, match=match):
        _ruleset(pm)


def test_nft_comment_cannot_break_quoting() -> None:
    pm = PortMap("", 1, "TCP", "10.89.0.2", 1, 'evil"; flush ruleset; "')
    assert 'comment "evil; flush ruleset; "' in _ruleset(pm)


# --- hostPort claims (plan.hostports) ----------------------------------------------------


def _hp_pod(name: str, *ports: tuple[int, str, str], namespace: str = "default") -> PodPlan:
    ctr = ContainerPlan(
        name="main",
        kind=ContainerKind.APP,
        image="i",
        image_ref="i",
        image_id="sha256:1",
        pull_policy="Never",
        argv=("sh",),
        env=(),
        working_dir="",
        user="",
        ports=tuple(
            PortPlan(container_port=80, protocol=proto, host_port=port, host_ip=ip)
            for port, proto, ip in ports
        ),
    )
    return PodPlan(uid=name, namespace=namespace, name=name, hostname=name, containers=(ctr,))


@pytest.mark.parametrize(
    ("held", "new", "replacing", "expected"),
    [
        pytest.param(
            [_hp_pod("a", (8080, "TCP", ""))],
            [_hp_pod("b", (8080, "TCP", ""))],
            (),
            "pod default/b: hostPort 8080/TCP: already used by pod default/a",
            id="hostPort-held-by-another-pod",
        ),
        pytest.param(
            [_hp_pod("a", (8080, "UDP", ""))],
            [_hp_pod("b", (8080, "TCP", ""))],
            (),
            None,
            id="hostPort-other-protocol-no-conflict",
        ),
        pytest.param(
            [_hp_pod("a", (8080, "TCP", "127.0.0.1"))],
            [_hp_pod("b", (8080, "TCP", "127.0.0.2"))],
            (),
            None,
            id="hostPort-distinct-hostIPs-no-conflict",
        ),
        pytest.param(
            [_hp_pod("a", (8080, "TCP", "127.0.0.1"))],
            [_hp_pod("b", (8080, "TCP", ""))],
            (),
            "pod default/b: hostPort 8080/TCP: already used by pod default/a",
            id="hostPort-any-address-overlaps-a-hostIP",
        ),
        pytest.param(
            [],
            [_hp_pod("a", (8080, "TCP", "")), _hp_pod("b", (8080, "TCP", ""))],
            (),
            "pod default/b: hostPort 8080/TCP: already used by pod default/a",
            id="hostPort-twice-among-new-pods",
        ),
        pytest.param(
            [_hp_pod("a", (8080, "TCP", ""))],
            [_hp_pod("a", (8080, "TCP", ""))],
            ("default/a",),
            None,
            id="hostPort-of-a-replaced-pod-is-free",
        ),
        pytest.param(
            [_hp_pod("a", (8080, "TCP", ""))],
            [_hp_pod("b", (8081, "TCP", ""))],
            (),
            None,
            id="hostPort-other-port-no-conflict",
        ),
    ],
)
def test_host_port_conflict(
    held: list[PodPlan], new: list[PodPlan], replacing: tuple[str, ...], expected: str | None
) -> None:
    assert hostports.find_conflict(held, new, replacing=replacing) == expected


def _node_port_svc(node_port: int, protocol: str = "TCP") -> services.ServiceSpec:
    return services.service_spec(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.0.10",
                "selector": {"app": "web"},
                "ports": [
                    {"port": 80, "targetPort": 8080, "protocol": protocol, "nodePort": node_port}
                ],
            },
        }
    )


@pytest.mark.parametrize(
    ("pod", "svcs", "expected"),
    [
        pytest.param(
            _hp_pod("a", (30080, "TCP", "")),
            [_node_port_svc(30080)],
            "pod default/a: hostPort 30080/TCP: already the nodePort of service default/web",
            id="hostPort-is-a-service-nodePort",
        ),
        pytest.param(
            _hp_pod("a", (30080, "TCP", "127.0.0.1")),
            [_node_port_svc(30080)],
            "pod default/a: hostPort 30080/TCP: already the nodePort of service default/web",
            id="nodePort-holds-every-host-address",
        ),
        pytest.param(
            _hp_pod("a", (30080, "UDP", "")),
            [_node_port_svc(30080)],
            None,
            id="nodePort-other-protocol-no-conflict",
        ),
        pytest.param(_hp_pod("a", (30080, "TCP", "")), [], None, id="no-services-no-conflict"),
    ],
)
def test_node_port_conflict(
    pod: PodPlan, svcs: list[services.ServiceSpec], expected: str | None
) -> None:
    assert hostports.node_port_conflict(pod, hostports.node_ports(svcs)) == expected
