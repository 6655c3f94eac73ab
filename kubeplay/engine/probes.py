"""Probe handlers, run from the host with asyncio: httpGet, tcpSocket, grpc and exec.

The kubelet's pkg/probe, rebuilt on asyncio streams so that many probes cost one event loop,
with no thread per probe and no subprocess for the network ones: httpGet and tcpSocket
connect to the pod's IP (or the handler's `host`); HTTPS skips certificate verification;
success is 200 <= code < 400; the User-Agent is `kube-probe/<major>.<minor>`; redirects are
followed only on the same host (at most 10), a redirect elsewhere ends as a warning; bodies
and outputs are capped at 10 KiB. grpc calls grpc.health.v1.Health/Check over a small HTTP/2
client (h2, pure Python). exec runs through the OCI runtime (`runc exec`) with its timeout.
Each returns a `plan.probes.Outcome`; nothing here decides what a result means (plan/ does).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urljoin, urlsplit

from kubeplay.engine import steptimers
from kubeplay.plan import probes
from kubeplay.plan.probes import Outcome, Result

if TYPE_CHECKING:
    from kubeplay.runtime.oci import Runtime

MAX_REDIRECTS = 10
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_HEADER_LIMIT = 64 * 1024


@functools.cache
def kube_version() -> str:
    """`<major>.<minor>` of the newest Kubernetes schema kubeplay bundles (its User-Agent)."""
    from kubeplay.kube import versions

    major, minor = versions.resolve_schema_version("").split(".")[:2]
    return f"{major}.{minor}"


def _go_addr(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dial_error(host: str, port: int, err: BaseException) -> str:
    """A connect error worded as Go's net package words it (what kubelet events show)."""
    addr = _go_addr(host, port)
    if isinstance(err, ConnectionRefusedError):
        return f"dial tcp {addr}: connect: connection refused"
    if isinstance(err, TimeoutError):
        return f"dial tcp {addr}: i/o timeout"
    if isinstance(err, socket.gaierror):
        return f"dial tcp: lookup {host}: {err.strerror or err}"
    if isinstance(err, OSError) and err.strerror:
        return f"dial tcp {addr}: connect: {err.strerror.lower()}"
    return f"dial tcp {addr}: {err}"


# --- tcpSocket -------------------------------------------------------------------------------


async def tcp_probe(host: str, port: int, *, timeout: float) -> Outcome:
    """Success if a TCP connection opens within `timeout` (pkg/probe/tcp)."""
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as err:
        return Outcome(Result.FAILURE, _dial_error(host, port, err))
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Outcome(Result.SUCCESS)


# --- httpGet ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    head: str  # the header lines after the status line, each after its CRLF ("" for none)
    body: bytes  # at most `limit` bytes
    url: str  # the URL that answered (after redirects)

    def header(self, name: str) -> str | None:
        """The first header `name` (any case), stripped; None if absent. Parsed on demand:
        a probe reads a header only from a redirect (Location)."""
        wanted = name.lower()
        for line in self.head.split("\r\n"):
            if line:
                key, _, value = line.partition(":")
                if key.strip().lower() == wanted:
                    return value.strip()
        return None


class HttpError(Exception):
    """A request that got no response; the message reads like Go's url.Error."""


@functools.cache
def _insecure_tls() -> ssl.SSLContext:
    """TLS without certificate verification, as the kubelet's probes and hooks use."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def build_url(scheme: str, host: str, port: int, path: str) -> str:
    host_part = f"[{host}]" if ":" in host else host
    return f"{scheme.lower()}://{host_part}:{port}{path}"


def request_headers(
    headers: Sequence[tuple[str, str]], *, user_agent: str
) -> list[tuple[str, str]]:
    """httpHeaders plus the kubelet's defaults: User-Agent and `Accept: */*` unless given;
    an empty Accept removes the header (probe.NewRequestForHTTPGetAction)."""
    names = {k.lower() for k, _ in headers}
    out = [(k, v) for k, v in headers if not (k.lower() == "accept" and v == "")]
    if "user-agent" not in names:
        out.append(("User-Agent", user_agent))
    if "accept" not in names:
        out.append(("Accept", "*/*"))
    return out


# the headers that frame a body, as they appear in a lower-cased head after the status line
_FRAMING = re.compile(rb"\r\n[ \t]*(content-length|transfer-encoding)[ \t]*:([^\r\n]*)")


def _response_complete(buf: bytes | bytearray) -> bool:
    """Whether `buf` holds a whole final response (headers, and a body by Content-Length or
    a last chunk), so a probe need not wait for the server to close."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = bytes(buf[:end]).lower()
    if head.startswith((b"http/1.1 1", b"http/1.0 1")):
        return False  # informational: the real response follows; read on
    for match in _FRAMING.finditer(head):
        name, value = match.group(1), match.group(2).strip()
        if name == b"content-length" and value.isdigit():
            return len(buf) - end - 4 >= int(value)
        if name == b"transfer-encoding" and b"chunked" in value:
            return bytes(buf[-7:]) == b"0\r\n\r\n" or bytes(buf[-5:]) == b"0\r\n\r\n"
    return False


