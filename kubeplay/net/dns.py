"""dnsmasq on the bridge address: pod and Service names for the pods' resolv.conf.

One dnsmasq per install, started by `Dnsmasq.ensure_running`, daemonised (it outlives the
kubeplay command, like conmon), listening only on the bridge address (bind-interfaces, no
DHCP, no /etc/hosts, no /etc/dnsmasq.conf). Names come from a hosts file kubeplay rewrites
atomically and dnsmasq rereads on SIGHUP; other names go to the servers in `upstream_resolv`
(the host's resolv.conf in production, nothing in tests). Pidfile, hosts file and log live in
`run_dir`. The adapter decides nothing: the engine says which names exist.

SRV and CNAME records (`srv-host=`, `cname=`) are read by dnsmasq only at start, and they
change with every readiness flip of a headless Service's pod. So the dnsmasq the pods ask
(port 53) never holds them and is never restarted for them: a second dnsmasq, the records
server, holds them on a free port of the same address, and the first forwards exactly those
names to it through its servers file (`server=/<name>/<address>#<port>`), which SIGHUP
rereads. A change is make-before-break: a new records server starts on a new port, the
servers file names it, SIGHUP, and only once the first dnsmasq answers from the new one
(a TXT record naming its port, `MARKER`) is the old one stopped. No query meets a closed
port. With no records there is no records server.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import socket
import struct
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
# dnsmasq's start-up error when its port is taken (exit 2): the records server tries another
ADDRESS_IN_USE = "Address already in use"
# A TXT record only records servers hold, its text their port: the first dnsmasq forwards it
# with the records' names, so its answer says which records server it asks. The leading
# underscore keeps it apart from every Service and pod name.
MARKER = "_kubeplay-records.cluster.local"
SWITCH_TIMEOUT = 2.0  # for the first dnsmasq to answer from a new records server
_SERVER_LINE = re.compile(r"server=/([^/]+)/[0-9.]+#([0-9]+)$")


def _start_time(pid: int) -> str | None:
    """The start time of `pid` (clock ticks since boot, /proc/PID/stat field 22) while it has
    not exited, else None: with the pid it names one process, also once its command line is
    gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def _query(address: str, port: int, name: str, qtype: int, timeout: float) -> bytes | None:
    """One UDP query; the reply, or None (no answer in `timeout`, or the port is closed)."""
    ident = secrets.randbits(16)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = (
        struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.send(packet)
            while True:
                reply = sock.recv(4096)
                if len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] == ident:
                    return reply
        except OSError:  # a timeout, or ECONNREFUSED from a closed port
            return None


def _skip_name(msg: bytes, at: int) -> int:
    while msg[at] != 0:
        if msg[at] & 0xC0 == 0xC0:  # a compression pointer ends the name
            return at + 2
        at += msg[at] + 1
    return at + 1


def _txt(reply: bytes | None) -> str | None:
    """The first TXT string of a DNS reply's answer section, or None."""
    if reply is None:
        return None
    try:
        qdcount, ancount = struct.unpack("!HH", reply[4:8])
        at = 12
        for _ in range(qdcount):
            at = _skip_name(reply, at) + 4
        for _ in range(ancount):
            at = _skip_name(reply, at)
            rtype, _cls, _ttl, length = struct.unpack("!HHIH", reply[at : at + 10])
            at += 10
            if rtype == 16 and length:
                return reply[at + 1 : at + 1 + reply[at]].decode()
            at += length
    except (IndexError, struct.error, UnicodeDecodeError):
        return None
    return None


