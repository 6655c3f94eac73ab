"""Benchmark Services end to end: how fast the rules follow readiness and a new Service, and
what a cluster IP costs a client against the pod IP.

    .venv/bin/python bench/service_latency.py [--flips 10] [--services 10] [--requests 1000]
    (as root)

Targets (issue 13):
1. A readiness flip to the rules changed: at most 100 ms. A pod behind a Service has an exec
   readiness probe (`test -e /tmp/ready`, every second); `kubeplay exec` creates or removes
   the file. The flip's time is the prober's publication (`probe_state.updated_at`, wall
   clock, read as soon as the new result is in state.db); the rules changed when the cluster
   IP's port moves between the `service-ips` and `no-endpoint-services` maps of the table
   (`nft list map`, polled in a loop, so the figure includes up to one poll, about 5-10 ms).
   `--flips` flips, half in each direction.
2. A new Service reachable by IP and by name: at most 150 ms after `kubeplay apply` returns.
   `--services` times a Service with a given clusterIP is applied over the running pod; then,
   from inside the client pod's network namespace, a TCP connection to the cluster IP that
   gets an HTTP answer, and an A query for `<svc>.default.svc.cluster.local` to the pod's
   nameserver (dnsmasq on the gateway) answered with that IP, both polled every 2 ms; the
   later of the two is the sample. Each Service is deleted again before the next.
3. Throughput through a cluster IP against the pod IP directly: `--requests` sequential HTTP
   GETs, one TCP connection each (as `wget` in a loop), from inside the client pod's network
   namespace (the bench's own socket, made in that namespace, so no process start is timed)
   to busybox httpd, alternating the two ways in rounds of 100 so load changes hit both;
   the ratio of the total times (near 1.0 expected: one DNAT and the hairpin masquerade on
   the gateway against the bridge alone).

kubeplay runs with its own roots under /tmp on bridge `KUBEPLAY_BENCH_BRIDGE` (default
kpsvclat0), subnet `KUBEPLAY_BENCH_SUBNET` (default 10.248.0.0/24) and service range
`KUBEPLAY_BENCH_SERVICE_CIDR` (default 10.248.200.0/24); packets go only into the bench's pods'
network namespaces. Everything is removed at the end (`kubeplay system reset --force`), also
on failure. Holds /run/kubeplay-bench.lock (waits for another benchmark). Output: a markdown
table on stdout, JSON in bench/results/service-latency-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import fcntl
import ipaddress
import json
import os
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/kubeplay/busybox:latest"
ROOTFS = REPO / ".cache" / "busybox-rootfs.tar"
LOCK_FILE = Path("/run/kubeplay-bench.lock")
BRIDGE = os.environ.get("KUBEPLAY_BENCH_BRIDGE", "kpsvclat0")
SUBNET = os.environ.get("KUBEPLAY_BENCH_SUBNET", "10.248.0.0/24")
SERVICE_CIDR = os.environ.get("KUBEPLAY_BENCH_SERVICE_CIDR", "10.248.200.0/24")
SLEEPER = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"
HTTPD = "trap 'exit 0' TERM; httpd -f -p 8080 -h /var/www & wait $!"
TARGET_FLIP_MS = 100.0
TARGET_NEW_SERVICE_MS = 150.0
CLONE_NEWNET = 0x40000000


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Kubeplay:
    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        self.runroot = Path(tempfile.mkdtemp(prefix="kpslb"))
        self.env = {
            **os.environ,
            "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
            "KUBEPLAY_ROOT": str(self.root),
            "KUBEPLAY_RUNROOT": str(self.runroot),
            "KUBEPLAY_BRIDGE": BRIDGE,
            "KUBEPLAY_SUBNET": SUBNET,
            "KUBEPLAY_SERVICE_CIDR": SERVICE_CIDR,
            "KUBEPLAY_DNS_UPSTREAM": "none",
        }
        self.table = "kubeplay_" + BRIDGE.replace("-", "_")

    def __call__(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "kubeplay", *args],
            cwd=REPO, env=self.env, input=stdin, capture_output=True, text=True, check=False,
            timeout=600,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubeplay {' '.join(args)}: {proc.returncode}: {proc.stderr}")
        return proc.stdout

    def _db(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.root / 'state.db'}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def pod(self, name: str) -> tuple[str, str]:
        """(pod IP, netns path) of a running pod."""
        ((ip, netns),) = self._db("SELECT pod_ip, netns FROM pods WHERE name = ?", name)
        return str(ip), str(netns)

    def readiness(self, name: str) -> tuple[bool | None, float]:
        """The prober's published readiness of pod `name` and when it was published."""
        rows = self._db(
            "SELECT s.readiness, s.updated_at FROM probe_state s JOIN pods p "
            "ON p.uid = s.pod_uid WHERE p.name = ?",
            name,
        )
        if not rows or rows[0][0] is None:
            return None, 0.0
        return bool(rows[0][0]), float(rows[0][1])

    def rejected(self, vip: str) -> bool:
        """Whether the table sends the cluster IP's port 80 to `reject` (no endpoint)."""
        out = subprocess.run(
            ["nft", "list", "map", "ip", self.table, "no-endpoint-services"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return f"{vip} . tcp . 80 " in out


def in_netns(netns: str, make: Callable[[], socket.socket]) -> socket.socket:
    """A socket made inside the network namespace `netns` (by a thread that joins it, so the
    bench's own namespace is untouched); it stays in that namespace wherever it is used."""
    libc = ctypes.CDLL(None, use_errno=True)
    out: list[socket.socket | BaseException] = []

    def run() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            finally:
                os.close(fd)
            out.append(make())
        except BaseException as err:  # handed to the caller
            out.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def http_get(netns: str, ip: str, port: int, timeout: float = 2.0) -> bytes:
    """One HTTP GET on a new connection made in `netns`; the body (b"" on failure)."""

    def make() -> socket.socket:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    sock = in_netns(netns, make)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
            sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            return b""
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0] else b""


def dns_a(sock: socket.socket, server: str, name: str, qid: int) -> list[str]:
    """The A answers for `name` from `server` (one query on `sock`, 20 ms to answer)."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    sock.sendto(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1", (server, 53))
    sock.settimeout(0.02)
    try:
        data = sock.recv(4096)
    except OSError:
        return []
    if struct.unpack(">H", data[:2])[0] != qid:
        return []
    answers = struct.unpack(">H", data[6:8])[0]
    pos = 12 + len(qname) + 4
    out = []
    for _ in range(answers):
        pos += 2 if data[pos] & 0xC0 == 0xC0 else data.index(b"\0", pos) + 1 - pos
        rtype, _, _, size = struct.unpack(">HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and size == 4:
            out.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += size
    return out


def service_doc(name: str, ip: str) -> str:
    return (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
        f"spec:\n  clusterIP: {ip}\n  selector: {{app: web}}\n"
        f"  ports: [{{name: http, port: 80, targetPort: 8080}}]\n"
    )


def pods_doc() -> str:
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "touch /tmp/ready; {HTTPD}"]
    ports: [{{name: http, containerPort: 8080}}]
    readinessProbe:
      exec: {{command: ["test", "-e", "/tmp/ready"]}}
      periodSeconds: 1
      failureThreshold: 1
      successThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
"""


def wait(what: str, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)
    return got


def readiness_flips(kp: Kubeplay, vip: str, flips: int) -> list[float]:
    """Per flip: ms from the prober's publication to the rules changed."""
    samples = []
    for i in range(flips):
        ready_next = i % 2 == 1  # the pod starts ready: first flip is to not ready
        kp("exec", "web", "--", "touch" if ready_next else "rm", "/tmp/ready")
        published = wait(
            "the prober's new result",
            lambda r=ready_next: (lambda s: s[1] if s[0] is r else 0.0)(kp.readiness("web")),
            every=0.002,
        )
        wait("the rules", lambda r=ready_next: kp.rejected(vip) is not r, every=0.0)
        samples.append((time.time() - published) * 1000)
        log(f"flip {i + 1} to {'ready' if ready_next else 'not ready'}: {samples[-1]:.1f} ms")
    return samples


def new_services(kp: Kubeplay, base: Path, count: int, netns: str, gw: str) -> list[float]:
    """Per Service: ms from `apply` returning to reachable by IP and by name."""
    net = ipaddress.ip_network(SERVICE_CIDR)
    dns = in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    samples = []
    try:
        for i in range(count):
            name, vip = f"new{i}", str(net.network_address + 100 + i)
            path = base / f"{name}.yaml"
            path.write_text(service_doc(name, vip))
            kp("apply", "-f", str(path))
            returned = time.monotonic()
            by_ip = by_name = 0.0
            qid = 0
            while not (by_ip and by_name):
                if time.monotonic() - returned > 30:
                    raise RuntimeError(f"service {name} not reachable in 30 s")
                if not by_ip and http_get(netns, vip, 80, timeout=0.05):
                    by_ip = time.monotonic()
                if not by_name:
                    qid = (qid + 1) % 65536
                    if vip in dns_a(dns, gw, f"{name}.default.svc.cluster.local", qid):
                        by_name = time.monotonic()
                time.sleep(0.002)
            samples.append((max(by_ip, by_name) - returned) * 1000)
            log(
                f"service {name}: by IP {(by_ip - returned) * 1000:.1f} ms, "
                f"by name {(by_name - returned) * 1000:.1f} ms"
            )
            kp("delete", "-f", str(path))
    finally:
        dns.close()
    return samples


def throughput(netns: str, vip: str, pod_ip: str, requests: int) -> dict[str, float]:
    """Seconds for `requests` sequential GETs each way, alternated in rounds of 100."""
    totals = {"cluster IP": 0.0, "pod IP": 0.0}
    done = 0
    while done < requests:
        n = min(100, requests - done)
        for way, (ip, port) in (("cluster IP", (vip, 80)), ("pod IP", (pod_ip, 8080))):
            start = time.perf_counter()
            for _ in range(n):
                if not http_get(netns, ip, port):
                    raise RuntimeError(f"GET http://{ip}:{port}/ failed ({way})")
            totals[way] += time.perf_counter() - start
        done += n
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/service_latency.py must run as root", file=sys.stderr)
        return 2
    with LOCK_FILE.open("w") as lock:
        log(f"waiting for {LOCK_FILE}")
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    base = Path(tempfile.mkdtemp(prefix="kubeplay-svc-bench-"))
    kp = Kubeplay(base)
    record: dict[str, Any] = {"load_average": os.getloadavg()}
    try:
        kp("image", "import", str(ROOTFS), IMAGE, "--change", 'CMD ["/bin/sh"]')
        vip = str(ipaddress.ip_network(SERVICE_CIDR).network_address + 10)
        (base / "web.yaml").write_text(service_doc("web", vip) + "---\n" + pods_doc())
        kp("play", str(base / "web.yaml"))
        pod_ip, _ = kp.pod("web")
        _, netns = kp.pod("client")
        gw = str(ipaddress.ip_network(SUBNET).network_address + 1)
        wait("web served by its cluster IP", lambda: http_get(netns, vip, 80))
        wait("web ready", lambda: kp.readiness("web")[0] is True)
        log("web ready behind its Service")
        flips = readiness_flips(kp, vip, args.flips)
        wait("web ready again", lambda: not kp.rejected(vip))
        fresh = new_services(kp, base, args.services, netns, gw)
        times = throughput(netns, vip, pod_ip, args.requests)
        ratio = times["cluster IP"] / times["pod IP"]
        record.update(flips_ms=flips, new_service_ms=fresh, throughput_s=times, ratio=ratio)
        record["load_average_after"] = os.getloadavg()
        rows = [
            (
                "readiness flip -> rules changed, median (max)",
                f"{statistics.median(flips):.1f} ms ({max(flips):.1f} ms)",
                f"<= {TARGET_FLIP_MS:.0f} ms",
                max(flips) <= TARGET_FLIP_MS,
            ),
            (
                "new Service reachable by IP and name after apply, median (max)",
                f"{statistics.median(fresh):.1f} ms ({max(fresh):.1f} ms)",
                f"<= {TARGET_NEW_SERVICE_MS:.0f} ms",
                max(fresh) <= TARGET_NEW_SERVICE_MS,
            ),
            (
                f"{args.requests} sequential GETs: cluster IP / pod IP",
                f"{times['cluster IP']:.2f} s / {times['pod IP']:.2f} s = {ratio:.2f}",
                "near 1.0",
                ratio <= 1.25,
            ),
        ]
        print(f"load average {' '.join(f'{x:.2f}' for x in record['load_average'])}")
        print("| what | measured | target | met |\n|---|---|---|---|")
        for what, value, target, met in rows:
            print(f"| {what} | {value} | {target} | {'yes' if met else 'no'} |")
        results = REPO / "bench" / "results"
        results.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        (results / f"service-latency-{stamp}.json").write_text(json.dumps(record, indent=2))
        return 0
    finally:
        kp("system", "reset", "--force", check=False)
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(kp.runroot, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
