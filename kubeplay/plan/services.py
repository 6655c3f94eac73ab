"""Services: cluster IP allocation, endpoints from pods, the rules and names they become.

Pure, as the API server's allocator, the EndpointSlice controller and CoreDNS's kubernetes
plugin decide them (services.md):
- `allocate_cluster_ip`: `spec.clusterIP` honoured when in the service range and free, else
  the lowest free address (the range's first is reserved, as for `kubernetes.default`);
  `None` is headless; ExternalName has none.
- `compute_endpoints`: the pods the selector matches in the Service's namespace that have an
  IP and are not finished; ready = Ready and not terminating, or `publishNotReadyAddresses`.
  A `targetPort` name is resolved per pod from its containers' ports: a pod without that
  name is no endpoint of that port.
- `compute_port_rules`: what the nft table needs per service port (`plan.network` renders it).
- `compute_dns_records`: name -> IPs for dnsmasq's hosts file.
No I/O, no logging, no clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.errors import ManifestError

DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
HEADLESS = "None"
PROTOCOLS = ("TCP", "UDP", "SCTP")


@dataclass(frozen=True, slots=True)
class ServicePort:
    name: str
    protocol: str  # TCP, UDP or SCTP
    port: int
    target_port: int | str  # a number, or a container port's name
    node_port: int = 0


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What kubeplay reads of a stored Service."""

    namespace: str
    name: str
    type: str = "ClusterIP"
    cluster_ip: str = ""  # "" none allocated, "None" headless
    selector: Mapping[str, str] | None = None  # None: selector-less (user EndpointSlices)
    ports: tuple[ServicePort, ...] = ()
    publish_not_ready: bool = False
    affinity_seconds: int = 0  # sessionAffinity ClientIP's timeout; 0: no affinity
    external_name: str = ""
    local_traffic: bool = False  # externalTrafficPolicy Local

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def headless(self) -> bool:
        return self.cluster_ip == HEADLESS

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.{CLUSTER_DOMAIN}"


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def service_spec(body: Mapping[str, Any]) -> ServiceSpec:
    """A stored (defaulted) Service body as a ServiceSpec."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    ports = []
    for p in spec.get("ports") or ():
        if not isinstance(p, Mapping):
            continue
        target = p.get("targetPort", p.get("port"))
        ports.append(
            ServicePort(
                name=str(p.get("name") or ""),
                protocol=str(p.get("protocol") or "TCP"),
                port=_int(p.get("port")),
                target_port=target if isinstance(target, str) else _int(target),
                node_port=_int(p.get("nodePort")),
            )
        )
    selector = spec.get("selector")
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = _int(config.get("timeoutSeconds"), 10800) or 10800
    return ServiceSpec(
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        type=str(spec.get("type") or "ClusterIP"),
        cluster_ip=str(spec.get("clusterIP") or ""),
        selector={str(k): str(v) for k, v in selector.items()}
        if isinstance(selector, Mapping) and selector
        else None,
        ports=tuple(ports),
        publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
        affinity_seconds=affinity,
        external_name=str(spec.get("externalName") or ""),
        local_traffic=spec.get("externalTrafficPolicy") == "Local",
    )


# --- cluster IPs ----------------------------------------------------------------------------


def _problem(svc: Mapping[str, Any], message: str, path: str = "spec.clusterIP") -> ManifestError:
    meta = svc.get("metadata") or {}
    return ManifestError(message, kind="Service", name=str(meta.get("name") or ""), path=path)


def allocate_cluster_ip(body: Mapping[str, Any], *, cidr: str, used: Iterable[str]) -> str:
    """The clusterIP the Service `body` gets: the one it asks for (checked: in the range, not
    the reserved first address, not taken), "None" for headless, "" for ExternalName, else
    the lowest free address of `cidr`. Raises ManifestError (exit 2) for a bad request."""
    spec = body.get("spec") or {}
    wanted = str(spec.get("clusterIP") or "")
    if spec.get("type") == "ExternalName":
        return ""
    if wanted == HEADLESS:
        return HEADLESS
    net = ipaddress.ip_network(cidr, strict=False)
    taken = set(used)
    reserved = net.network_address + 1
    if wanted:
        try:
            addr = ipaddress.ip_address(wanted)
        except ValueError as err:
            raise _problem(body, f"Invalid value: {wanted!r}: must be a valid IP address") from err
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise _problem(
                body,
                f"Invalid value: {wanted!r}: provided IP is not in the valid range. "
                f"The range of valid IPs is {net}",
            )
        if addr == reserved:
            raise _problem(body, f"Invalid value: {wanted!r}: reserved for the API service")
        if wanted in taken:
            raise _problem(body, f"Invalid value: {wanted!r}: provided IP is already allocated")
        return wanted
    for addr in net.hosts():
        if addr != reserved and str(addr) not in taken:
            return str(addr)
    raise _problem(body, f"Internal error: range {net} is full: no cluster IP left")


NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def allocate_node_ports(
    body: Mapping[str, Any],
    *,
    used: Iterable[int],
    seed: int,
    port_range: tuple[int, int] = NODE_PORT_RANGE,
) -> tuple[int, ...]:
    """Per port of a NodePort or LoadBalancer Service `body`, its nodePort: the one given
    (checked: in range, not taken by another Service, not twice for one protocol), else a
    free one, searched from `seed` (the caller's random number) on, as the API server picks
    at random. () for other types. Raises ManifestError (exit 2)."""
    spec = body.get("spec") or {}
    if spec.get("type") not in NODE_PORT_TYPES:
        return ()
    if spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False:
        return tuple(_int(p.get("nodePort")) for p in spec.get("ports") or ())
    lo, hi = port_range
    size = hi - lo + 1
    others = set(used)  # other Services' nodePorts
    taken = set(others)
    mine: set[tuple[int, str]] = set()
    out: list[int] = []
    ports = [p for p in spec.get("ports") or () if isinstance(p, Mapping)]
    for i, p in enumerate(ports):
        path = f"spec.ports[{i}].nodePort"
        proto = str(p.get("protocol") or "TCP")
        given = _int(p.get("nodePort"))
        if given:
            if not lo <= given <= hi:
                raise _problem(
                    body,
                    f"Invalid value: {given}: provided port is not in the valid range. "
                    f"The range of valid ports is {lo}-{hi}",
                    path,
                )
            if given in others:
                raise _problem(
                    body, f"Invalid value: {given}: provided port is already allocated", path
                )
            if (given, proto) in mine:
                raise _problem(body, f"Duplicate value: {given}", path)
            chosen = given
        else:
            free = (lo + (seed + k) % size for k in range(size))
            chosen = next((n for n in free if n not in taken), 0)
            if not chosen:
                raise _problem(body, f"Internal error: range {lo}-{hi} is full", path)
        mine.add((chosen, proto))
        taken.add(chosen)
        out.append(chosen)
    return tuple(out)


# --- endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodInfo:
    """What endpoints need of a pod."""

    namespace: str
    name: str
    ip: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ready: bool = False
    terminating: bool = False
    finished: bool = False  # Succeeded or Failed
    hostname: str = ""  # spec.hostname
    subdomain: str = ""
    # container port name -> (containerPort, protocol), first container first
    named_ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    ip: str
    port: int
    ready: bool
    terminating: bool = False
    pod: str = ""  # namespace/name
    hostname: str = ""  # the pod's hostname when its subdomain names the Service


@dataclass(frozen=True, slots=True)
class PortEndpoints:
    port: ServicePort
    endpoints: tuple[Endpoint, ...]


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def _target(port: ServicePort, pod: PodInfo) -> int | None:
    if isinstance(port.target_port, int):
        return port.target_port or port.port
    found = pod.named_ports.get(port.target_port)
    if found is None or found[1] != port.protocol:
        return None
    return found[0]


def selected_pods(svc: ServiceSpec, pods: Iterable[PodInfo]) -> list[PodInfo]:
    """The pods that are endpoints of `svc` (any readiness), by name."""
    return sorted(
        (
            p
            for p in pods
            if p.namespace == svc.namespace
            and p.ip
            and not p.finished
            and selects(svc.selector, p.labels)
        ),
        key=lambda p: p.name,
    )


def compute_endpoints(svc: ServiceSpec, pods: Iterable[PodInfo]) -> tuple[PortEndpoints, ...]:
    """Per service port, its endpoints (EndpointSlice conditions: ready, terminating)."""
    if svc.selector is None or svc.type == "ExternalName":
        return tuple(PortEndpoints(p, ()) for p in svc.ports)
    chosen = selected_pods(svc, pods)
    out = []
    for port in svc.ports:
        eps = []
        for pod in chosen:
            target = _target(port, pod)
            if target is None:
                continue
            ready = svc.publish_not_ready or (pod.ready and not pod.terminating)
            eps.append(
                Endpoint(
                    ip=pod.ip,
                    port=target,
                    ready=ready,
                    terminating=pod.terminating,
                    pod=f"{pod.namespace}/{pod.name}",
                    hostname=pod.hostname if pod.subdomain == svc.name else "",
                )
            )
        out.append(PortEndpoints(port, tuple(sorted(eps))))
    return tuple(out)


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def user_endpoints(
    svc: ServiceSpec,
    slices: Sequence[Mapping[str, Any]],
    legacy: Mapping[str, Any] | None = None,
) -> tuple[PortEndpoints, ...]:
    """The endpoints of a selector-less Service from the user's EndpointSlices (labelled
    `kubernetes.io/service-name: <svc>` in its namespace) or, with none, its v1 Endpoints
    object of the same name. A Service port takes the slice port of the same name and
    protocol; `conditions.ready` missing means ready, as the API says."""
    eps: dict[ServicePort, list[Endpoint]] = {p: [] for p in svc.ports}
    mine = [
        s
        for s in slices
        if ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == svc.name
        and (s.get("addressType") or "IPv4") == "IPv4"
    ]
    for sl in mine:
        for sp in sl.get("ports") or ():
            for port in svc.ports:
                if str(sp.get("name") or "") != port.name:
                    continue
                if str(sp.get("protocol") or "TCP") != port.protocol:
                    continue
                for ep in sl.get("endpoints") or ():
                    cond = ep.get("conditions") or {}
                    ready = cond.get("ready") is not False
                    for ip in ep.get("addresses") or ():
                        eps[port].append(
                            Endpoint(
                                ip=str(ip),
                                port=_int(sp.get("port")),
                                ready=ready,
                                terminating=bool(cond.get("terminating")),
                                hostname=str(ep.get("hostname") or ""),
                            )
                        )
    if not mine and legacy is not None:
        for subset in legacy.get("subsets") or ():
            for sp in subset.get("ports") or ():
                for port in svc.ports:
                    if str(sp.get("name") or "") != port.name:
                        continue
                    if str(sp.get("protocol") or "TCP") != port.protocol:
                        continue
                    for key, ready in (("addresses", True), ("notReadyAddresses", False)):
                        for addr in subset.get(key) or ():
                            eps[port].append(
                                Endpoint(
                                    ip=str(addr.get("ip") or ""),
                                    port=_int(sp.get("port")),
                                    ready=ready,
                                    hostname=str(addr.get("hostname") or ""),
                                )
                            )
    return tuple(
        PortEndpoints(p, tuple(sorted(e for e in eps[p] if e.ip and e.port))) for p in svc.ports
    )


# --- what the nft table needs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortRule:
    """One service port as the nft table routes it."""

    service: str  # namespace/name
    port_name: str
    protocol: str  # TCP, UDP, SCTP
    cluster_ip: str
    port: int
    endpoints: tuple[tuple[str, int], ...]  # ready (ip, port), in order
    node_port: int = 0
    affinity_seconds: int = 0
    local_traffic: bool = False  # externalTrafficPolicy Local: a NodePort keeps the client IP


def compute_port_rules(
    svc: ServiceSpec, endpoints: Sequence[PortEndpoints]
) -> tuple[PortRule, ...]:
    """The rules of a Service with a cluster IP (headless and ExternalName have none)."""
    if not svc.cluster_ip or svc.headless or svc.type == "ExternalName":
        return ()
    return tuple(
        PortRule(
            service=svc.ref,
            port_name=pe.port.name,
            protocol=pe.port.protocol,
            cluster_ip=svc.cluster_ip,
            port=pe.port.port,
            endpoints=tuple(dict.fromkeys((e.ip, e.port) for e in pe.endpoints if e.ready)),
            node_port=pe.port.node_port,
            affinity_seconds=svc.affinity_seconds,
            local_traffic=svc.local_traffic and bool(pe.port.node_port),
        )
        for pe in endpoints
    )


# --- DNS ------------------------------------------------------------------------------------


def dashed(ip: str) -> str:
    return ip.replace(".", "-")


def compute_dns_records(
    services: Sequence[tuple[ServiceSpec, Sequence[PortEndpoints]]],
    pods: Iterable[PodInfo],
) -> dict[str, tuple[str, ...]]:
    """Name -> IPs, as CoreDNS answers A queries: a Service's FQDN is its cluster IP, or for
    a headless one the IPs of its ready endpoints (with the ready endpoints' hostname records
    `<hostname>.<svc>.<ns>.svc.cluster.local`), and every pod with an IP has
    `<a-b-c-d>.<ns>.pod.cluster.local`. The search path turns `svc` and `svc.ns` into the
    FQDN. ExternalName Services are CNAMEs, not here."""
    out: dict[str, list[str]] = {}

    def add(name: str, ip: str) -> None:
        ips = out.setdefault(name.lower(), [])
        if ip not in ips:
            ips.append(ip)

    pod_list = list(pods)
    for pod in pod_list:
        if pod.ip:
            add(f"{dashed(pod.ip)}.{pod.namespace}.pod.{CLUSTER_DOMAIN}", pod.ip)
    for svc, port_eps in services:
        if svc.type == "ExternalName" or not svc.cluster_ip:
            continue
        if not svc.headless:
            add(svc.fqdn, svc.cluster_ip)
            continue
        ready: list[Endpoint] = [e for pe in port_eps for e in pe.endpoints if e.ready]
        if not svc.ports:  # a headless Service without ports still lists its pods
            ready = [
                Endpoint(
                    ip=p.ip,
                    port=0,
                    ready=True,
                    pod=f"{p.namespace}/{p.name}",
                    hostname=p.hostname if p.subdomain == svc.name else "",
                )
                for p in selected_pods(svc, pod_list)
                if svc.publish_not_ready or (p.ready and not p.terminating)
            ]
        for e in sorted(ready):
            add(svc.fqdn, e.ip)
            add(f"{e.hostname or dashed(e.ip)}.{svc.fqdn}", e.ip)
    return {name: tuple(ips) for name, ips in sorted(out.items())}


# --- service links --------------------------------------------------------------------------


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_link_env(
    services: Iterable[ServiceSpec], namespace: str
) -> tuple[tuple[str, str], ...]:
    """The kubelet's service environment variables (`enableServiceLinks`, envvars.FromServices)
    for a pod of `namespace`: per Service of that namespace with a cluster IP, by name,
    `<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT` (the first port), `<SVC>_SERVICE_PORT_<NAME>`
    per named port, and Docker's link variables `<SVC>_PORT` and
    `<SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`."""
    out: list[tuple[str, str]] = []
    chosen = (
        s
        for s in services
        if s.namespace == namespace and s.cluster_ip and not s.headless and s.ports
    )
    for svc in sorted(chosen, key=lambda s: s.name):
        prefix = _env_name(svc.name)
        ip = svc.cluster_ip
        out.append((f"{prefix}_SERVICE_HOST", ip))
        out.append((f"{prefix}_SERVICE_PORT", str(svc.ports[0].port)))
        for p in svc.ports:
            if p.name:
                out.append((f"{prefix}_SERVICE_PORT_{_env_name(p.name)}", str(p.port)))
        for i, p in enumerate(svc.ports):
            proto = (p.protocol or "TCP").lower()
            url = f"{proto}://{ip}:{p.port}"
            if i == 0:
                out.append((f"{prefix}_PORT", url))
            port_prefix = f"{prefix}_PORT_{p.port}_{proto.upper()}"
            out += [
                (port_prefix, url),
                (f"{port_prefix}_PROTO", proto),
                (f"{port_prefix}_PORT", str(p.port)),
                (f"{port_prefix}_ADDR", ip),
            ]
    return tuple(out)


# --- port-forward ---------------------------------------------------------------------------


def split_forward_address(spec: str) -> tuple[str, str]:
    """`ADDR:LOCAL:REMOTE` (`127.0.0.1:8080:80`, `[::1]:8080:80`) as (ADDR, `LOCAL:REMOTE`);
    ("", spec) without an address. kubectl takes addresses only from --address; kubeplay
    takes both, an address in the spec for that pair only."""
    if spec.startswith("["):
        addr, sep, rest = spec[1:].partition("]:")
        if not sep or not addr:
            raise ValueError(f"{spec!r}: an IPv6 address is written [ADDR]:LOCAL:REMOTE")
        return addr, rest
    if spec.count(":") < 2:
        return "", spec
    addr, _, rest = spec.partition(":")
    if not addr:
        raise ValueError(f"{spec!r}: no address before LOCAL:REMOTE")
    return addr, rest


def parse_forward(spec: str) -> tuple[int, str]:
    """kubectl port-forward's `[LOCAL:]REMOTE` (`8080:80`, `:80` = a random local port 0,
    `80` = the same); REMOTE may be a port name. Raises ValueError."""
    local, sep, remote = spec.rpartition(":")
    if not sep:
        local, remote = spec, spec
    if not remote:
        raise ValueError(f"{spec!r}: no remote port")
    if not local:
        return 0, remote
    if not local.isdigit() or not 0 < int(local) < 65536:
        raise ValueError(f"{spec!r}: local port {local!r} is not a port number")
    if not remote.isdigit() and remote == local:
        raise ValueError(f"{spec!r}: local port {local!r} is not a port number")
    return int(local), remote


def container_port(remote: str, pod: PodInfo) -> int:
    """A pod's port for kubectl's REMOTE: a number, or the name of a container port."""
    if remote.isdigit() and 0 < int(remote) < 65536:
        return int(remote)
    found = pod.named_ports.get(remote)
    if found is None:
        raise ValueError(f"pod {pod.namespace}/{pod.name} has no container port named {remote!r}")
    return found[0]


def service_target(svc: ServiceSpec, remote: str, pod: PodInfo) -> int:
    """kubectl's port-forward to a Service: REMOTE names a Service port (by number or name),
    forwarded to that port's targetPort in `pod` (a name resolved in the pod)."""
    for port in svc.ports:
        if remote in (str(port.port), port.name) and port.protocol == "TCP":
            target = _target(port, pod)
            if target is None:
                raise ValueError(
                    f"pod {pod.namespace}/{pod.name} has no container port named "
                    f"{port.target_port!r}"
                )
            return target
    raise ValueError(f"service {svc.ref} has no TCP port {remote!r}")


