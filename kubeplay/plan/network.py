"""What a pod's network looks like, as text: /etc/hosts, /etc/resolv.conf, the nft ruleset.

Pure functions the engine calls before it touches the host; `kubeplay.net` applies the results.
- hosts: kubelet's managed hosts file (pkg/kubelet/kubelet_pods.go, managedHostsFileContent).
- resolv.conf: kubelet's dnsPolicy handling (pkg/kubelet/network/dns/dns.go): cluster DNS,
  host DNS or dnsConfig only, dnsConfig merged in, trimmed to the API limits.
- nft: one table owned by kubeplay: egress masquerade, hostPort DNAT (CNI portmap's behaviour,
  written the way kube-proxy's nftables mode and netavark write it).
No I/O, no logging, no clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.errors import NetworkError
from kubeplay.plan.services import PortRule

CLUSTER_DOMAIN = "cluster.local"
MAX_NAMESERVERS = 3  # validation.MaxDNSNameservers
MAX_SEARCH_PATHS = 32  # validation.MaxDNSSearchPathsExpanded
MAX_SEARCH_CHARS = 2048  # validation.MaxDNSSearchListCharsExpanded
MAX_SEARCH_DOMAIN = 253  # a search domain longer than a DNS-1123 subdomain is dropped
CLUSTER_OPTIONS = ("ndots:5",)

_HOSTS_HEADER = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def render_hosts(
    *,
    hostname: str,
    pod_ip: str | None,
    fqdn: str | None,
    host_aliases: Sequence[Mapping[str, Any]],
) -> str:
    """The pod's /etc/hosts: localhost lines, the pod's own name, then hostAliases.

    `fqdn` is `<hostname>.<subdomain>.<ns>.svc.cluster.local` when the pod sets a subdomain;
    `pod_ip` is None for hostNetwork pods, which get no line of their own.
    """
    out = [_HOSTS_HEADER]
    if pod_ip:
        names = f"{fqdn}\t{hostname}" if fqdn else hostname
        out.append(f"{pod_ip}\t{names}\n")
    return "".join(out) + _aliases_block(host_aliases)


def render_host_network_hosts(*, host_hosts: str, host_aliases: Sequence[Mapping[str, Any]]) -> str:
    """A hostNetwork pod's /etc/hosts: the host's own file, then hostAliases (kubelet's
    nodeHostsFileContent)."""
    if host_hosts and not host_hosts.endswith("\n"):
        host_hosts += "\n"
    return host_hosts + _aliases_block(host_aliases)


def _aliases_block(host_aliases: Sequence[Mapping[str, Any]]) -> str:
    if not host_aliases:
        return ""
    out = ["\n# Entries added by HostAliases.\n"]
    for alias in host_aliases:
        names = "\t".join(str(n) for n in alias.get("hostnames") or ())
        out.append(f"{alias.get('ip', '')}\t{names}\n")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Resolv:
    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def parse_resolv_conf(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(nameservers, search domains, options) of a resolv.conf, as kubelet reads the host's."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0]
        fields = line.split()
        if not fields:
            continue
        key, values = fields[0], fields[1:]
        if key == "nameserver" and values:
            servers.append(values[0])
        elif key == "search":  # the last search line wins
            searches = [s.removesuffix(".") for s in values if s != "."]
        elif key == "options":
            options.extend(values)
    return tuple(servers), tuple(searches), tuple(options)


def _merge_options(existing: Sequence[str], extra: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    merged: dict[str, str] = {}
    for text in existing:
        name, _, value = text.partition(":")
        merged[name] = value
    for op in extra:
        given = op.get("value")
        merged[str(op.get("name", ""))] = "" if given is None else str(given)
    return tuple(f"{k}:{v}" if v else k for k, v in merged.items())


def _fit_searches(searches: Sequence[str]) -> tuple[str, ...]:
    kept = [s for s in searches[:MAX_SEARCH_PATHS] if len(s) <= MAX_SEARCH_DOMAIN]
    while kept and len(" ".join(kept)) > MAX_SEARCH_CHARS:
        kept.pop()
    return tuple(kept)


def render_resolv_conf(
    *,
    dns_policy: str,
    dns_config: Mapping[str, Any] | None,
    cluster_dns: str,
    namespace: str,
    host_resolv: str,
    host_network: bool,
) -> str:
    """The pod's /etc/resolv.conf for its dnsPolicy, with dnsConfig merged in as kubelet does.

    ClusterFirst (the default): cluster DNS, unless hostNetwork, which falls back to Default.
    ClusterFirstWithHostNet: cluster DNS. Default: the host's resolv.conf (`host_resolv`, its
    text). None: dnsConfig only. Cluster DNS searches the namespace's service domains, then
    the host's search domains, with `options ndots:5`.
    """
    policy = dns_policy or "ClusterFirst"
    host_servers, host_searches, host_options = parse_resolv_conf(host_resolv)
    if policy == "ClusterFirst" and host_network:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        own = (f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN)
        base = _Resolv((cluster_dns,), _dedupe((*own, *host_searches)), CLUSTER_OPTIONS)
    elif policy == "Default":
        base = _Resolv(host_servers, host_searches, host_options)
    elif policy == "None":
        base = _Resolv()
    else:
        raise NetworkError(f"dnsPolicy {dns_policy!r}: not a Kubernetes DNS policy")
    config = dns_config or {}
    servers = _dedupe((*base.servers, *(str(s) for s in config.get("nameservers") or ())))
    searches = _dedupe((*base.searches, *(str(s) for s in config.get("searches") or ())))
    options = _merge_options(base.options, config.get("options") or ())
    servers = servers[:MAX_NAMESERVERS]
    searches = _fit_searches(searches)
    lines: list[str] = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines.extend(f"nameserver {s}" for s in servers)
    if options:
        lines.append("options " + " ".join(options))
    return "".join(line + "\n" for line in lines)


@dataclass(frozen=True, slots=True)
class PortMap:
    """One published hostPort: host_ip "" or "0.0.0.0" means every host address."""

    host_ip: str
    host_port: int
    protocol: str  # TCP, UDP or SCTP, as in the manifest
    pod_ip: str
    container_port: int
    pod: str  # namespace/name, written as the rule's comment


_PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
MASQUERADE_MARK = "0x4000"  # kube-proxy's masquerade bit


def _quote(text: str) -> str:
    """An nft string literal; quotes, backslashes and line breaks cannot end it early."""
    return '"' + "".join(c for c in text if c not in '"\\\n\r') + '"'


def _dnat_rule(pm: PortMap) -> str:
    proto = _PROTOCOLS.get(pm.protocol.upper())
    if proto is None:
        raise NetworkError(f"pod {pm.pod}: hostPort {pm.host_port}: protocol {pm.protocol!r}")
    match = ""
    if pm.host_ip and pm.host_ip != "0.0.0.0":
        try:
            addr = ipaddress.ip_address(pm.host_ip)
        except ValueError as err:
            raise NetworkError(f"pod {pm.pod}: hostIP {pm.host_ip!r}: {err}") from err
        if addr.version != 4:
            raise NetworkError(f"pod {pm.pod}: hostIP {pm.host_ip}: IPv6 is not supported")
        match = f"ip daddr {addr} "
    return (
        f"\t\t{match}{proto} dport {pm.host_port} dnat to {pm.pod_ip}:{pm.container_port}"
        f" comment {_quote(pm.pod)}\n"
    )


def _hash8(text: str) -> str:
    """kube-proxy's hashAndTruncate prefix: unique, while the rest of a name stays readable."""
    import base64
    import hashlib

    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:8]


