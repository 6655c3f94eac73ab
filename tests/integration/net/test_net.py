"""The net adapter on the real kernel: netns, bridge, veth, hostPort DNAT, dnsmasq.

Root only. Each test uses its own bridge, subnet, nft table and directories (conftest) and
sends traffic only to 127.0.0.1 and to addresses in namespaces it made.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kubeplay.net import links, netns, nft, ports
from kubeplay.net.dns import Dnsmasq
from kubeplay.plan import network
from kubeplay.plan.network import PortMap

from .conftest import NetEnv, Server, free_port, request, wait_until

pytestmark = pytest.mark.root

Serve = Callable[[Path, int, str], Server]


def test_netns_create_remove_leaves_nothing(net_env: NetEnv) -> None:
    path = net_env.netns_path(0)
    netns.create_netns(path)
    netns.create_netns(path)  # idempotent
    assert netns.is_netns(path)
    own = os.stat("/proc/self/ns/net").st_ino
    assert os.stat(path).st_ino != own  # a namespace of its own, and we stayed in ours

    def lo_flags() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            req = struct.pack("16sH14x", b"lo", 0)
            return int(struct.unpack("16sH14x", fcntl.ioctl(sock, 0x8913, req))[1])

    assert netns.in_netns(path, lo_flags) & 1  # loopback up inside the namespace
    netns.remove_netns(path)
    netns.remove_netns(path)  # idempotent
    assert not path.exists()
    assert f" {path} " not in Path("/proc/self/mountinfo").read_text()


def test_bridge_is_idempotent(bridge: NetEnv) -> None:
    cidr = f"{bridge.gateway}/{bridge.prefixlen}"
    links.ensure_bridge(bridge.bridge, gateway_cidr=cidr, mtu=1400, ip_forward=False)
    assert links.bridge_mtu(bridge.bridge) == 1400
    conf = Path(f"/proc/sys/net/ipv4/conf/{bridge.bridge}")
    assert (conf / "route_localnet").read_text().strip() == "1"
    assert (conf / "forwarding").read_text().strip() == "1"
    links.remove_bridge(bridge.bridge)
    links.remove_bridge(bridge.bridge)
    assert not links.link_exists(bridge.bridge)


def test_two_pods_reach_each_other_by_ip(bridge: NetEnv, serve_in: Serve) -> None:
    ns_a, ip_a = bridge.pod(0)
    ns_b, ip_b = bridge.pod(1)
    server = serve_in(ns_b, 8080, "tcp")
    answer = netns.in_netns(ns_a, lambda: request("tcp", ip_b, 8080))
    assert answer == b"pod:hi"
    assert server.peers == [ip_a]  # pod to pod is not NATed


def test_pod_default_route_via_gateway(bridge: NetEnv) -> None:
    ns_a, _ = bridge.pod(0)

    def route() -> str:
        return Path("/proc/thread-self/net/route").read_text()

    table = netns.in_netns(ns_a, route)
    gw_hex = socket.inet_aton(bridge.gateway)[::-1].hex().upper()
    assert any(
        f.split()[0] == "eth0" and f.split()[1] == "00000000" and f.split()[2] == gw_hex
        for f in table.splitlines()[1:]
    )


def test_attach_replaces_stale_veth_and_detach_is_idempotent(bridge: NetEnv) -> None:
    ns_a, _ = bridge.pod(0)
    links.attach_pod(
        ns_a,
        bridge=bridge.bridge,
        host_ifname=bridge.made_links[0],
        pod_ip_cidr=f"{bridge.gateway[:-1]}20/{bridge.prefixlen}",
        gateway=bridge.gateway,
        mtu=1500,
    )
    links.detach_pod(bridge.made_links[0])
    links.detach_pod(bridge.made_links[0])
    assert not links.link_exists(bridge.made_links[0])


@pytest.mark.parametrize(
    ("proto", "host_ip"),
    [
        pytest.param("tcp", "127.0.0.1", id="hostPort-TCP-hostIP-localhost"),
        pytest.param("tcp", "", id="hostPort-TCP-any-address"),
        pytest.param("udp", "127.0.0.1", id="hostPort-UDP-hostIP-localhost"),
        pytest.param("udp", "", id="hostPort-UDP-any-address"),
    ],
)
def test_hostport_from_localhost(bridge: NetEnv, serve_in: Serve, proto: str, host_ip: str) -> None:
    ns_a, ip_a = bridge.pod(0)
    serve_in(ns_a, 8080, proto)
    port = free_port(proto)
    assert not ports.port_in_use(host_ip, port, proto)
    pm = PortMap(host_ip, port, proto.upper(), ip_a, 8080, "default/web")
    ruleset = network.render_nft_ruleset(
        table=bridge.table, bridge=bridge.bridge, subnet=bridge.subnet, port_maps=[pm]
    )
    nft.apply_nft(ruleset)
    nft.apply_nft(ruleset)  # replacing an existing table works too
    assert request(proto, "127.0.0.1", port) == b"pod:hi"


def test_pod_reaches_own_and_peer_hostport(bridge: NetEnv, serve_in: Serve) -> None:
    ns_a, ip_a = bridge.pod(0)
    ns_b, _ = bridge.pod(1)
    server = serve_in(ns_a, 8080, "tcp")
    port = free_port("tcp")
    pm = PortMap("", port, "TCP", ip_a, 8080, "default/web")
    nft.apply_nft(
        network.render_nft_ruleset(
            table=bridge.table, bridge=bridge.bridge, subnet=bridge.subnet, port_maps=[pm]
        )
    )
    assert netns.in_netns(ns_a, lambda: request("tcp", bridge.gateway, port)) == b"pod:hi"
    assert netns.in_netns(ns_b, lambda: request("tcp", bridge.gateway, port)) == b"pod:hi"
    assert server.peers == [bridge.gateway, bridge.gateway]  # hairpin masquerade


def test_remove_nft_table_idempotent(net_env: NetEnv) -> None:
    nft.apply_nft(
        network.render_nft_ruleset(
            table=net_env.table, bridge=net_env.bridge, subnet=net_env.subnet, port_maps=[]
        )
    )
    assert nft.table_exists(net_env.table)
    nft.remove_nft_table(net_env.table)
    nft.remove_nft_table(net_env.table)
    assert not nft.table_exists(net_env.table)


def _dns_query(name: str) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", 0x4B50, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def _resolve(server: str, name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        sock.sendto(_dns_query(name), (server, 53))
        reply = sock.recv(512)
    ident, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
    assert ident == 0x4B50
    if flags & 0xF or ancount != 1:
        return None
    return socket.inet_ntoa(reply[-4:])


def _dnsmasq_processes(run_dir: Path) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(run_dir).encode() in cmdline and b"dnsmasq" in cmdline:
            found.append(int(pid))
    return found


def test_dnsmasq_answers_pod_names_on_bridge(bridge: NetEnv, tmp_path: Path) -> None:
    run_dir = tmp_path / "dns"
    ns_a, ip_a = bridge.pod(0)
    dns = Dnsmasq(
        run_dir=run_dir, listen_address=bridge.gateway, bridge=bridge.bridge, upstream_resolv=None
    )
    try:
        dns.ensure_running()
        dns.ensure_running()  # already running: same process
        assert len(_dnsmasq_processes(run_dir)) == 1
        fqdn = "web.sub.default.svc.cluster.local"
        dns.update_hosts({"web": ip_a, fqdn: ip_a})
        assert wait_until(lambda: _resolve(bridge.gateway, fqdn) == ip_a)
        assert netns.in_netns(ns_a, lambda: _resolve(bridge.gateway, "web")) == ip_a
        dns.update_hosts({})
        assert wait_until(lambda: _resolve(bridge.gateway, "web") is None)
    finally:
        dns.stop()
    dns.stop()
    assert _dnsmasq_processes(run_dir) == []


def test_dnsmasq_listens_only_on_bridge_address(bridge: NetEnv, tmp_path: Path) -> None:
    dns = Dnsmasq(
        run_dir=tmp_path / "dns",
        listen_address=bridge.gateway,
        bridge=bridge.bridge,
        upstream_resolv=tmp_path / "empty-resolv.conf",
    )
    (tmp_path / "empty-resolv.conf").write_text("")
    try:
        dns.ensure_running()
        pid = dns.pid()
        assert pid is not None
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:[") : -1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
        }
        bound = {
            fields[1]
            for name in ("udp", "udp6", "tcp", "tcp6")
            for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]
            if (fields := line.split())[9] in inodes
        }
        gw_hex = socket.inet_aton(bridge.gateway)[::-1].hex().upper() + ":0035"
        assert bound == {gw_hex}  # DNS over UDP and TCP, on the bridge address only
    finally:
        dns.stop()


def test_twenty_pods_are_wired_and_unwired_in_turn(bridge: NetEnv) -> None:
    """Twenty netns set up and torn down one after the other. The times are printed for the
    reader; speed is measured in bench/net.py, never asserted here (a loaded host is slow)."""
    n = 20
    setup: list[float] = []
    teardown: list[float] = []
    base = bridge.gateway.rsplit(".", 1)[0]
    for i in range(n):
        path, name = bridge.netns_path(100 + i), bridge.ifname(100 + i)
        start = time.perf_counter()
        netns.create_netns(path)
        links.attach_pod(
            path,
            bridge=bridge.bridge,
            host_ifname=name,
            pod_ip_cidr=f"{base}.{100 + i}/{bridge.prefixlen}",
            gateway=bridge.gateway,
            mtu=1500,
        )
        setup.append(time.perf_counter() - start)
    for i in range(n):
        start = time.perf_counter()
        links.detach_pod(bridge.made_links[i])
        netns.remove_netns(bridge.made_netns[i])
        teardown.append(time.perf_counter() - start)
    setup.sort()
    teardown.sort()
    print(
        f"\nper pod: setup median {setup[n // 2] * 1e3:.1f} ms, teardown median "
        f"{teardown[n // 2] * 1e3:.1f} ms"
    )
    assert len(bridge.made_netns) == n and not any(p.exists() for p in bridge.made_netns)


def _answers(server: str, name: str, qtype: int) -> int | None:
    """The number of answers to a query over UDP, or None for none in 1 s or a closed port
    (ECONNREFUSED: the ICMP port unreachable a resolver turns into "bad address")."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", 0x4B51, 0x0100, 1, 0, 0, 0) + qname
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        sock.connect((server, 53))
        try:
            sock.send(query + struct.pack("!HH", qtype, 1))
            reply = sock.recv(4096)
        except OSError:
            return None
    return int(struct.unpack("!H", reply[6:8])[0]) if reply[3] & 0xF == 0 else 0


