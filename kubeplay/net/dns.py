"""dnsmasq on the bridge address: pod (and later Service) names for the pods' resolv.conf.

One dnsmasq per install, started by `Dnsmasq.ensure_running`, daemonised (it outlives the
kubeplay command, like conmon), listening only on the bridge address (bind-interfaces, no
DHCP, no /etc/hosts, no /etc/dnsmasq.conf). Names come from a hosts file kubeplay rewrites
atomically and dnsmasq rereads on SIGHUP; other names go to the servers in `upstream_resolv`
(the host's resolv.conf in production, nothing in tests). Pidfile, hosts file and log live in
`run_dir`. The adapter decides nothing: the engine says which names exist.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from kubeplay import log
from kubeplay.errors import NetworkError

_log = log.get_logger(__name__)

DNSMASQ = "dnsmasq"
START_ATTEMPTS = 5
# dnsmasq's start-up error when a host interface vanishes while it lists them (exit 5)
INTERFACE_RACE = "failed to find list of interfaces"


def _start_time(pid: int) -> str | None:
    """The start time of `pid` (clock ticks since boot, /proc/PID/stat field 22) while it has
    not exited, else None: with the pid it names one process, also once its command line is
    gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


class Dnsmasq:
    def __init__(
        self, *, run_dir: Path, listen_address: str, bridge: str, upstream_resolv: Path | None
    ) -> None:
        self.run_dir = run_dir
        self.listen_address = listen_address
        self.bridge = bridge  # for messages; binding is by address only
        self.upstream_resolv = upstream_resolv  # None: answer kubeplay's names only

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "dnsmasq.pid"

    @property
    def hosts_file(self) -> Path:
        return self.run_dir / "hosts"

    @property
    def records_file(self) -> Path:
        """dnsmasq's configuration: only the SRV and CNAME records kubeplay gives it (read at
        start only: a change restarts dnsmasq)."""
        return self.run_dir / "records.conf"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "dnsmasq.log"

    def argv(self) -> list[str]:
        upstream = (
            [f"--resolv-file={self.upstream_resolv}", "--no-poll"]
            if self.upstream_resolv is not None
            else ["--no-resolv"]
        )
        return [
            DNSMASQ,
            f"--conf-file={self.records_file}",
            f"--pid-file={self.pidfile}",
            f"--listen-address={self.listen_address}",
            "--bind-interfaces",
            "--no-hosts",
            f"--addn-hosts={self.hosts_file}",
            # The run dir may be private to root; dnsmasq rereads the hosts file on SIGHUP.
            "--user=root",
            "--strict-order",
            # Names under the cluster domain are kubeplay's alone: an unknown one is an
            # authoritative NXDOMAIN at once (never asked upstream), so a resolver goes on
            # down its search list as in a cluster.
            "--local=/cluster.local/",
            f"--log-facility={self.log_file}",
            *upstream,
        ]

    def pid(self) -> int | None:
        """The running dnsmasq of this run dir, or None."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        """Whether `pid` is this run dir's dnsmasq and has not exited."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        return f"--pid-file={self.pidfile}".encode() in cmdline  # else a recycled pid

    def ensure_running(self) -> None:
        """Start dnsmasq unless this run dir's one is running; returns once it answers."""
        if self.pid() is not None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.hosts_file.exists():
            self._write_hosts({})
        if not self.records_file.exists():
            self._write(self.records_file, "")
        argv = self.argv()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                # dnsmasq's parent exits once the daemon has bound its sockets (or failed).
                proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            except OSError as err:
                raise NetworkError(f"dnsmasq: {err}", errno=err.errno) from err
            if proc.returncode == 0:
                break
            last = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
            if INTERFACE_RACE not in last or attempt == START_ATTEMPTS:
                raise NetworkError(
                    f"dnsmasq on {self.listen_address}: exit {proc.returncode}: {last}"
                )
            # An interface of the host went while dnsmasq listed them (veths of pods come
            # and go): it gives up at start-up, a second listing finds a steady set.
            _log.info("dnsmasq_start_retry", attempt=attempt, error=last)
        _log.debug("dnsmasq_started", pid=self.pid(), address=self.listen_address)

    def _write_hosts(self, entries: Mapping[str, str | Sequence[str]]) -> None:
        lines = "".join(
            f"{ip} {name}\n"
            for name, ips in sorted(entries.items())
            for ip in ([ips] if isinstance(ips, str) else ips)
        )
        self._write(self.hosts_file, lines)

    def _write(self, path: Path, text: str) -> None:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        tmp.replace(path)

    def update_records(self, lines: Sequence[str]) -> bool:
        """Replace the SRV and CNAME records (dnsmasq option lines, `srv-host=...`,
        `cname=...`); dnsmasq reads them only at start, so a change restarts it (a few ms
        without DNS: a query then is retried by the resolver). True if it changed."""
        text = "".join(f"{line}\n" for line in lines)
        try:
            if self.records_file.read_text() == text:
                return False
        except FileNotFoundError:
            pass
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write(self.records_file, text)
        if self.pid() is not None:
            self.stop()
            self.ensure_running()
        _log.debug("dnsmasq_records_updated", records=len(lines))
        return True

    def update_hosts(self, entries: Mapping[str, str | Sequence[str]]) -> None:
        """Replace the served names (name -> IPv4, or IPv4s: all are answered, in rotating
        order) and make dnsmasq reread them."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_hosts(entries)
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)
        _log.debug("dnsmasq_hosts_updated", names=len(entries))

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop this run dir's dnsmasq (SIGTERM, then SIGKILL); not running is fine."""
        pid = self.pid()
        started = _start_time(pid) if pid is not None else None
        if pid is not None and started is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                # dnsmasq unlinks its pidfile before it closes its sockets, and an exiting
                # process loses its command line (its memory goes before its files): wait
                # for the process itself, known by its start time, or a new one would find
                # the address still in use.
                deadline = time.monotonic() + timeout
                while _start_time(pid) == started and time.monotonic() < deadline:
                    time.sleep(0.01)
                if _start_time(pid) != started:
                    break
            else:
                raise NetworkError(f"dnsmasq (pid {pid}) did not exit", errno=errno.ETIMEDOUT)
        self.pidfile.unlink(missing_ok=True)
        _log.debug("dnsmasq_stopped", pid=pid)