def _chain_name(prefix: str, text: str) -> str:
    """A chain name `<prefix>-<HASH8>-<text>`, cut to nft's limit; the characters a
    Kubernetes name and an IPv4 address may hold are all valid in an nft identifier."""
    return f"{prefix}-{_hash8(text)}-{text}"[:200]


@dataclass(frozen=True, slots=True)
class _ServiceMaps:
    chains: str = ""
    vips: str = ""  # service-ips elements
    empty: str = ""  # no-endpoint-services elements
    cluster_ips: str = ""
    node_ports: str = ""  # service-nodeports elements
    empty_node_ports: str = ""  # no-endpoint-nodeports elements


def _service_chains(rules: Sequence[PortRule], pod_net: str) -> _ServiceMaps:
    """The chains and map elements of the Services' ports, as kube-proxy's nftables mode
    lays them out. Masquerade marks (kube-proxy with a cluster CIDR): traffic to a cluster
    IP from outside the pod network `pod_net`; to a NodePort with externalTrafficPolicy
    Cluster the same (the `external-` chain); with Local only the host's own traffic (every
    endpoint is local on one node, so the client's address is kept)."""
    chains: list[str] = []
    vips: list[str] = []
    empty: list[str] = []
    node_ports: list[str] = []
    empty_node_ports: list[str] = []
    cluster_ips: dict[str, None] = {}
    for rule in sorted(rules, key=lambda r: (r.service, r.protocol, r.port, r.port_name)):
        proto = _PROTOCOLS.get(rule.protocol.upper())
        if proto is None:
            raise NetworkError(f"service {rule.service}: port {rule.port}: {rule.protocol!r}")
        cluster_ips[rule.cluster_ip] = None
        key = f"{rule.cluster_ip} . {proto} . {rule.port}"
        base = f"{rule.service}/{proto}/{rule.port_name}"
        node_key = f"{proto} . {rule.node_port}"
        if not rule.endpoints:
            empty.append(f"{key} : goto reject-chain")
            if rule.node_port:
                empty_node_ports.append(f"{node_key} : goto reject-chain")
            continue
        service_chain = _chain_name("service", base)
        endpoint_chains = []
        for ip, port in rule.endpoints:
            name = _chain_name("endpoint", f"{base}__{ip}/{port}")
            affinity = _chain_name("affinity", f"{base}__{ip}/{port}")
            endpoint_chains.append((name, affinity))
            body = []
            if rule.affinity_seconds:
                chains.append(
                    f"\tset {affinity} {{\n\t\ttype ipv4_addr; flags dynamic,timeout; "
                    f"timeout {rule.affinity_seconds}s;\n\t}}\n"
                )
                body.append(f"\t\tupdate @{affinity} {{ ip saddr }}\n")
            body.append(f"\t\tmeta l4proto {proto} dnat to {ip}:{port}\n")
            chains.append(f"\tchain {name} {{\n{''.join(body)}\t}}\n")
        lines = [f"\t\tip daddr {rule.cluster_ip} ip saddr != {pod_net} jump mark-for-masquerade\n"]
        if rule.affinity_seconds:
            lines += [f"\t\tip saddr @{aff} goto {name}\n" for name, aff in endpoint_chains]
        picks = ", ".join(f"{i} : goto {name}" for i, (name, _) in enumerate(endpoint_chains))
        lines.append(f"\t\tnumgen random mod {len(endpoint_chains)} vmap {{ {picks} }}\n")
        chains.append(f"\tchain {service_chain} {{\n{''.join(lines)}\t}}\n")
        vips.append(f"{key} : goto {service_chain}")
        if rule.node_port:
            external = _chain_name("external", base)
            source = "fib saddr type local" if rule.local_traffic else f"ip saddr != {pod_net}"
            chains.append(
                f"\tchain {external} {{\n"
                f"\t\t{source} jump mark-for-masquerade\n"
                f"\t\tgoto {service_chain}\n\t}}\n"
            )
            node_ports.append(f"{node_key} : goto {external}")
    return _ServiceMaps(
        chains="".join(chains),
        vips=", ".join(vips),
        empty=", ".join(empty),
        cluster_ips=", ".join(cluster_ips),
        node_ports=", ".join(node_ports),
        empty_node_ports=", ".join(empty_node_ports),
    )


