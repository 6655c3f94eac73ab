"""e2e fixtures: the real CLI, on real runc + conmon + netns, with a leak check after each test.

`kp` is a helper that runs `python -m kubeplay ...` as a subprocess with the test's own
KUBEPLAY_ROOT (under tmp_path), KUBEPLAY_RUNROOT (a short /tmp/kpXXXX: conmon's attach
socket paths have a length limit), bridge name and subnet, so a test never touches a real
install. Every test starts with the busybox image imported as localhost/kubeplay/busybox:latest.

At teardown the helper removes everything the test played (down, then delete whatever
`get pods -A` still lists) and asserts that nothing of any pod leaked: no process tied to the
test's directories or container cgroups, no supervisor of the test's roots still running once
no pod needs it (it exits by itself), no mount under its directories, no runtime state, no
netns file, no cgroup named after a container id the test saw, no veth left on the bridge.
Only the node network may stay (bridge, nft table, dnsmasq: per install, like podman's
network); `kubeplay system reset --force` must then remove that too, and nothing at all may
remain. Whatever leaked is then cleaned up by force (only processes and mounts of this test),
so one failure does not poison the next test.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.testing import claim_subnet

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/kubeplay/busybox:latest"
# Pod command that exits promptly on SIGTERM (busybox sh as PID 1 ignores it unless trapped).
SLEEPER = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"


@pytest.fixture(scope="session")
def rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("KUBEPLAY_TEST_ROOTFS")
    if given:
        path = Path(given)
        assert path.is_file(), f"KUBEPLAY_TEST_ROOTFS={given}: no such file"
        return path
    out = tmp_path_factory.mktemp("rootfs") / "busybox-rootfs.tar"
    subprocess.run([str(REPO / "scripts" / "busybox-rootfs.sh"), str(out)], check=True)
    return out


def _used_subnets() -> set[str]:
    out = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=False
    ).stdout
    routes = subprocess.run(
        ["ip", "-o", "-4", "route", "show", "table", "all"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return {word for word in (out + routes).split() if word.startswith(SUBNET_BASE + ".")}


# Test runs beside each other (several worktrees) each take their own /16.
SUBNET_BASE = os.environ.get("KUBEPLAY_TEST_SUBNET_BASE", "10.252")


def _free_subnet(
    *, taken: str = "", services: bool = False, claims: list[int] | None = None
) -> str:
    """A /24 of SUBNET_BASE no address or route uses and no other test has claimed (its claim
    goes to `claims`, for the caller to close): pod subnets from the lower half, service
    ranges from the upper, so no test's pod traffic (a DNS query to its bridge) is ever
    addressed into another test's service range."""
    used = _used_subnets() | ({taken} if taken else set())
    low, high = (128, 255) if services else (1, 128)
    for _ in range(200):
        net = ipaddress.ip_network(f"{SUBNET_BASE}.{random.randrange(low, high)}.0/24")
        if any(ipaddress.ip_interface(u).ip in net for u in used if _is_addr(u)):
            continue
        fd = claim_subnet(str(net))  # against the tests run beside this one
        if fd is None:
            continue
        if claims is not None:
            claims.append(fd)
        else:
            os.close(fd)
        return str(net)
    raise RuntimeError(f"no free {SUBNET_BASE}.X.0/24 subnet")


def _is_addr(text: str) -> bool:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return True


