"""Pod networking, as a node's bridge CNI plugin does it: the engine's use of `net/`.

Per node (once per install, idempotent): the bridge with the gateway address, dnsmasq on the
gateway. Per pod: a pinned netns, an address leased in the store, a veth pair onto the bridge,
and the pod's /etc/hosts and /etc/resolv.conf. After any play or down, `refresh` rewrites the
node-wide parts from the store: the nft table (masquerade, hostPort DNAT) and dnsmasq's hosts.
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.errors import KubeplayError, SyncError
from kubeplay.plan import hostports, ipam
from kubeplay.plan import network as netplan
from kubeplay.plan import pods as plans
from kubeplay.plan import services as services_plan
from kubeplay.plan.pods import PodPlan
from kubeplay.state.store import PodRecord

if TYPE_CHECKING:  # net/ is imported when first used: read-only commands need none of it
    from kubeplay.net.dns import Dnsmasq

_log = log.get_logger(__name__)
_node_lock = threading.Lock()
_node_ready: set[str] = set()


def gateway(host: Host) -> str:
    return ipam.gateway_of(host.settings.subnet)


def veth_name(uid: str) -> str:
    return "kp" + uid.replace("-", "")[:12]


def _dnsmasq(host: Host) -> Dnsmasq:
    from kubeplay.net import dns

    s = host.settings
    upstream = None if s.dns_upstream in ("", "none") else Path(s.dns_upstream)
    return dns.Dnsmasq(
        run_dir=s.runroot / "dns",
        listen_address=gateway(host),
        bridge=s.bridge,
        upstream_resolv=upstream,
    )


def ensure_node(host: Host) -> None:
    """The bridge and the resolver; once per process and install."""
    from kubeplay.net import links

    key = f"{host.settings.runroot}:{host.settings.bridge}"
    with _node_lock:
        if key in _node_ready:
            return
        prefix = ipaddress.ip_network(host.settings.subnet).prefixlen
        links.ensure_bridge(host.settings.bridge, gateway_cidr=f"{gateway(host)}/{prefix}")
        links.ensure_route(
            host.settings.service_cidr, bridge=host.settings.bridge, src=gateway(host)
        )
        _dnsmasq(host).ensure_running()
        _node_ready.add(key)


def lease_ip(host: Host, plan: PodPlan) -> str:
    """The pod's address: the one it has (a re-made sandbox keeps it), else a new lease."""
    s = host.settings
    gw = gateway(host)
    current = host.store.get_pod_by_uid(plan.uid)
    if current is not None and current.pod_ip:
        return current.pod_ip
    return host.store.assign_ip(
        plan.uid, lambda used: ipam.allocate(s.subnet, used=used, gateway=gw)
    )


def setup_pod(host: Host, plan: PodPlan, netns: Path) -> str:
    """Lease an address (a pod that has one keeps it) and wire the pod's netns to the bridge;
    returns the pod IP."""
    from kubeplay.net import links

    ensure_node(host)
    s = host.settings
    gw = gateway(host)
    ip = lease_ip(host, plan)
    prefix = ipaddress.ip_network(s.subnet).prefixlen
    links.attach_pod(
        netns,
        bridge=s.bridge,
        host_ifname=veth_name(plan.uid),
        pod_ip_cidr=f"{ip}/{prefix}",
        gateway=gw,
        mtu=links.bridge_mtu(s.bridge),
    )
    return ip


def teardown_pod(host: Host, rec: PodRecord) -> None:
    """Release the pod's netns; its address lease goes with the pod's row.

    Once the containers are gone, unpinning the netns lets the kernel destroy it, and eth0 with
    its host-side peer with it, in the background (~1 ms here, against ~30 ms for deleting
    the veth synchronously first).
    """
    from kubeplay.net import netns

    netns.remove_netns(Path(rec.netns))


class HostPodNetwork:
    """The pod sandboxes' host resources (`Host.network`): a netns wired to the bridge, the
    pinned IPC and UTS namespaces, the pod's one /dev/shm."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def create_namespace(self, path: Path, kind: str, *, hostname: str = "") -> None:
        """A new `kind` ("net", "ipc", "uts") namespace pinned at `path` (idempotent); a
        network one is wired later by `attach`."""
        from kubeplay.net import netns as netns_mod

        if kind == "net":
            netns_mod.create_netns(path)
        else:
            netns_mod.create_namespace(path, kind, hostname=hostname)

    def remove_namespace(self, path: Path) -> None:
        """Unpin a namespace pinned at `path`; nothing there is fine."""
        from kubeplay.net import netns as netns_mod

        netns_mod.remove_netns(path)

    def ensure_shm(self, uid: str) -> Path:
        """The pod's /dev/shm tmpfs (idempotent)."""
        from kubeplay.engine import volumes

        return volumes.ensure_pod_shm(self._host, uid)

    def lease(self, plan: PodPlan) -> str:
        """The pod's address, leased in the store (kept if it has one); no link yet."""
        return lease_ip(self._host, plan)

    def attach(self, plan: PodPlan, netns: Path) -> str:
        """Make the pod's netns (unless `create_namespace` did), lease an address and wire
        it; returns the pod IP."""
        from kubeplay.net import netns as netns_mod

        netns_mod.create_netns(netns)
        return setup_pod(self._host, plan, netns)

    def release(self, rec: PodRecord) -> None:
        teardown_pod(self._host, rec)