def _elements(items: str) -> str:
    return f" elements = {{ {items} }};" if items else ""


def render_nft_ruleset(
    *,
    table: str,
    bridge: str,
    subnet: str,
    port_maps: Sequence[PortMap],
    services: Sequence[PortRule] = (),
) -> str:
    """The complete `nft -f` text for kubeplay's own `ip` table, replacing it atomically.

    The text creates the table (so the first run works), deletes it and defines it again, all
    in one transaction. hostPorts are matched on every local address (`fib daddr type local`)
    in prerouting (traffic from outside and from pods) and in output (the host itself,
    127.0.0.1 included); a hostIP narrows the rule to that address. Postrouting masquerades:
    DNATed traffic from 127.0.0.0/8 (it may only leave through the bridge with
    route_localnet=1 on it, and the pod must answer the gateway, not its own loopback);
    DNATed traffic from the subnet (hairpin: a pod reaching its own or a peer's hostPort gets
    the answer back through the gateway; the bridge ports are in hairpin mode for the own-pod
    case, see net.links); and egress from the subnet to anything outside it.

    Services (`services`, one entry per service port) follow kube-proxy's nftables mode:
    `services` dispatches a cluster IP . protocol . port through the `service-ips` verdict
    map to the port's chain, which picks an endpoint chain at random (`numgen`; with
    ClientIP affinity a dynamic set per endpoint remembers the client first) that DNATs. A
    port without ready endpoints is in `no-endpoint-services` and rejected at once in the
    filter hooks (connection refused, not a time-out), and so is an unknown port of a
    cluster IP (`cluster-ips`, checked after DNAT). A NodePort is the same port chain reached
    from `service-nodeports` on any local address, 127.0.0.1 included (as kube-proxy's
    iptables mode allows; route_localnet and the 127.0.0.0/8 masquerade above make it work).
    Pod -> cluster IP -> pod on the bridge (hairpin included) is masqueraded by the
    DNATed-from-the-subnet rule above. Other sources are masqueraded through kube-proxy's
    0x4000 mark (`mark-for-masquerade`, then `masquerading` in postrouting): traffic to a
    cluster IP from outside the subnet, and to a NodePort with externalTrafficPolicy
    Cluster; with Local only the host's own traffic is, so a client elsewhere is seen with
    its own address.
    """
    net = ipaddress.ip_network(subnet, strict=True)
    br = _quote(bridge)
    # Rules for one hostIP before catch-all ones, so a specific binding is never shadowed.
    ordered = sorted(port_maps, key=lambda pm: pm.host_ip in ("", "0.0.0.0"))
    dnat = "".join(_dnat_rule(pm) for pm in ordered)
    maps = _service_chains(services, str(net))
    vmap = "type ipv4_addr . inet_proto . inet_service : verdict;"
    port_vmap = "type inet_proto . inet_service : verdict;"
    return (
        f"add table ip {table}\n"
        f"delete table ip {table}\n"
        f"table ip {table} {{\n"
        f"\tchain reject-chain {{\n"
        f"\t\treject\n"
        f"\t}}\n"
        f"{maps.chains}"
        f"\tmap service-ips {{\n\t\t{vmap}{_elements(maps.vips)}\n\t}}\n"
        f"\tmap service-nodeports {{\n\t\t{port_vmap}{_elements(maps.node_ports)}\n\t}}\n"
        f"\tmap no-endpoint-services {{\n\t\t{vmap}{_elements(maps.empty)}\n\t}}\n"
        f"\tmap no-endpoint-nodeports {{\n"
        f"\t\t{port_vmap}{_elements(maps.empty_node_ports)}\n\t}}\n"
        f"\tset cluster-ips {{\n\t\ttype ipv4_addr;{_elements(maps.cluster_ips)}\n\t}}\n"
        f"\tchain services {{\n"
        f"\t\tip daddr . meta l4proto . th dport vmap @service-ips\n"
        f"\t\tfib daddr type local meta l4proto . th dport vmap @service-nodeports\n"
        f"\t}}\n"
        f"\tchain endpoints-check {{\n"
        f"\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
        f"\t\tfib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports\n"
        f"\t}}\n"
        f"\tchain filter-input {{\n"
        f"\t\ttype filter hook input priority -110; policy accept;\n"
        f"\t\tct state new jump endpoints-check\n"
        f"\t}}\n"
        f"\tchain filter-forward {{\n"
        f"\t\ttype filter hook forward priority -110; policy accept;\n"
        f"\t\tct state new jump endpoints-check\n"
        f"\t\tct state new ip daddr @cluster-ips reject\n"
        f"\t}}\n"
        f"\tchain filter-output {{\n"
        f"\t\ttype filter hook output priority -110; policy accept;\n"
        f"\t\tct state new jump endpoints-check\n"
        f"\t}}\n"
        f"\tchain filter-output-post-dnat {{\n"
        f"\t\ttype filter hook output priority -90; policy accept;\n"
        f"\t\tct state new ip daddr @cluster-ips reject\n"
        f"\t}}\n"
        f"\tchain hostports {{\n"
        f"{dnat}"
        f"\t}}\n"
        f"\tchain prerouting {{\n"
        f"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        f"\t\tfib daddr type local jump hostports\n"
        f"\t\tjump services\n"
        f"\t}}\n"
        f"\tchain output {{\n"
        f"\t\ttype nat hook output priority -100; policy accept;\n"
        f"\t\tfib daddr type local jump hostports\n"
        f"\t\tjump services\n"
        f"\t}}\n"
        f"\tchain mark-for-masquerade {{\n"
        f"\t\tmeta mark set meta mark | {MASQUERADE_MARK}\n"
        f"\t}}\n"
        f"\tchain masquerading {{\n"
        f"\t\tmeta mark & {MASQUERADE_MARK} == 0 return\n"
        f"\t\tmeta mark set meta mark xor {MASQUERADE_MARK}\n"
        f"\t\tmasquerade fully-random\n"
        f"\t}}\n"
        f"\tchain postrouting {{\n"
        f"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        f"\t\tjump masquerading\n"
        f"\t\tip saddr 127.0.0.0/8 oifname {br} ct status dnat masquerade\n"
        f"\t\tip saddr {net} oifname {br} ct status dnat masquerade\n"
        f"\t\tip saddr {net} ip daddr != {net} masquerade\n"
        f"\t}}\n"
        f"}}\n"
    )