class Kubeplay:
    """Runs the kubeplay CLI for one test and remembers what it made."""

    def __init__(self, tmp_path: Path, rootfs: Path) -> None:
        self.tmp = tmp_path
        self.rootfs = rootfs
        self.root = tmp_path / "root"
        self.runroot = Path(tempfile.mkdtemp(prefix="kp"))
        self.claims: list[int] = []  # locks on the test's subnets, released by close()
        subnet = _free_subnet(claims=self.claims)
        self.env = {
            **os.environ,
            "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
            "KUBEPLAY_ROOT": str(self.root),
            "KUBEPLAY_RUNROOT": str(self.runroot),
            "KUBEPLAY_BRIDGE": "kpe" + secrets.token_hex(3),
            "KUBEPLAY_SUBNET": subnet,
            # Services' cluster IPs: a /24 of the test's own /16, never the default range.
            "KUBEPLAY_SERVICE_CIDR": _free_subnet(services=True, claims=self.claims),
            # Pod names only: no DNS query ever leaves the test's network.
            "KUBEPLAY_DNS_UPSTREAM": "none",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.env.pop("KUBEPLAY_TEST_ROOTFS", None)
        self.ids: set[str] = set()
        self.played: list[str] = []
        self.applied: list[str] = []  # `apply -f` paths: their workloads go at cleanup
        self._out = 0

    # --- running the CLI ----------------------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kubeplay", *args]

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run `kubeplay ARGS`; while it runs, note every container id it creates."""
        words = [a for a in args if a != "-v"]  # -v (debug events) goes before the verb
        if words and words[0] == "play":
            self.played.extend(a for a in words[1:] if not a.startswith("-"))
        if words and words[0] == "apply":
            pairs = itertools.pairwise(words)
            self.applied.extend(b for a, b in pairs if a in ("-f", "--filename"))
        self._out += 1
        out_path = self.tmp / f".out{self._out}"
        err_path = self.tmp / f".err{self._out}"
        with out_path.open("w+") as out, err_path.open("w+") as err:
            proc = subprocess.Popen(
                self.argv(*args),
                cwd=REPO,
                env=self.env,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
            )
            if input is not None:
                assert proc.stdin is not None
                proc.stdin.write(input)
                proc.stdin.close()
            deadline = time.monotonic() + timeout
            while proc.poll() is None:
                self.note_ids()
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise subprocess.TimeoutExpired(self.argv(*args), timeout)
                time.sleep(0.03)
            self.note_ids()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        return subprocess.CompletedProcess(self.argv(*args), proc.returncode, stdout, stderr)

    def ok(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        """Run `kubeplay ARGS`, assert it exits 0, return its stdout."""
        res = self(*args, input=input, timeout=timeout)
        assert res.returncode == 0, (
            f"kubeplay {' '.join(args)} -> {res.returncode}\n"
            f"stdout: {res.stdout}\nstderr: {res.stderr}"
        )
        return res.stdout

    def together(
        self, *commands: tuple[str, ...], timeout: float = 90
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run several kubeplay commands at the same time; note container ids meanwhile."""
        procs = [self.popen(*args) for args in commands]
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            self.note_ids()
            time.sleep(0.03)
        results = []
        for proc, args in zip(procs, commands, strict=True):
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate()
            assert proc.returncode >= 0, f"kubeplay {' '.join(args)} hung\n{out}\n{err}"
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
        self.note_ids()
        return results

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start `kubeplay ARGS` in the background (concurrency, logs -f)."""
        words = [a for a in args if a != "-v"]  # -v (debug events) goes before the verb
        if words and words[0] == "play":
            self.played.extend(a for a in words[1:] if not a.startswith("-"))
        # SIGINT as a terminal's Ctrl-C: a test runner started in the background (a CI
        # step, `make test &`) hands its children SIGINT ignored, and Python then never
        # turns it into KeyboardInterrupt; coreutils' env sets it back to the default.
        return subprocess.Popen(
            ["env", "--default-signal=INT", *self.argv(*args)],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @contextlib.contextmanager
    def watching(self, *args: str) -> Iterator[list[str]]:
        """`kubeplay ARGS` (a `-w` watch) in the background; yields the list its output lines
        are appended to as they come, for `wait_for`; Ctrl-C and all lines read on exit."""
        proc = self.popen(*args)
        lines: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            lines.extend(iter(proc.stdout.readline, ""))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            yield lines
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
            reader.join(timeout=10)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()

    def write(self, name: str, text: str) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def play(self, *args: str | Path) -> str:
        return self.ok("play", *map(str, args))

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.ok("get", "pod", name, "-n", namespace, "-o", "json"))
        return doc

    def pod_names(self, *flags: str) -> list[str]:
        return self.ok("get", "pods", *flags, "-o", "name").split()

    def exec(
        self, pod: str, *cmd: str, container: str | None = None, namespace: str = "default"
    ) -> str:
        """`kubeplay exec POD [-c CTR] -- CMD`, asserting exit 0; returns stdout."""
        extra = ["-c", container] if container else []
        return self.ok("exec", "-n", namespace, pod, *extra, "--", *cmd)

    def wait_for(self, what: str, check: Any, timeout: float = 20) -> Any:
        """Poll `check()` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            self.note_ids()  # the supervisor makes containers while no CLI runs
            got = check()
            if got:
                return got
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)

    # --- what exists ----------------------------------------------------------------------

    def note_ids(self) -> None:
        for sub in ("persist", "runtime"):
            with contextlib.suppress(OSError):
                self.ids.update(p.name for p in (self.runroot / sub).iterdir() if len(p.name) == 64)

    def _ours(self, text: str) -> bool:
        return any(
            re.search(re.escape(str(base)) + r"(/|\s|$)", text)
            for base in (self.runroot, self.root)
        )

    def supervisors(self) -> dict[int, str]:
        """kubeplay supervisors (`kubeplay agent`) of this test's roots, by their environment."""
        found: dict[int, str] = {}
        mine = f"KUBEPLAY_RUNROOT={self.runroot}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if " -m kubeplay agent" not in cmdline:
                    continue
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if mine in environ:
                found[int(entry.name)] = cmdline.strip()
        return found

    def supervisor_pid(self) -> int | None:
        """The running supervisor's pid (from its pid file), None when none runs."""
        try:
            pid = int((self.runroot / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if pid in self.supervisors() else None

    def processes(self) -> dict[int, str]:
        """Processes tied to this test: by cmdline, root link or container cgroup, and the
        test's supervisor."""
        found: dict[int, str] = {
            pid: f"{cmd} (a supervisor of this test)" for pid, cmd in self.supervisors().items()
        }
        me = os.getpid()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            pid = int(entry.name)
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if " -m kubeplay " in cmdline:
                    continue  # a CLI still running (a background play) is not a leak
                cgroup = (entry / "cgroup").read_text()
                root = os.readlink(entry / "root")
            except OSError:
                continue
            if self._ours(cmdline) or self._ours(root):
                found[pid] = cmdline.strip()
            elif any(f"/kubeplay/{cid}" in cgroup for cid in self.ids):
                found[pid] = f"{cmdline.strip()} (in a container cgroup)"
        return found

    def mounts(self) -> list[str]:
        out = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            target = line.split()[4].replace("\\040", " ")
            if self._ours(target):
                out.append(target)
        return out

    def cgroups(self) -> list[str]:
        out = []
        for cid in self.ids:
            out += [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/kubeplay/{cid}")]
            p = Path("/sys/fs/cgroup/kubeplay") / cid
            if p.exists():
                out.append(str(p))
        return out

    @property
    def bridge(self) -> str:
        return self.env["KUBEPLAY_BRIDGE"]

    def _node_process(self, cmdline: str) -> bool:
        return cmdline.startswith("dnsmasq ") and str(self.runroot / "dns") in cmdline

    def _veths(self, settle: float = 3.0) -> list[str]:
        """Veths still on the bridge. kubeplay unpins a pod's netns and the kernel destroys
        the pair in the background, so a veth may take a moment to go: wait a little."""
        ports = Path("/sys/class/net") / self.bridge / "brif"
        deadline = time.monotonic() + settle
        while True:
            names = sorted(p.name for p in ports.iterdir()) if ports.is_dir() else []
            if not names or time.monotonic() >= deadline:
                return names
            time.sleep(0.05)

    def leaks(self, *, node: bool = False, settle: float = 15.0) -> list[str]:
        """What of this test's pods is left on the host; with node=True also the node network
        (bridge, nft table, dnsmasq), which outlives pods until `system reset`. A supervisor
        exits by itself about a second after the last pod that needed it: it gets `settle`
        (generous: a loaded host slows its last syncs; a real leak still fails, later)."""
        deadline = time.monotonic() + settle
        while self.supervisors() and time.monotonic() < deadline:
            time.sleep(0.1)
        problems = [
            f"process {pid}: {cmd}"
            for pid, cmd in self.processes().items()
            if node or not self._node_process(cmd)
        ]
        if self.supervisors():  # why it stayed: the end of its log
            with contextlib.suppress(OSError):
                tail = (self.runroot / "supervisor.log").read_text().splitlines()[-30:]
                problems.append("supervisor.log ends:\n  " + "\n  ".join(tail))
        problems += [f"mount: {m}" for m in self.mounts()]
        for sub in ("runtime", "netns"):
            d = self.runroot / sub
            if d.is_dir():
                problems += [f"{sub} state: {p}" for p in d.iterdir()]
        problems += [f"cgroup: {c}" for c in self.cgroups()]
        problems += [f"veth on bridge {self.bridge}: {name}" for name in self._veths()]
        problems += self._service_leaks()
        if node:
            if (Path("/sys/class/net") / self.bridge).exists():
                problems.append(f"bridge {self.bridge}")
            table = "kubeplay_" + self.bridge.replace("-", "_")
            listed = subprocess.run(
                ["nft", "list", "tables"], capture_output=True, text=True, check=False
            ).stdout
            if f"table ip {table}" in listed.splitlines():
                problems.append(f"nft table ip {table}")
        return problems

    def _service_leaks(self) -> list[str]:
        """Rules and DNS records of Services, once none is stored: the nft table's service
        and endpoint chains and cluster IPs, hosts-file names under cluster.local, SRV and CNAME
        lines, UDP conntrack entries to the service range."""
        table = "kubeplay_" + self.bridge.replace("-", "_")
        text = subprocess.run(
            ["nft", "list", "table", "ip", table], capture_output=True, text=True, check=False
        ).stdout
        found = [
            f"nft {table}: {line.strip()}"
            for line in text.splitlines()
            if re.match(r"\s*(chain|set) (service|external|endpoint|affinity)-", line)
        ]
        cidr = self.env["KUBEPLAY_SERVICE_CIDR"].rsplit(".", 1)[0] + "."
        found += [f"nft {table}: {line.strip()}" for line in text.splitlines() if cidr in line]
        hosts = self.runroot / "dns" / "hosts"
        with contextlib.suppress(OSError):
            found += [
                f"dns record: {line}"
                for line in hosts.read_text().splitlines()
                if line.endswith(".cluster.local")
            ]
        records = self.runroot / "dns" / "records.conf"  # SRV and CNAME lines
        with contextlib.suppress(OSError):
            found += [f"dns record: {line}" for line in records.read_text().splitlines()]
        # the second dnsmasq that holds them (its pidfile and configuration), and the first
        # one's forwarding to it
        found += [f"dns records server: {p}" for p in (self.runroot / "dns").glob("records-*")]
        forward = self.runroot / "dns" / "forward.conf"
        with contextlib.suppress(OSError):
            found += [f"dns forwarding: {line}" for line in forward.read_text().splitlines()]
        # UDP conntrack entries to the service range answered from this test's pods (TCP ones
        # may linger in TIME_WAIT, as in a cluster: kube-proxy clears UDP only). A range is
        # not reserved across tests run side by side, hence the pod subnet as well.
        pods = self.env["KUBEPLAY_SUBNET"].rsplit(".", 1)[0] + "."
        with contextlib.suppress(OSError):
            for line in Path("/proc/net/nf_conntrack").read_text().splitlines():
                _, original, reply = [*line.split(" src=", 2), "", ""][:3]
                if " udp " in line and f" dst={cidr}" in original and reply.startswith(pods):
                    found.append(f"conntrack: {line.strip()}")
        return found

    def assert_nothing_runs(self) -> None:
        """No pod in the store and nothing of one on the host: used after a failed command."""
        listed = self.ok("get", "pods", "-A", "-o", "name").split()
        assert listed == [], f"pods left: {listed}"
        leaks = self.leaks()
        assert leaks == [], "leaked:\n" + "\n".join(leaks)

    # --- teardown ---------------------------------------------------------------------------

    def cleanup(self) -> list[str]:
        """Remove what the test played through the CLI; return what went wrong."""
        problems: list[str] = []
        self.note_ids()
        for name in self.sources():  # watched sources would bring pods back
            res = self("unwatch", name, "--prune", timeout=120)
            if res.returncode != 0:
                problems.append(f"kubeplay unwatch {name} -> {res.returncode}: {res.stderr}")
        files = [f for f in dict.fromkeys(self.played) if f != "-" and Path(f).exists()]
        if files:
            res = self("down", *files, timeout=120)
            if res.returncode not in (0, 2):  # 2: a file of a bad-input test
                problems.append(f"kubeplay down -> {res.returncode}: {res.stderr.strip()}")
        applied = [f for f in dict.fromkeys(self.applied) if f != "-" and Path(f).exists()]
        if applied:  # a test that failed before deleting its workloads: their controllers
            # would make their pods again (what is already gone is NotFound: not a problem)
            self("delete", *(w for f in applied for w in ("-f", f)), timeout=120)
        res = self("get", "pods", "-A", "-o", "json")
        if res.returncode != 0:
            problems.append(f"kubeplay get pods -A -> {res.returncode}: {res.stderr.strip()}")
            items = []
        else:
            items = json.loads(res.stdout).get("items", [])
        by_ns: dict[str, list[str]] = {}
        for item in items:
            meta = item["metadata"]
            by_ns.setdefault(meta["namespace"], []).append(meta["name"])
        for ns, names in by_ns.items():
            res = self("delete", "pod", "-n", ns, *names, timeout=120)
            if res.returncode != 0:
                problems.append(f"kubeplay delete pod -n {ns} -> {res.stderr.strip()}")
        return problems

    def sources(self) -> list[str]:
        """The watched sources of this test's store (read without a command, which would
        start a supervisor)."""
        db = self.root / "state.db"
        if not db.exists():
            return []
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
                return [r[0] for r in conn.execute("SELECT name FROM sources ORDER BY name")]
        except sqlite3.Error:  # no sources table: a store of an older kubeplay
            return []

    def force_cleanup(self) -> None:
        """Last resort after a leak: kill this test's processes, unmount, remove state,
        the bridge and the nft table."""
        for pid in self.processes():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        runtime_root = self.runroot / "runtime"
        if runtime_root.is_dir():
            for state in runtime_root.iterdir():
                subprocess.run(
                    ["runc", "--root", str(runtime_root), "delete", "--force", state.name],
                    capture_output=True,
                    check=False,
                )
        for target in sorted(self.mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True, check=False)
        for cg in self.cgroups():
            with contextlib.suppress(OSError):
                os.rmdir(cg)
        if (Path("/sys/class/net") / self.bridge).exists():
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        table = "kubeplay_" + self.bridge.replace("-", "_")
        subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True, check=False)

    def close(self) -> None:
        if not self.mounts():
            shutil.rmtree(self.runroot, ignore_errors=True)
        for fd in self.claims:
            os.close(fd)
        self.claims.clear()


@pytest.fixture
def kp(tmp_path: Path, rootfs_tar: Path) -> Iterator[Kubeplay]:
    helper = Kubeplay(tmp_path, rootfs_tar)
    try:
        helper.ok("image", "import", str(rootfs_tar), IMAGE, "--change", 'CMD ["/bin/sh"]')
        yield helper
        problems = helper.cleanup()
        listed = helper("get", "pods", "-A", "-o", "name").stdout.split()
        if listed:
            problems.append(f"pods still listed after cleanup: {listed}")
        problems += [f"leaked {leak}" for leak in helper.leaks()]
        reset = helper("system", "reset", "--force", timeout=120)
        if reset.returncode != 0:
            problems.append(f"kubeplay system reset -> {reset.returncode}: {reset.stderr}")
        leaks = helper.leaks(node=True)
        if leaks:
            helper.force_cleanup()
        problems += [f"left after system reset: {leak}" for leak in leaks]
        assert not problems, "teardown:\n" + "\n".join(problems)
    finally:
        helper.close()
