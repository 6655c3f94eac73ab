"""The bridge and the pods' veth pairs, over netlink (pyroute2), plus the sysctls they need.

`ensure_bridge` and `attach_pod` work the way pyroute2's `ensure` does: look first, add,
treat EEXIST as done; `detach_pod` and `remove_bridge` ignore ENODEV. pyroute2's untyped
keyword API stays inside this module; callers see typed functions and NetworkError (errno
kept). Sysctls touched: net.ipv4.ip_forward (when asked), and route_localnet and forwarding
on kubeplay's own bridge only.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute, NetlinkError

from kubeplay import log
from kubeplay.errors import NetworkError
from kubeplay.net import netns

_log = log.get_logger(__name__)

POD_IFNAME = "eth0"
_BRIDGE_MODE_HAIRPIN = 1  # IFLA_BRPORT_MODE


@contextmanager
def _iproute() -> Iterator[Any]:
    ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def _error(what: str, err: NetlinkError) -> NetworkError:
    code = int(err.code)
    return NetworkError(f"{what}: {os.strerror(code)}", errno=code)


def _index(ipr: Any, ifname: str) -> int | None:
    """The interface index in the calling thread's netns (an ioctl: pyroute2's link_lookup
    dumps and decodes every link, which costs milliseconds on a host with many veths)."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        return None


def write_sysctl(key: str, value: str) -> None:
    """Set /proc/sys/<key> (dotted) when it differs; a no-op write is skipped."""
    path = Path("/proc/sys") / key.replace(".", "/")
    try:
        if path.read_text().strip() == value:
            return
        path.write_text(value + "\n")
    except OSError as err:
        raise NetworkError(f"sysctl {key}={value}: {err}", errno=err.errno) from err


def ensure_bridge(
    name: str, *, gateway_cidr: str, mtu: int | None = None, ip_forward: bool = True
) -> None:
    """Bridge `name` up with `gateway_cidr` (e.g. 10.89.0.1/24) on it.

    Also sets, on this bridge only, route_localnet=1 (localhost hostPorts may leave through
    it) and forwarding=1 (pods reach hostPorts, their own included, through the gateway);
    and, unless `ip_forward=False` (tests that never leave the bridge), net.ipv4.ip_forward=1,
    because answers to pod egress arrive on the host's other interfaces.
    """
    iface = ipaddress.ip_interface(gateway_cidr)
    what = f"bridge {name}"
    with _iproute() as ipr:
        try:
            index = _index(ipr, name)
            if index is None:
                try:
                    ipr.link("add", ifname=name, kind="bridge")
                except NetlinkError as err:
                    if err.code != errno.EEXIST:
                        raise
                index = _index(ipr, name)
                if index is None:
                    raise NetworkError(f"{what}: vanished after creation", errno=errno.ENODEV)
            if mtu is not None:
                ipr.link("set", index=index, mtu=mtu)
            try:
                ipr.addr(
                    "add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen
                )
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
            ipr.link("set", index=index, state="up")
        except NetlinkError as err:
            raise _error(what, err) from err
    write_sysctl(f"net.ipv4.conf.{name}.route_localnet", "1")
    write_sysctl(f"net.ipv4.conf.{name}.forwarding", "1")
    if ip_forward:
        write_sysctl("net.ipv4.ip_forward", "1")
    _log.debug("bridge_ensured", bridge=name, gateway=gateway_cidr)


def ensure_route(cidr: str, *, bridge: str, src: str) -> None:
    """Route `cidr` (the Services' cluster IPs) to `bridge` from `src` (its gateway), so the
    host reaches cluster IPs without a default route and they never go to a LAN router. The
    route goes with the bridge."""
    net = ipaddress.ip_network(cidr, strict=False)
    what = f"route {net} dev {bridge}"
    with _iproute() as ipr:
        try:
            index = _index(ipr, bridge)
            if index is None:
                raise NetworkError(f"{what}: no such bridge", errno=errno.ENODEV)
            ipr.route(
                "replace",
                dst=str(net.network_address),
                dst_len=net.prefixlen,
                oif=index,
                prefsrc=src,
                scope=253,  # link
            )
        except NetlinkError as err:
            raise _error(what, err) from err
    _log.debug("route_ensured", cidr=str(net), bridge=bridge)