def _malformed(why: str) -> HttpError:
    return HttpError(f"malformed HTTP response: {why}")


def _framing(head: bytes) -> dict[bytes, str]:
    """Content-Length and Transfer-Encoding of a header block (`head`: the lines after the
    status line, each after its CRLF), by lower-cased name, values stripped as sent; the
    last of a repeated header wins."""
    return {
        m.group(1): head[m.start(2) : m.end(2)].decode("latin-1").strip()
        for m in _FRAMING.finditer(head.lower())
    }


def _body(buf: bytes, pos: int, framing: dict[bytes, str], limit: int) -> bytes:
    """The body that starts at `pos` of `buf`, at most `limit` bytes: chunked, by
    Content-Length, or up to where the server closed."""
    if "chunked" in framing.get(b"transfer-encoding", "").lower():
        body = bytearray()
        while len(body) < limit:
            eol = buf.find(b"\r\n", pos)
            line = buf[pos:] if eol < 0 else buf[pos:eol]
            try:
                size = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise _malformed(f"bad chunk size {line[:20]!r}") from None
            if size == 0:
                break
            pos = eol + 2
            if eol < 0 or len(buf) < pos + size:
                raise _malformed(f"a {size}-byte chunk cut short")
            body += buf[pos : pos + size]
            pos += size + 2
        return bytes(body[:limit])
    length = framing.get(b"content-length")
    if length is not None:
        try:
            want = min(int(length), limit)
        except ValueError:
            raise _malformed(f"bad Content-Length {length!r}") from None
        if len(buf) - pos < want:
            raise _malformed(f"{len(buf) - pos} bytes of a {want}-byte body")
        return buf[pos : pos + want]
    return buf[pos : pos + limit]


def parse_response(buf: bytes, url: str, *, limit: int) -> HttpResponse:
    """The final response in `buf` (everything the server sent, or up to a cap): informational
    (1xx) responses skipped, the body capped at `limit` bytes. Only the status line and the
    framing headers are parsed here (every probe's response); the others when asked."""
    pos = 0
    while True:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0 or end - pos > _HEADER_LIMIT:
            raise _malformed("no end of headers" if end < 0 else "headers too long")
        eol = buf.find(b"\r\n", pos, end)
        line_end = end if eol < 0 else eol
        status_line = buf[pos:line_end].decode("latin-1")
        fields = status_line.split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            raise HttpError(f"malformed HTTP response {status_line!r}")
        status = int(fields[1])
        head = buf[line_end:end]
        pos = end + 4
        if 100 <= status < 200:
            continue  # informational: the real response follows
        body = _body(buf, pos, _framing(head), limit)
        return HttpResponse(status=status, head=head.decode("latin-1"), body=body, url=url)