def read_host_file(path: str) -> str:
    """A host file a pod's file derives from (/etc/hosts, /etc/resolv.conf); "" if absent."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def resolv_conf(host: Host, plan: PodPlan) -> str:
    host_resolv = read_host_file("/etc/resolv.conf")
    return netplan.render_resolv_conf(
        dns_policy=plan.dns_policy,
        dns_config=plan.dns_config,
        cluster_dns=gateway(host),
        namespace=plan.namespace,
        host_resolv=host_resolv,
        host_network=plan.host_network,
    )


def check_host_ports(
    host: Host,
    new: list[PodPlan],
    *,
    replacing: set[str],
    services: Sequence[services_plan.ServiceSpec] = (),
) -> None:
    """Refuse hostPorts taken by another pod, a Service's nodePort (of `services`, the
    Services there will be) or a host process, before anything is made.
    (`guard_host_ports` checks the pods again where they are inserted.)"""
    from kubeplay.net import ports

    held = [plans.from_json(rec.plan_json) for rec in host.store.list_pods()]
    conflict = hostports.find_conflict(held, new, replacing=replacing)
    if conflict:
        raise SyncError(conflict, step="network")
    node_ports = hostports.node_ports(services)
    for plan in new:
        if plan.ref in replacing:
            continue
        on_node_port = hostports.node_port_conflict(plan, node_ports)
        if on_node_port:
            raise SyncError(on_node_port, step="network")
        for p in plan.host_ports():
            if ports.port_in_use(p.host_ip or hostports.ANY, p.host_port, p.protocol):
                raise SyncError(
                    f"pod {plan.ref}: hostPort {p.host_port}/{p.protocol}: "
                    "already in use by a process on the host",
                    step="network",
                )


def guard_host_ports(new: list[PodPlan]) -> Callable[[list[PodRecord]], None] | None:
    """The check `store.add_pods` runs inside its transaction, on the pods stored then: of
    two commands claiming one hostPort at once, exactly one inserts its pods. None when
    `new` claims no hostPort."""
    if not any(plan.host_ports() for plan in new):
        return None
    refs = {plan.uid for plan in new}

    def guard(stored: list[PodRecord]) -> None:
        held = [plans.from_json(r.plan_json) for r in stored if r.uid not in refs]
        conflict = hostports.find_conflict(held, new)
        if conflict:
            raise SyncError(conflict, step="network")

    return guard


def pod_info(host: Host, rec: PodRecord, plan: PodPlan) -> services_plan.PodInfo:
    """What endpoints need of a pod: its readiness as `get pods` shows it (store and exit
    files, no runtime call)."""
    from kubeplay.engine import pods
    from kubeplay.plan import status

    st = status.derive_pod_status(plan, pods.observe(host, rec))
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", ())
    )
    named: dict[str, tuple[int, str]] = {}
    for ctr in plan.all_containers():
        for p in ctr.ports:
            if p.name:
                named.setdefault(p.name, (p.container_port, p.protocol))
    return services_plan.PodInfo(
        namespace=rec.namespace,
        name=rec.name,
        ip=rec.pod_ip,
        labels=dict(plan.labels),
        ready=ready,
        terminating=rec.lifecycle == "terminating" or rec.deleting_at is not None,
        finished=st.get("phase") in ("Succeeded", "Failed"),
        hostname=plan.hostname,
        subdomain=plan.subdomain,
        named_ports=named,
    )


@dataclass(frozen=True, slots=True)
class NodeNetwork:
    """The node-wide network the store asks for: the nft table's text (None: no table) and
    dnsmasq's names."""

    ruleset: str | None
    names: dict[str, tuple[str, ...]]
    services: int  # Services stored
    rules: tuple[services_plan.PortRule, ...] = ()
    records: tuple[str, ...] = ()  # dnsmasq's SRV and CNAME lines
    # the EndpointSlices of selector Services, by (namespace, name)
    slices: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def compute_node_network(host: Host) -> NodeNetwork:
    """Render the nft table and the DNS names from the pods and Services in the store."""
    records = host.store.list_pods()
    port_maps = []
    names: dict[str, list[str]] = {}
    infos: list[services_plan.PodInfo] = []
    for rec in records:
        if not rec.pod_ip:
            continue
        plan = plans.from_json(rec.plan_json)
        # The bare hostname is a kubeplay convenience; `<hostname>.<subdomain>.<ns>.svc...`
        # comes from compute_dns_records, only while a headless Service <subdomain> selects it.
        names.setdefault(plan.hostname, []).append(rec.pod_ip)
        infos.append(pod_info(host, rec, plan))
        for ctr in plan.all_containers():
            for p in ctr.ports:
                if p.host_port:
                    port_maps.append(
                        netplan.PortMap(
                            host_ip=p.host_ip,
                            host_port=p.host_port,
                            protocol=p.protocol,
                            pod_ip=rec.pod_ip,
                            container_port=p.container_port,
                            pod=plan.ref,
                        )
                    )
    service_records = [r for r in host.store.list_records(["Service"]) if not r.api_group]
    specs = [services_plan.service_spec(r.body) for r in service_records]
    with_endpoints = [
        (
            svc,
            services_plan.compute_endpoints(svc, infos)
            if svc.selector is not None
            else _user_endpoints(host, svc),
        )
        for svc in specs
    ]
    rules = [r for svc, eps in with_endpoints for r in services_plan.compute_port_rules(svc, eps)]
    for name, ips in services_plan.compute_dns_records(with_endpoints, infos).items():
        names.setdefault(name, []).extend(ip for ip in ips if ip not in names.get(name, ()))
    s = host.settings
    ruleset = None
    if records or specs or not s.nft_table:
        ruleset = netplan.render_nft_ruleset(
            table=s.nft_table,
            bridge=s.bridge,
            subnet=s.subnet,
            port_maps=port_maps,
            services=rules,
        )
    slices: dict[tuple[str, str], dict[str, Any]] = {}
    for svc_rec, (svc, eps) in zip(service_records, with_endpoints, strict=True):
        if svc.selector is not None and svc.type != "ExternalName":
            for name, body in services_plan.compute_endpoint_slices(svc, svc_rec.uid, eps).items():
                slices[(svc.namespace, name)] = body
    return NodeNetwork(
        ruleset=ruleset,
        names={k: tuple(dict.fromkeys(v)) for k, v in names.items()},
        services=len(specs),
        rules=tuple(rules),
        slices=slices,
        records=services_plan.compute_dns_config(with_endpoints),
    )


