"""Probe handlers against real servers inside a network namespace the test made (root only).

httpGet (status rule, redirects, headers, User-Agent, HTTPS without verification, body cap,
timeout), tcpSocket, grpc against a real grpcio health server, exec through real runc.
Sources: pkg/probe/http/http.go, pkg/probe/http/request.go, pkg/probe/tcp/tcp.go,
pkg/probe/grpc/grpc.go, pkg/probe/exec/exec.go.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubeplay.engine import probes as eprobes
from kubeplay.net import netns
from kubeplay.plan import probes
from kubeplay.plan.probes import Outcome, Result
from tests.integration.net.conftest import NetEnv
from tests.integration.runtime.conftest import Harness

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, "headers": dict(self.headers.items())})
        path = self.path
        if path == "/ok":
            self._send(200, b"fine")
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"status")
        elif path == "/redirect-same":
            self._send(302, b"moved", {"Location": "/ok"})
        elif path == "/redirect-other":
            self._send(302, b"moved away", {"Location": "http://127.0.0.1:9/elsewhere"})
        elif path == "/redirect-loop":
            self._send(302, b"again", {"Location": "/redirect-loop"})
        elif path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode())
        elif path == "/slow":
            time.sleep(3)
            self._send(200, b"late")
        elif path == "/big":
            self._send(200, b"x" * 100_000)
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"no")


class Server:
    """An HTTP(S) server whose listening socket lives in the test netns, served by a thread."""

    def __init__(self, path: Path, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        handler = type("H", (Handler,), {"seen": self.seen})
        self.httpd = ThreadingHTTPServer(("0.0.0.0", port), handler, bind_and_activate=False)
        self.httpd.daemon_threads = True
        self.httpd.socket.close()

        def make() -> Any:
            import socket

            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.listen(16)
            return tls.wrap_socket(sock, server_side=True) if tls else sock

        self.httpd.socket = netns.in_netns(path, make)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def pod(bridge: NetEnv) -> tuple[Path, str]:
    return bridge.pod(0)


@pytest.fixture
def serve(pod: tuple[Path, str]) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(port: int = 8080, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(pod[0], port, tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def probe_http(ip: str, path: str, *, port: int = 8080, scheme: str = "HTTP", **kw: Any) -> Outcome:
    handler = probes.HTTPGetAction(port=port, path=path, scheme=scheme, **kw)
    return run(
        eprobes.HostHandlers().run(handler, pod_ip=ip, container_id="", timeout=kw.pop("t", 2))
    )


# --- httpGet ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "result", "output"),
    [
        pytest.param("/ok", Result.SUCCESS, "fine", id="200-success"),
        pytest.param("/status/204", Result.SUCCESS, "", id="204-success"),
        pytest.param("/status/399", Result.WARNING, "", id="399-redirect-class-warning"),
        pytest.param(
            "/status/400",
            Result.FAILURE,
            "HTTP probe failed with statuscode: 400",
            id="400-failure",
        ),
        pytest.param(
            "/status/500",
            Result.FAILURE,
            "HTTP probe failed with statuscode: 500",
            id="500-failure",
        ),
        pytest.param("/redirect-same", Result.SUCCESS, "fine", id="same-host-redirect-followed"),
        pytest.param(
            "/redirect-other",
            Result.WARNING,
            "Probe terminated redirects, Response body: moved away",
            id="other-host-redirect-not-followed-warning",
        ),
        pytest.param("/chunked", Result.SUCCESS, "hello chunked world", id="chunked-body"),
    ],
)
def test_http_probe_results(
    pod: tuple[Path, str], serve: Callable[..., Server], path: str, result: Result, output: str
) -> None:
    serve()
    got = probe_http(pod[1], path)
    assert got.result is result
    if output:
        assert got.output == output


def test_http_probe_redirect_loop_stops_after_10(
    pod: tuple[Path, str], serve: Callable[..., Server]
) -> None:
    server = serve()
    got = probe_http(pod[1], "/redirect-loop")
    assert got.result is Result.FAILURE
    assert got.output.endswith("stopped after 10 redirects")
    assert len(server.seen) == 11


def test_http_probe_sends_kubelet_headers_and_user_headers(
    pod: tuple[Path, str], serve: Callable[..., Server]
) -> None:
    server = serve()
    got = probe_http(pod[1], "/headers", headers=(("X-Custom", "yes"),))
    assert got.result is Result.SUCCESS
    headers = server.seen[0]["headers"]
    assert headers["User-Agent"] == f"kube-probe/{eprobes.kube_version()}"
    assert headers["Accept"] == "*/*"
    assert headers["X-Custom"] == "yes"
    assert headers["Host"] == f"{pod[1]}:8080"
    assert headers["Connection"] == "close"


def test_http_probe_host_header_and_user_agent_override(
    pod: tuple[Path, str], serve: Callable[..., Server]
) -> None:
    server = serve()
    probe_http(
        pod[1],
        "/headers",
        headers=(("Host", "web.example"), ("User-Agent", "mine"), ("Accept", "")),
    )
    headers = server.seen[0]["headers"]
    assert headers["Host"] == "web.example"
    assert headers["User-Agent"] == "mine"
    assert "Accept" not in headers  # an empty Accept removes the header


def test_http_probe_named_host(pod: tuple[Path, str], serve: Callable[..., Server]) -> None:
    """`host` replaces the pod IP (here the pod's address given explicitly, pod_ip unused)."""
    server = serve()
    handler = probes.HTTPGetAction(port=8080, path="/ok", host=pod[1])
    got = run(eprobes.HostHandlers().run(handler, pod_ip="127.0.0.9", container_id="", timeout=2))
    assert got.result is Result.SUCCESS
    assert server.seen[0]["path"] == "/ok"


def test_http_probe_body_is_capped(pod: tuple[Path, str], serve: Callable[..., Server]) -> None:
    serve()
    got = probe_http(pod[1], "/big")
    assert got.result is Result.SUCCESS
    assert got.output == "x" * probes.MAX_OUTPUT


def test_http_probe_timeout(pod: tuple[Path, str], serve: Callable[..., Server]) -> None:
    serve()
    handler = probes.HTTPGetAction(port=8080, path="/slow")
    got = run(eprobes.HostHandlers().run(handler, pod_ip=pod[1], container_id="", timeout=0.5))
    assert got.result is Result.FAILURE
    assert "context deadline exceeded" in got.output


def test_http_probe_connection_refused(pod: tuple[Path, str]) -> None:
    got = probe_http(pod[1], "/ok", port=8081)
    assert got == Outcome(
        Result.FAILURE,
        f'Get "http://{pod[1]}:8081/ok": dial tcp {pod[1]}:8081: connect: connection refused',
    )


def test_https_probe_skips_certificate_verification(
    pod: tuple[Path, str], serve: Callable[..., Server], tmp_path: Path
) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=self-signed.invalid", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    serve(8443, tls=ctx)
    got = probe_http(pod[1], "/ok", port=8443, scheme="HTTPS")
    assert got == Outcome(Result.SUCCESS, "fine")


def test_http_probe_unknown_named_port_errors() -> None:
    handler = probes.HTTPGetAction(port=0, port_name="metrics")
    got = run(eprobes.HostHandlers().run(handler, pod_ip="127.0.0.1", container_id="", timeout=1))
    assert got == Outcome(Result.UNKNOWN, "port metrics not found")


# --- tcpSocket -------------------------------------------------------------------------------


def test_tcp_probe_open_and_closed_port(
    pod: tuple[Path, str], serve: Callable[..., Server]
) -> None:
    serve(8080)
    ok = run(eprobes.tcp_probe(pod[1], 8080, timeout=2))
    assert ok.result is Result.SUCCESS
    closed = run(eprobes.tcp_probe(pod[1], 8082, timeout=2))
    assert closed == Outcome(Result.FAILURE, f"dial tcp {pod[1]}:8082: connect: connection refused")


# --- grpc ------------------------------------------------------------------------------------


@pytest.fixture
def grpc_server(pod: tuple[Path, str]) -> Iterator[Callable[[int, str], None]]:
    procs: list[subprocess.Popen[str]] = []

    def start(port: int, mode: str) -> None:
        proc = subprocess.Popen(
            ["nsenter", f"--net={pod[0]}", sys.executable, "-m",
             "tests.integration.engine.grpc_server", str(port), mode],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"

    yield start
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param("", Outcome(Result.SUCCESS, "service healthy"), id="serving"),
        pytest.param(
            "down",
            Outcome(Result.FAILURE, 'service unhealthy (responded with "NOT_SERVING")'),
            id="not-serving",
        ),
        pytest.param(
            "nope",
            Outcome(
                Result.FAILURE,
                # grpcio's health servicer sets NOT_FOUND without details
                "error: health rpc probe failed: rpc error: code = NotFound desc = ",
            ),
            id="unknown-service",
        ),
    ],
)
def test_grpc_probe_health_service(
    pod: tuple[Path, str],
    grpc_server: Callable[[int, str], None],
    service: str,
    expected: Outcome,
) -> None:
    grpc_server(9000, "health")
    handler = probes.GRPCAction(port=9000, service=service)
    got = run(eprobes.HostHandlers().run(handler, pod_ip=pod[1], container_id="", timeout=5))
    assert got == expected


