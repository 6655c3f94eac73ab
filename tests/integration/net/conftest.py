"""Fixtures for the net adapter's root tests: every test gets its own names and subnet.

Bridge, veth, nft table and netns names carry a random hex suffix; the subnet is a random
10.250.X.0/24 that no host address or route uses. Finalizers remove everything a test made,
even when it fails, and then assert nothing of it is left. Traffic goes only to 127.0.0.1 and
to addresses inside the test's own namespaces.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from kubeplay.net import links, netns, nft
from kubeplay.plan import ipam
from kubeplay.testing import claim_subnet


def _host_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    with IPRoute() as ipr:
        for msg in ipr.get_addr(family=socket.AF_INET):
            addr = msg.get_attr("IFA_ADDRESS")
            nets.append(ipaddress.ip_network(f"{addr}/{msg['prefixlen']}", strict=False))
        for msg in ipr.get_routes(family=socket.AF_INET):
            dst = msg.get_attr("RTA_DST")
            if dst:
                nets.append(ipaddress.ip_network(f"{dst}/{msg['dst_len']}", strict=False))
    return nets


def free_subnet(claims: list[int]) -> str:
    """A 10.250.X.0/24 no address or route of the host uses and no test beside this one has
    claimed; its claim goes to `claims`, for the caller to close."""
    taken = _host_networks()
    for _ in range(100):
        candidate = ipaddress.ip_network(f"10.250.{secrets.randbelow(256)}.0/24")
        if any(candidate.overlaps(n) for n in taken if n.prefixlen > 0):
            continue
        fd = claim_subnet(str(candidate))
        if fd is not None:
            claims.append(fd)
            return str(candidate)
    raise RuntimeError("no free 10.250.X.0/24 subnet on this host")


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


@dataclass
class NetEnv:
    """One test's names, subnet and directories, and what it made."""

    suffix: str
    subnet: str
    root: Path
    made_links: list[str] = field(default_factory=list)
    made_netns: list[Path] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"kpt{self.suffix}"

    @property
    def table(self) -> str:
        return f"kpt{self.suffix}"

    @property
    def gateway(self) -> str:
        return ipam.gateway_of(self.subnet)

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def ifname(self, i: int) -> str:
        name = f"kpv{self.suffix}{i}"
        self.made_links.append(name)
        return name

    def netns_path(self, i: int) -> Path:
        path = self.root / "netns" / f"pod{i}"
        self.made_netns.append(path)
        return path

    def pod(self, i: int) -> tuple[Path, str]:
        """A netns attached to the bridge: (netns path, pod IP)."""
        path = self.netns_path(i)
        ip = f"{ipaddress.ip_network(self.subnet).network_address + 10 + i}"
        netns.create_netns(path)
        links.attach_pod(
            path,
            bridge=self.bridge,
            host_ifname=self.ifname(i),
            pod_ip_cidr=f"{ip}/{self.prefixlen}",
            gateway=self.gateway,
            mtu=1500,
        )
        return path, ip


def _leftover_links(suffix: str) -> list[str]:
    with IPRoute() as ipr:
        names = [m.get_attr("IFLA_IFNAME") for m in ipr.get_links()]
    return [n for n in names if suffix in n]


@pytest.fixture
def net_env(tmp_path: Path) -> Iterator[NetEnv]:
    claims: list[int] = []
    env = NetEnv(suffix=secrets.token_hex(3), subnet=free_subnet(claims), root=tmp_path)
    try:
        yield env
    finally:
        for fd in claims:
            os.close(fd)
        for path in env.made_netns:
            netns.remove_netns(path)
        for name in env.made_links:
            links.detach_pod(name)
        links.remove_bridge(env.bridge)
        nft.remove_nft_table(env.table)
        assert wait_until(lambda: not _leftover_links(env.suffix)), _leftover_links(env.suffix)
        assert not nft.table_exists(env.table)
        assert not any(p.exists() for p in env.made_netns)


@pytest.fixture
def bridge(net_env: NetEnv) -> NetEnv:
    links.ensure_bridge(
        net_env.bridge, gateway_cidr=f"{net_env.gateway}/{net_env.prefixlen}", ip_forward=False
    )
    return net_env


class Server:
    """A TCP or UDP echo-with-prefix server whose socket lives in a test netns."""

    def __init__(self, sock: socket.socket, proto: str) -> None:
        self.sock = sock
        self.proto = proto
        self.peers: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                if self.proto == "tcp":
                    conn, peer = self.sock.accept()
                    with conn:
                        data = conn.recv(100)
                        self.peers.append(peer[0])
                        conn.sendall(b"pod:" + data)
                else:
                    data, peer = self.sock.recvfrom(100)
                    self.peers.append(peer[0])
                    self.sock.sendto(b"pod:" + data, peer)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        self._thread.join(timeout=2)


@pytest.fixture
def serve_in() -> Iterator[Callable[[Path, int, str], Server]]:
    servers: list[Server] = []

    def start(path: Path, port: int, proto: str) -> Server:
        def make() -> socket.socket:
            kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            if proto == "tcp":
                sock.listen(8)
            return sock

        server = Server(netns.in_netns(path, make), proto)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def request(proto: str, host: str, port: int, *, timeout: float = 2.0) -> bytes:
    """Send b"hi" and return the answer (from the calling thread's namespace)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.sendall(b"hi")
        return sock.recv(100)


def free_port(proto: str) -> int:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