def _free_port(address: str) -> int:
    """A port free on `address` for UDP and TCP, both (dnsmasq binds both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return port
    raise NetworkError(f"no port free for UDP and TCP on {address}", errno=errno.EADDRINUSE)


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
        """The SRV and CNAME records kubeplay gives (dnsmasq option lines)."""
        return self.run_dir / "records.conf"

    def records_conf(self, port: int) -> Path:
        """The records server's configuration on `port`: a copy of the records file as it
        was at its start (dnsmasq reads it only then), so a stale one is known."""
        return self.run_dir / f"records-{port}.conf"

    @property
    def forward_file(self) -> Path:
        """The first dnsmasq's servers file: the records' names, forwarded to the records
        server (reread on SIGHUP)."""
        return self.run_dir / "forward.conf"

    def records_pidfile(self, port: int) -> Path:
        return self.run_dir / f"records-{port}.pid"

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
            "--conf-file=/dev/null",
            f"--servers-file={self.forward_file}",
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

    def records_argv(self, port: int) -> list[str]:
        """The records server on `port`: the records, and the hosts file too (dnsmasq
        answers a CNAME only to a name it knows itself)."""
        return [
            DNSMASQ,
            f"--conf-file={self.records_conf(port)}",
            f"--pid-file={self.records_pidfile(port)}",
            f"--listen-address={self.listen_address}",
            f"--port={port}",
            "--bind-interfaces",
            "--no-hosts",
            f"--addn-hosts={self.hosts_file}",
            "--user=root",
            "--no-resolv",
            "--local=/cluster.local/",
            f"--txt-record={MARKER},{port}",
            f"--log-facility={self.log_file}",
        ]

    def pid(self, pidfile: Path | None = None) -> int | None:
        """The running dnsmasq of this run dir (of `pidfile`: a records server), or None."""
        pidfile = pidfile or self.pidfile
        try:
            pid = int(pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._cmdline(pid, pidfile) is not None else None

    def _cmdline(self, pid: int, pidfile: Path) -> list[bytes] | None:
        """The command line of `pid` if it is the dnsmasq of `pidfile` and has not exited."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return None
        if f"--pid-file={pidfile}".encode() not in cmdline:  # a recycled pid
            return None
        return cmdline

    def _forwarded(self) -> list[tuple[str, int]]:
        """(name, port) of each line of the servers file, in order."""
        try:
            text = self.forward_file.read_text()
        except FileNotFoundError:
            return []
        return [
            (m.group(1), int(m.group(2)))
            for line in text.splitlines()
            if (m := _SERVER_LINE.match(line))
        ]

    def records_port(self) -> int | None:
        """The port of the records server the first dnsmasq forwards to (asks first), from
        its servers file; None when there are no records."""
        forwarded = self._forwarded()
        return forwarded[0][1] if forwarded else None

    def _records_ports(self) -> list[int]:
        """The ports of every records server's files in the run dir (current or not)."""
        found = set()
        for path in self.run_dir.glob("records-*.*"):
            with contextlib.suppress(ValueError):
                found.add(int(path.name[len("records-") :].split(".", 1)[0]))
        return sorted(found)

    def ensure_running(self) -> None:
        """Start dnsmasq unless this run dir's one is running (and the records server when
        there are records); returns once they answer. An older kubeplay's (without the
        servers file) is replaced."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.hosts_file.exists():
            self._write_hosts({})
        if not self.records_file.exists():
            self._write(self.records_file, "")
        if not self.forward_file.exists():
            self._write(self.forward_file, "")
        pid = self.pid()
        if pid is not None and self._outdated(pid):
            self._stop(self.pidfile)
            pid = None
        self._ensure_records_server()
        if pid is None:
            self._start(self.argv(), self.listen_address)

    def _outdated(self, pid: int) -> bool:
        """Whether the running first dnsmasq is an older kubeplay's, which read the records
        itself and had no servers file."""
        cmdline = self._cmdline(pid, self.pidfile) or []
        return f"--servers-file={self.forward_file}".encode() not in cmdline

    def _start(self, argv: list[str], where: str) -> None:
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
                raise NetworkError(f"dnsmasq on {where}: exit {proc.returncode}: {last}")
            # An interface of the host went while dnsmasq listed them (veths of pods come
            # and go): it gives up at start-up, a second listing finds a steady set.
            _log.info("dnsmasq_start_retry", attempt=attempt, error=last)
        _log.debug("dnsmasq_started", address=where)

    def _start_records_server(self, records: str) -> int:
        """A records server of `records` on a free port; returns the port."""
        for attempt in range(1, START_ATTEMPTS + 1):
            port = _free_port(self.listen_address)
            self._write(self.records_conf(port), records)
            try:
                self._start(self.records_argv(port), f"{self.listen_address}#{port}")
                return port
            except NetworkError as err:
                self.records_conf(port).unlink(missing_ok=True)
                # the port was taken between the probe and dnsmasq's bind
                if ADDRESS_IN_USE not in str(err) or attempt == START_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _stop_records_server(self, port: int) -> None:
        self._stop(self.records_pidfile(port))
        self.records_conf(port).unlink(missing_ok=True)

    def _record_names(self) -> list[str]:
        """The names the records file answers: the marker, every SRV record's name and every
        CNAME's alias."""
        names = [MARKER]
        for line in self.records_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in ("srv-host", "cname") and value:
                names += value.split(",")[:-1] if key == "cname" else value.split(",")[:1]
        return list(dict.fromkeys(names))

    def _write_forward(self, servers: Sequence[tuple[str, int]]) -> None:
        """The servers file: `(name, port)` in order (for one name dnsmasq asks the first
        one listed, with --strict-order); SIGHUP makes the first dnsmasq reread it."""
        text = "".join(f"server=/{n}/{self.listen_address}#{p}\n" for n, p in servers)
        self._write(self.forward_file, text)
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def _ensure_records_server(self) -> None:
        """A records server answering the records file's lines, and the servers file naming
        it; a new one (switched to make-before-break) when the current one is gone or holds
        other records; none without records."""
        want = self.records_file.read_text()
        current = self.records_port()
        if current is not None:
            with contextlib.suppress(FileNotFoundError):
                if (
                    self.pid(self.records_pidfile(current)) is not None
                    and self.records_conf(current).read_text() == want
                ):
                    return
        if want.strip():
            self._switch_to(self._start_records_server(want))
        elif self._forwarded() or self._records_ports():
            self._switch_to(None)

    def _switch_to(self, port: int | None) -> None:
        """Make the first dnsmasq forward the records' names to the records server on `port`
        (None: to none), then stop every other records server.

        dnsmasq drops a reply from an address its servers file no longer names, and keeps
        the forwarded query pending for seconds, answering nothing to the same question
        meanwhile. So a switch goes in two steps: first the new server, then the old ones
        for every name (asked in that order: new queries go to the new one, a reply of an old
        one to a query it got before the switch is still taken), and once the first dnsmasq
        answers from the new one and the old ones have answered all they got, the new one
        alone."""
        names = self._record_names() if port is not None else []
        old_servers = [(n, p) for n, p in self._forwarded() if p != port]
        live = {p for _, p in old_servers if self.pid(self.records_pidfile(p)) is not None}
        if port is not None and live and self.pid() is not None:
            self._write_forward(
                [
                    *((n, p) for n in names for p in (port, *sorted(live))),
                    *((n, p) for n, p in old_servers if n not in names and p in live),
                ]
            )
            self._await_forwarding(port)
            for old in sorted(live):  # its queue answered: FIFO, so all before this query
                _query(self.listen_address, old, MARKER, 16, 0.2)
            # and the first dnsmasq has read those replies: it answers only after a turn
            # of its loop beyond them
            self._await_forwarding(port)
            # the old ones stay listed after it until the reload: nothing goes to them
            self._write_forward([(n, port) for n in names])
        else:
            self._write_forward([(n, port) for n in names] if port is not None else [])
            if port is not None and self.pid() is not None:
                self._await_forwarding(port)
        for old in self._records_ports():
            if old != port:
                self._stop_records_server(old)

    def _await_forwarding(self, port: int) -> None:
        """Until the first dnsmasq answers the marker from the records server on `port`
        (SIGHUP is handled some time after kill() returns)."""
        deadline = time.monotonic() + SWITCH_TIMEOUT
        while time.monotonic() < deadline:
            if _txt(_query(self.listen_address, 53, MARKER, 16, 0.2)) == str(port):
                return
            time.sleep(0.002)
        _log.warning("dnsmasq_switch_unconfirmed", port=port)

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
        `cname=...`). dnsmasq reads them only at start: a new records server takes them,
        and the first dnsmasq, which stays, forwards to it before the old one stops (see the
        module's docstring). True if they changed."""
        text = "".join(f"{line}\n" for line in lines)
        try:
            if self.records_file.read_text() == text:
                return False
        except FileNotFoundError:
            pass
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write(self.records_file, text)
        pid = self.pid()
        if pid is not None and self._outdated(pid):
            self.ensure_running()  # replaced, with a records server for the new lines
        else:
            self._ensure_records_server()
        _log.debug("dnsmasq_records_updated", records=len(lines))
        return True

    def update_hosts(self, entries: Mapping[str, str | Sequence[str]]) -> None:
        """Replace the served names (name -> IPv4, or IPv4s: all are answered, in rotating
        order) and make dnsmasq reread them."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_hosts(entries)
        port = self.records_port()
        pidfiles = [self.pidfile] + ([self.records_pidfile(port)] if port is not None else [])
        for pid in (self.pid(f) for f in pidfiles):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
        _log.debug("dnsmasq_hosts_updated", names=len(entries))

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop this run dir's dnsmasq and records servers (SIGTERM, then SIGKILL); not
        running is fine."""
        self._stop(self.pidfile, timeout=timeout)
        for port in self._records_ports():
            self._stop(self.records_pidfile(port), timeout=timeout)
            self.records_conf(port).unlink(missing_ok=True)
        self.forward_file.unlink(missing_ok=True)

    def _stop(self, pidfile: Path, *, timeout: float = 5.0) -> None:
        pid = self.pid(pidfile)
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
        pidfile.unlink(missing_ok=True)
        _log.debug("dnsmasq_stopped", pid=pid, pidfile=pidfile.name)