# --- EndpointSlices -------------------------------------------------------------------------

MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"


def _suffix(text: str) -> str:
    import hashlib

    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the API server's safe-encode alphabet
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:5])


def compute_endpoint_slices(
    svc: ServiceSpec, uid: str, port_eps: Sequence[PortEndpoints]
) -> dict[str, dict[str, Any]]:
    """The EndpointSlices the EndpointSlice controller keeps for a selector Service, by name
    (`<svc>-<5 characters>`, stable for a port group): pods whose named targetPorts resolve
    alike share a slice (their `ports`), each endpoint with its conditions, hostname and
    targetRef. A Service without endpoints has one empty slice, as in a cluster."""
    by_pod: dict[str, list[tuple[ServicePort, Endpoint]]] = {}
    for pe in port_eps:
        for e in pe.endpoints:
            by_pod.setdefault(e.pod, []).append((pe.port, e))
    groups: dict[tuple[tuple[str, int, str], ...], list[Endpoint]] = {}
    for items in by_pod.values():
        key = tuple(sorted((p.name, e.port, p.protocol) for p, e in items))
        groups.setdefault(key, []).append(items[0][1])
    if not groups:
        groups[()] = []
    out: dict[str, dict[str, Any]] = {}
    for key, endpoints in sorted(groups.items()):
        name = f"{svc.name[:57]}-{_suffix(f'{uid}/{key}')}"
        out[name] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": svc.namespace,
                "labels": {SERVICE_NAME_LABEL: svc.name, MANAGED_BY_LABEL: MANAGED_BY},
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": svc.name,
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": "IPv4",
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in key] or None,
            "endpoints": [
                {
                    "addresses": [e.ip],
                    "conditions": {
                        "ready": e.ready,
                        "serving": e.ready or e.terminating,
                        "terminating": e.terminating,
                    },
                    **({"hostname": e.hostname} if e.hostname else {}),
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": svc.namespace,
                        "name": e.pod.partition("/")[2],
                    },
                }
                for e in sorted(endpoints)
            ],
        }
        if out[name]["ports"] is None:
            del out[name]["ports"]
    return out