def remove_bridge(name: str) -> None:
    """Delete the bridge; already gone is fine. The global ip_forward is left as it is."""
    _delete_link(name, what=f"bridge {name}")


def bridge_mtu(name: str) -> int:
    """The bridge's MTU, which pods' veths take (from sysfs: no netlink dump)."""
    try:
        return int(Path(f"/sys/class/net/{name}/mtu").read_text())
    except (OSError, ValueError) as err:
        raise NetworkError(f"bridge {name}: {err}", errno=getattr(err, "errno", None)) from err


def _delete_link(ifname: str, *, what: str) -> None:
    with _iproute() as ipr:
        try:
            index = _index(ipr, ifname)
            if index is not None:
                ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code not in (errno.ENODEV, errno.ENOENT):
                raise _error(what, err) from err
    _log.debug("link_deleted", ifname=ifname)


def _configure_pod_side(pod_ip_cidr: str, gateway: str, what: str) -> None:
    iface = ipaddress.ip_interface(pod_ip_cidr)
    with _iproute() as ipr:
        try:
            index = _index(ipr, POD_IFNAME)
            if index is None:
                raise NetworkError(f"{what}: {POD_IFNAME} missing", errno=errno.ENODEV)
            ipr.link("set", index=index, state="up")
            try:
                ipr.addr(
                    "add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen
                )
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
            try:
                ipr.route("add", dst="0.0.0.0/0", gateway=gateway, oif=index)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
        except NetlinkError as err:
            raise _error(what, err) from err


def attach_pod(
    netns_path: Path, *, bridge: str, host_ifname: str, pod_ip_cidr: str, gateway: str, mtu: int
) -> None:
    """Connect a pod's namespace to the bridge.

    One veth pair: `host_ifname` on the bridge, up, in hairpin mode (pods reach their own
    hostPorts); its peer created directly inside the namespace as eth0, with `pod_ip_cidr`,
    up, and a default route via `gateway`. A host end left over from an earlier attempt is
    replaced. On failure the pair is removed again.
    """
    what = f"pod veth {host_ifname}"
    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise NetworkError(f"{what}: netns {netns_path}: {err}", errno=err.errno) from err
    try:
        with _iproute() as ipr:
            try:
                master = _index(ipr, bridge)
                if master is None:
                    raise NetworkError(f"{what}: bridge {bridge} missing", errno=errno.ENODEV)
                stale = _index(ipr, host_ifname)
                if stale is not None:
                    ipr.link("del", index=stale)
                ipr.link(
                    "add",
                    ifname=host_ifname,
                    kind="veth",
                    mtu=mtu,
                    master=master,
                    state="up",
                    peer={"ifname": POD_IFNAME, "net_ns_fd": fd, "mtu": mtu},
                )
                created = _index(ipr, host_ifname)
                if created is None:
                    raise NetworkError(f"{what}: vanished after creation", errno=errno.ENODEV)
                # Hairpin: with br_netfilter, a pod's packet to its own hostPort is DNATed
                # while bridged and must go back out of the port it came in on.
                ipr.brport("set", index=created, mode=_BRIDGE_MODE_HAIRPIN)
            except NetlinkError as err:
                raise _error(what, err) from err
    finally:
        os.close(fd)
    try:
        netns.in_netns(netns_path, lambda: _configure_pod_side(pod_ip_cidr, gateway, what))
    except NetworkError:
        detach_pod(host_ifname)
        raise
    _log.debug("pod_attached", ifname=host_ifname, ip=pod_ip_cidr, netns=str(netns_path))


def detach_pod(host_ifname: str) -> None:
    """Delete the pod's veth pair (the peer goes with it); already gone is fine."""
    _delete_link(host_ifname, what=f"pod veth {host_ifname}")


def link_exists(ifname: str) -> bool:
    """Whether a link of that name exists in the host namespace."""
    with _iproute() as ipr:
        return _index(ipr, ifname) is not None