def test_grpc_probe_server_without_health_protocol(
    pod: tuple[Path, str], grpc_server: Callable[[int, str], None]
) -> None:
    grpc_server(9001, "bare")
    got = run(eprobes.grpc_probe(pod[1], 9001, "", timeout=5, user_agent="kube-probe/1.0"))
    assert got.result is Result.FAILURE
    assert got.output.startswith(
        "this server does not implement the grpc health protocol (grpc.health.v1.Health)"
    )


def test_grpc_probe_nothing_listening(pod: tuple[Path, str]) -> None:
    got = run(eprobes.grpc_probe(pod[1], 9002, "", timeout=2, user_agent="kube-probe/1.0"))
    assert got.result is Result.FAILURE
    assert got.output == (
        f'error: failed to connect service at "{pod[1]}:9002": '
        f"dial tcp {pod[1]}:9002: connect: connection refused"
    )


# --- exec ------------------------------------------------------------------------------------


def test_exec_probe_exit_codes_and_output(harness: Harness) -> None:
    ctr = harness.run(["sleep", "1000"])
    handlers = eprobes.HostHandlers(runtime=harness.rt)

    def probe(*cmd: str, timeout: float = 10) -> Outcome:
        return run(
            handlers.run(probes.ExecAction(cmd), pod_ip="", container_id=ctr.cid, timeout=timeout)
        )

    assert probe("true") == Outcome(Result.SUCCESS, "")
    failed = probe("sh", "-c", "echo out; echo err >&2; exit 3")
    assert failed.result is Result.FAILURE
    # stdout and stderr together; their interleaving is the runtime's
    assert sorted(failed.output.splitlines()) == ["err", "out"]
    big = probe("sh", "-c", "yes | head -c 100000")
    assert big.result is Result.SUCCESS
    assert len(big.output) == probes.MAX_OUTPUT


def test_exec_probe_timeout_kills_the_command(harness: Harness) -> None:
    ctr = harness.run(["sleep", "1000"])
    got = run(
        eprobes.HostHandlers(runtime=harness.rt).run(
            probes.ExecAction(("sleep", "876")), pod_ip="", container_id=ctr.cid, timeout=0.5
        )
    )
    assert got == Outcome(Result.FAILURE, 'command "sleep 876" timed out')
    cmdlines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdlines.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    assert b"sleep\x00876\x00" not in cmdlines