SRV_NAME = "_http._tcp.db.default.svc.cluster.local"


def _srv_lines(n: int) -> list[str]:
    return [f"srv-host={SRV_NAME},db-{i}.db.default.svc.cluster.local,80" for i in range(n)]


def test_dnsmasq_serves_new_srv_records_without_a_gap(bridge: NetEnv, tmp_path: Path) -> None:
    """SRV records change (a headless Service's endpoints flip): the dnsmasq the pods ask is
    never restarted, every query meanwhile is answered, and the new records are served as
    soon as update_records returns. No records, no second dnsmasq; stop leaves none."""
    run_dir = tmp_path / "dns"
    dns = Dnsmasq(
        run_dir=run_dir, listen_address=bridge.gateway, bridge=bridge.bridge, upstream_resolv=None
    )
    failed: list[tuple[str, int | None]] = []
    asked = 0
    done = threading.Event()

    def ask_in_a_loop() -> None:
        nonlocal asked
        while not done.is_set():
            for name, qtype in (("db-0.db.default.svc.cluster.local", 1), (SRV_NAME, 33)):
                got = _answers(bridge.gateway, name, qtype)
                asked += 1
                if not got:
                    failed.append((name, got))

    try:
        dns.ensure_running()
        first = dns.pid()
        dns.update_hosts(
            {f"db-{i}.db.default.svc.cluster.local": f"10.1.0.{i + 1}" for i in range(3)}
        )
        assert dns.update_records(_srv_lines(1))
        assert not dns.update_records(_srv_lines(1))  # unchanged
        loop = threading.Thread(target=ask_in_a_loop)
        loop.start()
        try:
            for i in range(12):
                n = (i + 1) % 3 + 1  # 2, 3, 1, 2, ...
                assert dns.update_records(_srv_lines(n))
                assert _answers(bridge.gateway, SRV_NAME, 33) == n
        finally:
            done.set()
            loop.join()
        assert asked > 0 and failed == []
        assert dns.pid() == first
        assert len(_dnsmasq_processes(run_dir)) == 2  # the old records servers are gone
        assert dns.update_records([])
        assert _answers(bridge.gateway, SRV_NAME, 33) == 0
        assert _dnsmasq_processes(run_dir) == [first]
    finally:
        dns.stop()
    assert _dnsmasq_processes(run_dir) == []