class _PlainExchange:
    """Sends a request to an IP over plain TCP and reads the response, driven by the loop's
    reader (and, only when needed, writer) callbacks on a non-blocking socket: `done` gets
    the bytes read until the response is whole, the server closes, or `cap` bytes.

    A readiness probe a second for 50 pods must cost the supervisor little: this is one
    future per request, where a stream transport (open_connection) costs about twice the CPU
    of the loop's sock_* coroutines, and those a future and a task step for each of connect,
    send and every receive. The request is sent right after connect(): to a pod on the
    node's bridge the handshake is over before connect() returns (the pod's SYN-ACK is
    handled in the same system call), so waiting for writability would cost an epoll
    registration, a loop callback and a getsockopt per probe for nothing; a socket not
    connected yet says EAGAIN and is then sent to once writable. Cancelling `done` (a
    probe's timeout) closes the socket."""

    __slots__ = (
        "_addr",
        "_buf",
        "_cap",
        "_fd",
        "_loop",
        "_out",
        "_reading",
        "_sent",
        "_sock",
        "_writing",
        "done",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, request: bytes, cap: int
    ) -> None:
        self._loop = loop
        self._addr = (host, port)
        self._out = request
        self._buf = bytearray()
        self._cap = cap
        self._reading = self._writing = self._sent = False
        self.done: asyncio.Future[bytes] = loop.create_future()
        self.done.add_done_callback(self._close)
        self._sock = socket.socket(  # non-blocking from the start: no ioctl
            socket.AF_INET6 if ":" in host else socket.AF_INET,
            socket.SOCK_STREAM | socket.SOCK_NONBLOCK,
        )
        self._fd = self._sock.fileno()
        code = self._sock.connect_ex(self._addr)  # an errno, not an exception to build
        if code in (0, errno.EINPROGRESS):
            self._send()
        else:
            self._dial_failed(OSError(code, os.strerror(code)))

    def _dial_failed(self, err: OSError) -> None:
        self.done.set_exception(HttpError(_dial_error(self._addr[0], self._addr[1], err)))

    def _failed(self, err: OSError) -> None:
        failure = HttpError(str(err) or type(err).__name__)
        failure.__cause__ = err
        self.done.set_exception(failure)

    def expire(self) -> None:
        """The request's deadline passed: `done` raises TimeoutError."""
        if not self.done.done():
            self.done.set_exception(TimeoutError())

    def _send(self) -> None:
        if self.done.done():
            return
        try:
            sent = self._sock.send(self._out)
        except BlockingIOError:  # not connected yet (or a full buffer): once writable
            sent = 0
        except OSError as err:
            if self._sent:
                self._failed(err)
            else:  # nothing went through: the connect failed (refused, unreachable)
                self._dial_failed(err)
            return
        if sent:
            self._sent = True
            self._out = self._out[sent:]
        if self._out:  # the rest once the socket takes more
            if not self._writing:
                self._loop.add_writer(self._fd, self._send)
                self._writing = True
            return
        self._loop.add_reader(self._fd, self._receive)  # before remove_writer: one epoll MOD
        self._reading = True
        if self._writing:
            self._loop.remove_writer(self._fd)
            self._writing = False

    def _receive(self) -> None:
        if self.done.done():
            return
        try:
            chunk = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self._failed(err)
            return
        if chunk:
            self._buf += chunk
            if len(self._buf) < self._cap and not _response_complete(self._buf):
                return
        self.done.set_result(bytes(self._buf))

    def _close(self, _done: object) -> None:
        if self._writing:
            self._loop.remove_writer(self._fd)
        if self._reading:
            self._loop.remove_reader(self._fd)
        self._sock.close()


async def _read_all(reader: asyncio.StreamReader, *, cap: int) -> bytes:
    """What a stream gives until the response is whole, the server closes, or `cap` bytes."""
    buf = bytearray()
    while len(buf) < cap and (chunk := await reader.read(65536)):
        buf += chunk
        if _response_complete(buf):
            break
    return bytes(buf)


