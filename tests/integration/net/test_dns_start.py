"""net.dns: dnsmasq's start-up race with a vanishing host interface is retried; other
failures are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.errors import NetworkError
from kubeplay.net import dns


def _fake_dnsmasq(tmp_path: Path, failures: int, message: str) -> Path:
    """A dnsmasq that fails `failures` times with `message` (exit 5), then succeeds."""
    script = tmp_path / "dnsmasq"
    count = tmp_path / "count"
    script.write_text(
        "#!/bin/sh\n"
        f"n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}\n"
        f'if [ "$n" -lt {failures} ]; then echo "dnsmasq: {message}" >&2; exit 5; fi\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    return count


def _server(tmp_path: Path) -> dns.Dnsmasq:
    return dns.Dnsmasq(
        run_dir=tmp_path / "dns", listen_address="10.0.0.1", bridge="kp0", upstream_resolv=None
    )


@pytest.mark.parametrize(
    ("failures", "message", "starts", "error"),
    [
        pytest.param(
            2,
            "failed to find list of interfaces: No such device",
            3,
            False,
            id="interface-vanished-while-listed-retried",
        ),
        pytest.param(
            9,
            "failed to find list of interfaces: No such device",
            dns.START_ATTEMPTS,
            True,
            id="interface-race-every-time-gives-up",
        ),
        pytest.param(
            1,
            "failed to create listening socket for 10.0.0.1: Address already in use",
            1,
            True,
            id="other-failure-not-retried",
        ),
    ],
)
def test_start_retries_only_the_interface_race(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failures: int,
    message: str,
    starts: int,
    error: bool,
) -> None:
    count = _fake_dnsmasq(tmp_path, failures, message)
    monkeypatch.setattr(dns, "DNSMASQ", str(tmp_path / "dnsmasq"))
    server = _server(tmp_path)
    if error:
        with pytest.raises(NetworkError, match="exit 5"):
            server.ensure_running()
    else:
        server.ensure_running()
    assert int(count.read_text()) == starts


SLOW_EXIT = """#!/bin/sh
for a; do case $a in --pid-file=*) pf=${a#--pid-file=};; esac; done
sh -c 'trap "rm -f $0; sleep 0.5; exit 0" TERM; echo $$ > $0; while :; do sleep 0.05; done' \\
  "$pf" "$@" </dev/null >/dev/null 2>&1 &
while [ ! -s "$pf" ]; do sleep 0.01; done
"""


EXEC_ON_TERM = SLOW_EXIT.replace("sleep 0.5; exit 0", "exec sleep 0.5")


@pytest.mark.parametrize(
    "script_text",
    [
        # dnsmasq unlinks its pidfile on SIGTERM before it exits and closes its sockets: a
        # stop that returned then let the restarted one find its address in use
        pytest.param(SLOW_EXIT, id="pidfile-gone-before-the-process"),
        # an exiting dnsmasq loses its command line before it closes its sockets (the kernel
        # frees its memory first): stop knows it by its start time, not by the --pid-file in
        # its command line. Here it execs into `sleep` on SIGTERM: same pid, same start,
        # another command line
        pytest.param(EXEC_ON_TERM, id="command-line-gone-before-the-process"),
    ],
)
def test_stop_waits_for_the_process_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script_text: str
) -> None:
    script = tmp_path / "dnsmasq"
    script.write_text(script_text)
    script.chmod(0o755)
    monkeypatch.setattr(dns, "DNSMASQ", str(script))
    server = _server(tmp_path)
    server.ensure_running()
    pid = server.pid()
    assert pid is not None
    server.stop()
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