def sync_endpoint_slices(host: Host, want: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Make the stored EndpointSlices kubeplay manages those of `want`: write the new and
    changed ones, delete the others (their Service is gone or their port group changed)."""
    import time

    from kubeplay.state.store import ObjectRecord

    group = "discovery.k8s.io"
    stored = {
        (r.namespace, r.name): r
        for r in host.store.list_records(["EndpointSlice"])
        if r.api_group == group
        and ((r.body.get("metadata") or {}).get("labels") or {}).get(services_plan.MANAGED_BY_LABEL)
        == services_plan.MANAGED_BY
    }
    now = time.time()
    put = []
    for (ns, name), body in want.items():
        old = stored.get((ns, name))
        if old is not None and _slice_content(old.body) == _slice_content(body):
            continue
        uid = old.uid if old is not None else str(uuid.uuid4())
        created = old.created_at if old is not None else now
        meta = dict(body["metadata"])
        meta["uid"] = uid
        meta["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
        owner = str(meta["ownerReferences"][0]["uid"])
        put.append(
            ObjectRecord(
                uid=uid,
                api_group=group,
                kind="EndpointSlice",
                namespace=ns,
                name=name,
                body={**body, "metadata": meta},
                owner_uid=owner,
                created_at=created,
                updated_at=now,
            )
        )
    gone = [r.uid for key, r in stored.items() if key not in want]
    if not put and not gone:
        return
    try:
        with host.store.batch():
            host.store.put_records(put)
            host.store.delete_records(gone)
    except KubeplayError as err:  # another process wrote them meanwhile: the next sync looks
        _log.info("endpoint_slices_sync_retry", error=str(err))


def _slice_content(body: Mapping[str, Any]) -> tuple[Any, ...]:
    meta = body.get("metadata") or {}
    return (meta.get("labels"), body.get("ports"), body.get("endpoints"))


def _clear_stale_udp(before: NodeNetwork, after: NodeNetwork) -> None:
    """Delete the UDP conntrack entries of endpoints that left a Service port (kube-proxy's
    CleanStaleEntries): of the cluster IP's port and of its nodePort."""
    from kubeplay.net import conntrack

    now = {(r.service, r.protocol, r.port_name): r for r in after.rules}
    for old in before.rules:
        if old.protocol != "UDP":
            continue
        new = now.get((old.service, old.protocol, old.port_name))
        kept = {ip for ip, _ in new.endpoints} if new is not None else set()
        gone = {ip for ip, _ in old.endpoints} - kept
        if not gone:
            continue
        try:
            conntrack.delete_udp_entries(dst_ip=old.cluster_ip, dst_port=old.port, endpoints=gone)
            if old.node_port:
                conntrack.delete_udp_entries(dst_ip=None, dst_port=old.node_port, endpoints=gone)
        except KubeplayError as err:  # the rules are right; entries time out in the end
            _log.warning("conntrack_clear_failed", service=old.service, error=str(err))


def _sweep_stale_udp(host: Host, want: NodeNetwork | None) -> None:
    """Delete the UDP conntrack entries to the service range that no current Service port
    and endpoint accounts for (a Service deleted, or an endpoint gone, by a process that had
    not applied the rules before). Only while this install's bridge exists: the service
    range is routed to it, so its entries are this install's."""
    from kubeplay.net import conntrack

    if not Path(f"/sys/class/net/{host.settings.bridge}").exists():
        return
    keep = {
        (r.cluster_ip, ip, r.port)
        for r in (want.rules if want is not None else ())
        if r.protocol == "UDP"
        for ip, _ in r.endpoints
    }
    try:
        conntrack.delete_stale_service_udp(host.settings.service_cidr, keep)
    except KubeplayError as err:  # the rules are right; entries time out in the end
        _log.warning("conntrack_sweep_failed", error=str(err))


def _user_endpoints(
    host: Host, svc: services_plan.ServiceSpec
) -> tuple[services_plan.PortEndpoints, ...]:
    """A selector-less Service's endpoints: the user's EndpointSlices, else its Endpoints."""
    if svc.type == "ExternalName":
        return services_plan.compute_endpoints(svc, ())
    slices = [
        r.body
        for r in host.store.list_records(["EndpointSlice"], svc.namespace)
        if r.api_group == "discovery.k8s.io"
    ]
    legacy = host.store.get_record("", "Endpoints", svc.namespace, svc.name)
    return services_plan.user_endpoints(svc, slices, legacy.body if legacy else None)


_applied_lock = threading.Lock()
_applied: dict[str, NodeNetwork] = {}  # per table: what this process applied last


def refresh(host: Host, *, only_changed: bool = False) -> NodeNetwork:
    """Rewrite the node-wide nft table and DNS names from the pods and Services in the
    store. `only_changed` (the Services controller) skips what this process already applied
    as it is now. Computed and applied under the node network lock, so that of two processes
    refreshing at once the one that writes last has read the store last."""
    from kubeplay.engine import locks
    from kubeplay.net import nft

    s = host.settings
    with locks.node_network_lock(s.locks_dir), _applied_lock:
        want = compute_node_network(host)
        previous = _applied.get(s.nft_table)
        last = previous if only_changed else None
        if last is None or last.ruleset != want.ruleset:
            if want.ruleset is None:
                if s.nft_table:
                    nft.remove_nft_table(s.nft_table)
            else:
                nft.apply_nft(want.ruleset)
        if previous is not None:
            _clear_stale_udp(previous, want)
        if last is None:  # what no process here applied before: left by another one
            _sweep_stale_udp(host, want)
        if previous is None or previous.slices != want.slices:
            sync_endpoint_slices(host, want.slices)
        if last is None or last.names != want.names or last.records != want.records:
            try:
                if want.services:
                    ensure_node(host)  # a Service before any pod: the bridge, route and DNS
                if want.services and last is None:
                    # a full sync also restarts a dnsmasq killed by someone else (either one)
                    _dnsmasq(host).ensure_running()
                _dnsmasq(host).update_hosts(want.names)
                _dnsmasq(host).update_records(want.records)  # a new records server on a change
            except KubeplayError:
                if want.ruleset is not None:
                    raise
        _applied[s.nft_table] = want
    return want


def reset_node(host: Host) -> None:
    """Remove the node-wide network: dnsmasq, the nft table, the bridge."""
    from kubeplay.net import links, nft

    _dnsmasq(host).stop()
    nft.remove_nft_table(host.settings.nft_table)
    _sweep_stale_udp(host, None)
    links.remove_bridge(host.settings.bridge)
    with _applied_lock:
        _applied.pop(host.settings.nft_table, None)
    with _node_lock:
        _node_ready.discard(f"{host.settings.runroot}:{host.settings.bridge}")