@functools.lru_cache(maxsize=4096)
def _request(url: str, headers: tuple[tuple[str, str], ...]) -> tuple[str, int, bool, bytes]:
    """(host, port, https, request bytes) of a GET; cached, as a probe repeats one request."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    given = {k.lower() for k, _ in headers}
    lines = [f"GET {target} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {parts.netloc}")
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("Connection: close")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    https = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if https else 80), https, request


@functools.lru_cache(maxsize=4096)
def _is_plain_ip(host: str, https: bool) -> bool:
    return not https and _is_ip(host)


async def _get_once(
    url: str, headers: Sequence[tuple[str, str]], *, limit: int, deadline: float | None
) -> HttpResponse:
    """One request: HttpError when no response came back, TimeoutError at `deadline` (the
    loop's clock; None: none)."""
    host, port, https, request = _request(url, tuple(headers))
    cap = _HEADER_LIMIT + 2 * limit
    if _is_plain_ip(host, https):
        loop = asyncio.get_running_loop()
        try:
            exchange = _PlainExchange(loop, host, port, request, cap)
        except OSError as err:  # no socket (out of descriptors)
            raise HttpError(str(err) or type(err).__name__) from err
        if deadline is not None:  # one timer for the probes due in the same 50 ms step
            steptimers.of(loop).call_at(deadline, exchange.expire)
        buf = await exchange.done
    else:
        async with asyncio.timeout_at(deadline):
            buf = await _get_stream(host, port, https, request, cap)
    return parse_response(buf, url, limit=limit)


async def _get_stream(host: str, port: int, https: bool, request: bytes, cap: int) -> bytes:
    """A request over a stream transport (TLS, or a host name to resolve)."""
    tls = _insecure_tls() if https else None
    try:
        reader, writer = await asyncio.open_connection(
            host,
            port,
            ssl=tls,
            server_hostname=(None if _is_ip(host) else host) if tls else None,
            limit=_HEADER_LIMIT,
        )
    except (OSError, ssl.SSLError) as err:
        raise HttpError(_dial_error(host, port, err)) from err
    try:
        writer.write(request)
        return await _read_all(reader, cap=cap)
    except (OSError, ssl.SSLError) as err:
        raise HttpError(str(err) or type(err).__name__) from err
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def http_get(
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    limit: int = probes.MAX_OUTPUT,
    deadline: float | None = None,
) -> HttpResponse:
    """GET `url`, following redirects as the kubelet does (probe.RedirectChecker(false)):
    to the same host name only, at most MAX_REDIRECTS; a redirect to another host returns
    the redirect response itself. Raises HttpError when no response came back, TimeoutError
    when `deadline` (the loop's clock) passed first."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            resp = await _get_once(current, headers, limit=limit, deadline=deadline)
        except HttpError as err:
            raise HttpError(f'Get "{current}": {err}') from err
        if resp.status not in _REDIRECTS:
            return resp
        location = resp.header("Location")
        if not location:
            return resp
        following = urljoin(current, location)
        if urlsplit(following).hostname != urlsplit(url).hostname:
            return resp
        current = following
    raise HttpError(f'Get "{current}": stopped after {MAX_REDIRECTS} redirects')


async def http_probe(url: str, headers: Sequence[tuple[str, str]], *, timeout: float) -> Outcome:
    """pkg/probe/http's DoHTTPProbe: 2xx success, 3xx (a redirect not followed) a warning,
    anything else or no answer a failure."""
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        resp = await http_get(url, headers, deadline=deadline)
    except HttpError as err:
        return Outcome(Result.FAILURE, str(err))
    except TimeoutError:
        return Outcome(
            Result.FAILURE,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
            "headers)",
        )
    body = resp.body.decode("utf-8", "replace")
    if 200 <= resp.status < 400:
        if resp.status >= 300:
            return Outcome(Result.WARNING, f"Probe terminated redirects, Response body: {body}")
        return Outcome(Result.SUCCESS, body)
    return Outcome(Result.FAILURE, f"HTTP probe failed with statuscode: {resp.status}")


# --- grpc ------------------------------------------------------------------------------------

_GRPC_CODES = (
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
)
_SERVING_STATUS = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode_health_request(service: str) -> bytes:
    """A length-prefixed grpc.health.v1.HealthCheckRequest{service}."""
    raw = service.encode()
    msg = b"\x0a" + _varint(len(raw)) + raw if raw else b""
    return b"\x00" + len(msg).to_bytes(4, "big") + msg


def _read_varint(msg: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = msg[i]  # IndexError on a truncated message
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def decode_health_status(frame: bytes) -> int:
    """The `status` (field 1, varint) of a length-prefixed HealthCheckResponse; 0 if absent."""
    if len(frame) < 5 or frame[0] != 0:
        raise ValueError("not an uncompressed gRPC message")
    msg = frame[5 : 5 + int.from_bytes(frame[1:5], "big")]
    i = 0
    while i < len(msg):
        key, i = _read_varint(msg, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(msg, i)
            if field == 1:
                return value
        elif wire == 2:
            length, i = _read_varint(msg, i)
            i += length
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return 0


async def _grpc_check(host: str, port: int, service: str, *, user_agent: str) -> Outcome:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions

    addr = _go_addr(host, port)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as err:
        return Outcome(
            Result.FAILURE,
            f'error: failed to connect service at "{addr}": {_dial_error(host, port, err)}',
        )
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    try:
        conn.initiate_connection()
        stream = conn.get_next_available_stream_id()
        conn.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/grpc.health.v1.Health/Check"),
                (":authority", addr),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("user-agent", user_agent),
            ],
        )
        conn.send_data(stream, encode_health_request(service), end_stream=True)
        writer.write(conn.data_to_send())
        meta: dict[str, str] = {}
        data = bytearray()
        ended = False
        while not ended:
            chunk = await reader.read(65536)
            if not chunk:
                break
            for event in conn.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    meta.update((str(k), str(v)) for k, v in event.headers or ())
                elif isinstance(event, h2.events.DataReceived):
                    data += event.data or b""
                    conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(
                    event,
                    h2.events.StreamEnded | h2.events.StreamReset | h2.events.ConnectionTerminated,
                ):
                    ended = True
            writer.write(conn.data_to_send())
    except (OSError, h2.exceptions.H2Error) as err:
        return Outcome(Result.FAILURE, f"error: health rpc probe failed: {err}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if meta.get(":status") not in (None, "200"):
        return Outcome(
            Result.FAILURE,
            f"error: health rpc probe failed: unexpected HTTP status {meta.get(':status')}",
        )
    if "grpc-status" not in meta:
        return Outcome(Result.FAILURE, "error: health rpc probe failed: no grpc-status")
    code = int(meta["grpc-status"])
    message = unquote(meta.get("grpc-message", ""))  # percent-encoded on the wire
    if code == 12:
        return Outcome(
            Result.FAILURE,
            "this server does not implement the grpc health protocol "
            f"(grpc.health.v1.Health): {message}",
        )
    if code != 0:
        name = _GRPC_CODES[code] if code < len(_GRPC_CODES) else f"Code({code})"
        return Outcome(
            Result.FAILURE,
            f"error: health rpc probe failed: rpc error: code = {name} desc = {message}",
        )
    try:
        status = decode_health_status(bytes(data))
    except (ValueError, IndexError) as err:
        return Outcome(Result.FAILURE, f"error: health rpc probe failed: {err}")
    if status != 1:
        name = _SERVING_STATUS[status] if status < len(_SERVING_STATUS) else str(status)
        return Outcome(Result.FAILURE, f'service unhealthy (responded with "{name}")')
    return Outcome(Result.SUCCESS, "service healthy")


async def grpc_probe(
    host: str, port: int, service: str, *, timeout: float, user_agent: str
) -> Outcome:
    """pkg/probe/grpc: the standard health check; SERVING is success."""
    try:
        async with asyncio.timeout(timeout):
            return await _grpc_check(host, port, service, user_agent=user_agent)
    except TimeoutError:
        return Outcome(Result.FAILURE, f"timeout: health rpc did not complete within {timeout:g}s")


# --- exec ------------------------------------------------------------------------------------


async def exec_probe(
    runtime: Runtime, container_id: str, command: Sequence[str], *, timeout: float
) -> Outcome:
    """pkg/probe/exec: exit code 0 is success; the output is stdout and stderr together."""
    from kubeplay.errors import KubeplayError

    try:
        code, output = await runtime.exec_output(
            container_id, command, timeout=timeout, limit=probes.MAX_OUTPUT
        )
    except TimeoutError:
        return Outcome(Result.FAILURE, f'command "{" ".join(command)}" timed out')
    except (OSError, KubeplayError) as err:
        return Outcome(Result.UNKNOWN, str(err))
    text = output.decode("utf-8", "replace")
    return Outcome(Result.SUCCESS if code == 0 else Result.FAILURE, text)


# --- dispatch --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _http_target(
    handler: probes.HTTPGetAction, pod_ip: str, agent: str
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """URL and headers of an httpGet handler against `pod_ip`; cached, as a probe repeats."""
    url = build_url(handler.scheme, handler.host or pod_ip, handler.port, handler.path)
    return url, tuple(request_headers(handler.headers, user_agent=agent))


class Handlers(Protocol):
    """Runs one probe handler; the Prober's port to the world (fakes in tests)."""

    async def run(
        self, handler: probes.Handler, *, pod_ip: str, container_id: str, timeout: float
    ) -> Outcome: ...


@dataclass
class HostHandlers:
    """The real handlers: network probes from the host, exec through the runtime."""

    runtime: Runtime | None = None  # None: exec probes report an error (tests, no runtime)

    async def run(
        self, handler: probes.Handler, *, pod_ip: str, container_id: str, timeout: float
    ) -> Outcome:
        agent = f"kube-probe/{kube_version()}"
        match handler:
            case probes.HTTPGetAction():
                if handler.port_name and not handler.port:
                    return Outcome(Result.UNKNOWN, f"port {handler.port_name} not found")
                url, headers = _http_target(handler, pod_ip, agent)
                return await http_probe(url, headers, timeout=timeout)
            case probes.TCPSocketAction():
                if handler.port_name and not handler.port:
                    return Outcome(Result.UNKNOWN, f"port {handler.port_name} not found")
                return await tcp_probe(handler.host or pod_ip, handler.port, timeout=timeout)
            case probes.GRPCAction():
                return await grpc_probe(
                    pod_ip, handler.port, handler.service, timeout=timeout, user_agent=agent
                )
            case probes.ExecAction():
                if self.runtime is None:
                    return Outcome(Result.UNKNOWN, "no container runtime for exec probes")
                return await exec_probe(
                    self.runtime, container_id, handler.command, timeout=timeout
                )
            case probes.SleepAction():
                return Outcome(Result.UNKNOWN, "sleep is not a probe handler")