def compute_dns_config(
    services: Sequence[tuple[ServiceSpec, Sequence[PortEndpoints]]],
) -> tuple[str, ...]:
    """dnsmasq option lines for what a hosts file cannot hold, as CoreDNS answers them.

    SRV records `_<port>._<proto>.<svc>.<ns>.svc.cluster.local` for named ports: a Service
    with a cluster IP has one, target the Service's name and its port; a headless Service has
    one per ready endpoint, target the endpoint's name (`<hostname>.<svc>...` when the pod's
    subdomain names the Service, else `<a-b-c-d>.<svc>...`, both A records of
    `compute_dns_records`) and the endpoint's port. An ExternalName Service is a CNAME to its
    externalName; dnsmasq serves a CNAME only to a name it knows itself (another cluster
    name), so ExternalNames outside the cluster domain are left out (validation warns).
    dnsmasq reads these lines only at start, and a readiness flip of a headless Service with
    named ports changes them: a new records server takes them over (`net/dns.py`)."""
    out: list[str] = []
    for svc, port_eps in sorted(services, key=lambda s: (s[0].namespace, s[0].name)):
        if svc.type == "ExternalName":
            target = svc.external_name.rstrip(".").lower()
            if target.endswith(f".{CLUSTER_DOMAIN}"):
                out.append(f"cname={svc.fqdn},{target}")
            continue
        if not svc.cluster_ip:
            continue
        for pe in port_eps:
            p = pe.port
            if not p.name:
                continue
            name = f"_{p.name}._{p.protocol.lower()}.{svc.fqdn}"
            if not svc.headless:
                out.append(f"srv-host={name},{svc.fqdn},{p.port}")
                continue
            for e in sorted(e for e in pe.endpoints if e.ready):
                target = f"{e.hostname or dashed(e.ip)}.{svc.fqdn}"
                out.append(f"srv-host={name},{target},{e.port}")
    return tuple(dict.fromkeys(out))