def test_dnsmasq_and_records_server_killed_are_restarted(bridge: NetEnv, tmp_path: Path) -> None:
    run_dir = tmp_path / "dns"
    dns = Dnsmasq(
        run_dir=run_dir, listen_address=bridge.gateway, bridge=bridge.bridge, upstream_resolv=None
    )
    try:
        dns.ensure_running()
        dns.update_records(_srv_lines(2))
        for victim in sorted(_dnsmasq_processes(run_dir)):  # the first one, then the other
            os.kill(victim, signal.SIGKILL)
            assert wait_until(lambda victim=victim: victim not in _dnsmasq_processes(run_dir))
            dns.ensure_running()
            assert len(_dnsmasq_processes(run_dir)) == 2
            assert _answers(bridge.gateway, SRV_NAME, 33) == 2
    finally:
        dns.stop()
    assert _dnsmasq_processes(run_dir) == []


def test_dnsmasq_of_an_older_kubeplay_and_a_stale_records_server_are_replaced(
    bridge: NetEnv, tmp_path: Path
) -> None:
    """A dnsmasq started by an older kubeplay (records in its own configuration, no servers
    file) is replaced by ensure_running; a records server whose records are not the wanted
    ones (a change whose switch failed half-way) is replaced too."""
    run_dir = tmp_path / "dns"
    dns = Dnsmasq(
        run_dir=run_dir, listen_address=bridge.gateway, bridge=bridge.bridge, upstream_resolv=None
    )
    run_dir.mkdir()
    (run_dir / "records.conf").write_text("".join(f"{line}\n" for line in _srv_lines(1)))
    (run_dir / "hosts").write_text("")
    older = [a for a in dns.argv() if not a.startswith(("--servers-file", "--conf-file"))]
    subprocess.run([*older, f"--conf-file={run_dir / 'records.conf'}"], check=True)
    old_pid = dns.pid()
    try:
        assert old_pid is not None and _answers(bridge.gateway, SRV_NAME, 33) == 1
        dns.ensure_running()
        assert dns.pid() not in (None, old_pid)
        assert _answers(bridge.gateway, SRV_NAME, 33) == 1
        port = dns.records_port()
        assert port is not None
        dns.records_conf(port).write_text("")  # as if it held other records
        dns.ensure_running()
        assert dns.records_port() not in (None, port)
        assert _answers(bridge.gateway, SRV_NAME, 33) == 1
        assert len(_dnsmasq_processes(run_dir)) == 2
    finally:
        dns.stop()
    assert _dnsmasq_processes(run_dir) == []
    assert sorted(p.name for p in run_dir.iterdir()) == ["dnsmasq.log", "hosts", "records.conf"]
