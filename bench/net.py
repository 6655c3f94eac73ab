"""Benchmark pod network setup and teardown, per pod, with kubeplay's own net functions.

    .venv/bin/python bench/net.py [--pods 50]      (as root)

Target (issue 3): network setup and teardown each cost at most 10 ms per pod.

What is timed, per pod, the way `kubeplay.engine.network` and `engine.pods` do it, minus the
store (the lease is `plan.ipam.allocate` over an in-memory set instead of a SQLite row):

- setup: `net.netns.create_netns` (pinned netns, loopback up) + `plan.ipam.allocate` +
  `net.links.bridge_mtu` + `net.links.attach_pod` (veth pair onto the bridge, eth0 with the
  address and the default route inside the netns);
- teardown: `net.netns.remove_netns` (+ releasing the lease), as `engine.network.teardown_pod`:
  with the pod's processes gone, unpinning the netns lets the kernel destroy it and the veth
  pair in the background. How long until every veth of the run is gone is shown for context
  (the synchronous `detach_pod` the engine used before costs ~30 ms a pod).

Once per run, not per pod, and shown for context: the node set-up (`links.ensure_bridge` and
dnsmasq started on the gateway, as `engine.network.ensure_node`), and what `engine.network.refresh`
does once per play with all pods up: the nft table (masquerade + one hostPort DNAT per pod,
bound to the bridge's own address so no other traffic on the host is touched) and dnsmasq's
hosts file. One uncounted warm-up pod runs first.

Everything lives in a throwaway install: bridge `kpbn<hex>`, a free subnet 10.253.X.0/24,
a runroot under /tmp, nft table `kubeplay_<bridge>`, dnsmasq with no upstream (it answers only
the bench's names and never sends a query anywhere). All of it is removed at the end, also on
failure or SIGTERM/SIGINT; leftovers are reported and make the exit status 1. No packet is sent.
"""

from __future__ import annotations

import argparse
import functools
import ipaddress
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from kubeplay.net import links, netns, nft
from kubeplay.net.dns import Dnsmasq
from kubeplay.plan import ipam
from kubeplay.plan import network as netplan

TARGET_MS = 10.0


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    routes = subprocess.run(
        ["ip", "-o", "-4", "route", "show", "table", "all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    nets = []
    for line in out.splitlines():
        nets.append(ipaddress.IPv4Network(line.split()[3], strict=False))
    for line in routes.splitlines():
        dst = line.split()[0]
        if dst[0].isdigit():
            nets.append(ipaddress.IPv4Network(dst if "/" in dst else dst + "/32", strict=False))
    return nets


def free_subnet() -> str:
    used = _used_networks()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.253.{secrets.randbelow(256)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return str(net)
    raise RuntimeError("no free 10.253.X.0/24 subnet on this host")


@dataclass
class Install:
    """The bench's throwaway node network and what it has made so far."""

    bridge: str
    subnet: str
    runroot: Path
    pods: dict[str, str] = field(default_factory=dict)  # veth name -> leased IP
    dns: Dnsmasq | None = None

    @property
    def gateway(self) -> str:
        return ipam.gateway_of(self.subnet)

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def table(self) -> str:
        return "kubeplay_" + self.bridge.replace("-", "_")

    def netns_path(self, veth: str) -> Path:
        return self.runroot / "netns" / veth

    def ensure_node(self) -> None:
        # ip_forward=False: the bench never routes off the bridge, so the host's global
        # net.ipv4.ip_forward is left alone (production sets it once per node, not per pod).
        links.ensure_bridge(
            self.bridge, gateway_cidr=f"{self.gateway}/{self.prefixlen}", ip_forward=False
        )
        self.dns = Dnsmasq(
            run_dir=self.runroot / "dns",
            listen_address=self.gateway,
            bridge=self.bridge,
            upstream_resolv=None,
        )
        self.dns.ensure_running()

    def setup_pod(self, veth: str, steps: Steps) -> None:
        path = self.netns_path(veth)
        steps.time("create_netns", lambda: netns.create_netns(path))
        ip = ipam.allocate(self.subnet, used=self.pods.values(), gateway=self.gateway)
        self.pods[veth] = ip
        mtu = links.bridge_mtu(self.bridge)
        steps.time(
            "attach_pod",
            lambda: links.attach_pod(
                path,
                bridge=self.bridge,
                host_ifname=veth,
                pod_ip_cidr=f"{ip}/{self.prefixlen}",
                gateway=self.gateway,
                mtu=mtu,
            ),
        )

    def teardown_pod(self, veth: str, steps: Steps) -> None:
        steps.time("remove_netns", lambda: netns.remove_netns(self.netns_path(veth)))
        self.pods.pop(veth, None)

    def refresh(self) -> None:
        """engine.network.refresh with every pod up: nft table and dnsmasq names."""
        port_maps = [
            netplan.PortMap(
                host_ip=self.gateway,
                host_port=30000 + n,
                protocol="TCP",
                pod_ip=ip,
                container_port=8080,
                pod=f"bench/{veth}",
            )
            for n, (veth, ip) in enumerate(sorted(self.pods.items()))
        ]
        nft.apply_nft(
            netplan.render_nft_ruleset(
                table=self.table, bridge=self.bridge, subnet=self.subnet, port_maps=port_maps
            )
        )
        assert self.dns is not None
        self.dns.update_hosts({veth: ip for veth, ip in self.pods.items()})

    def cleanup(self) -> list[str]:
        """Remove everything, whatever state the run stopped in; return what is still there."""
        errors: list[str] = []

        def attempt(what: str, fn: Callable[[], None]) -> None:
            try:
                fn()
            except Exception as err:
                errors.append(f"{what}: {err}")

        netns_dir = self.runroot / "netns"
        for veth in sorted(set(self.pods) | self._netns_files()):
            attempt(f"veth {veth}", functools.partial(links.detach_pod, veth))
            attempt(f"netns {veth}", functools.partial(netns.remove_netns, netns_dir / veth))
        self.pods.clear()
        dns = self.dns or Dnsmasq(
            run_dir=self.runroot / "dns",
            listen_address=self.gateway,
            bridge=self.bridge,
            upstream_resolv=None,
        )
        attempt("dnsmasq", dns.stop)
        attempt("nft table", lambda: nft.remove_nft_table(self.table))
        attempt("bridge", lambda: links.remove_bridge(self.bridge))
        left = self.leftovers()
        if not left:
            shutil.rmtree(self.runroot, ignore_errors=True)
        return errors + left

    def _netns_files(self) -> set[str]:
        d = self.runroot / "netns"
        return {p.name for p in d.iterdir()} if d.is_dir() else set()

    def leftovers(self) -> list[str]:
        left = [f"netns {n}" for n in sorted(self._netns_files())]
        prefix = "kp" + self.bridge[4:]
        left += [
            f"link {p.name}"
            for p in Path("/sys/class/net").iterdir()
            if p.name == self.bridge or p.name.startswith(prefix)
        ]
        if nft.table_exists(self.table):
            left.append(f"nft table ip {self.table}")
        if self.dns is not None and self.dns.pid() is not None:
            left.append(f"dnsmasq pid {self.dns.pid()}")
        return left


class Steps:
    """Milliseconds per named sub-step, one sample per pod."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}

    def time(self, name: str, fn: Callable[[], None]) -> None:
        start = time.perf_counter()
        fn()
        self.ms.setdefault(name, []).append((time.perf_counter() - start) * 1000)


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


@dataclass
class Figures:
    setup: list[float] = field(default_factory=list)
    teardown: list[float] = field(default_factory=list)
    steps: Steps = field(default_factory=Steps)
    node_ms: float = 0.0
    refresh_ms: float = 0.0
    veths_gone_ms: float = 0.0


def run(inst: Install, count: int) -> Figures:
    fig = Figures()
    fig.node_ms = _timed(inst.ensure_node)
    # Pod veth names share a per-run prefix (kp + the bridge's hex) so leftovers are findable.
    prefix = "kp" + inst.bridge[4:]
    warm = f"{prefix}w"
    inst.setup_pod(warm, Steps())
    inst.teardown_pod(warm, Steps())
    names = [f"{prefix}{n:03d}" for n in range(count)]
    for veth in names:
        start = time.perf_counter()
        inst.setup_pod(veth, fig.steps)
        fig.setup.append((time.perf_counter() - start) * 1000)
    fig.refresh_ms = _timed(inst.refresh)
    for veth in names:
        start = time.perf_counter()
        inst.teardown_pod(veth, fig.steps)
        fig.teardown.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    deadline = start + 10.0
    while any(links.link_exists(v) for v in [warm, *names]) and time.perf_counter() < deadline:
        time.sleep(0.005)
    fig.veths_gone_ms = (time.perf_counter() - start) * 1000
    return fig


def _row(what: str, samples: list[float], *, target: bool = True) -> str:
    med, mean = statistics.median(samples), statistics.fmean(samples)
    verdict = ("ok" if med <= TARGET_MS and mean <= TARGET_MS else "OVER") if target else ""
    goal = f"<= {TARGET_MS:g}" if target else ""
    return f"| {what} | {med:.2f} | {mean:.2f} | {max(samples):.2f} | {goal} | {verdict} |"


def report(fig: Figures, count: int) -> str:
    steps = [_row(f"- {name}", ms, target=False) for name, ms in fig.steps.ms.items()]
    return "\n".join(
        [
            f"Pod network, {count} pods, per pod (ms):",
            "",
            "| step | median | mean | max | target | |",
            "|---|---|---|---|---|---|",
            _row("setup (netns + lease + veth)", fig.setup),
            _row("teardown (netns; the kernel drops the veth)", fig.teardown),
            *steps,
            "",
            "Once per run (ms), for context:",
            "",
            "| step | ms |",
            "|---|---|",
            f"| node: bridge + dnsmasq start | {fig.node_ms:.2f} |",
            f"| refresh with {count} pods: nft table ({count} hostPorts) + dnsmasq hosts"
            f" | {fig.refresh_ms:.2f} |",
            f"| after the last teardown, until the kernel had removed all {count} veths"
            f" | {fig.veths_gone_ms:.2f} |",
        ]
    )


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pod network setup/teardown per pod")
    parser.add_argument("--pods", type=int, default=50, help="pods to set up (default 50)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/net.py: needs root (netns, veth, nft)", file=sys.stderr)
        return 2
    if args.pods < 1 or args.pods > 250:
        parser.error("--pods: 1 to 250 (one /24 subnet)")
    signal.signal(signal.SIGTERM, _on_signal)
    inst = Install(
        bridge="kpbn" + secrets.token_hex(3),
        subnet=free_subnet(),
        runroot=Path(tempfile.mkdtemp(prefix="kpbn", dir="/tmp")),
    )
    print(f"bridge {inst.bridge}, subnet {inst.subnet}, runroot {inst.runroot}", file=sys.stderr)
    status = 0
    fig: Figures | None = None
    try:
        fig = run(inst, args.pods)
    finally:
        problems = inst.cleanup()
        for problem in problems:
            print(f"bench/net.py: clean-up: {problem}", file=sys.stderr)
        if problems:
            status = 1
    if fig is not None:
        print(report(fig, args.pods))
    return status


if __name__ == "__main__":
    sys.exit(main())
