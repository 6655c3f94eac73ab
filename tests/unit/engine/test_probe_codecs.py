"""The probe handlers' pure parts: request headers and URLs as the kubelet builds them
(pkg/probe/http/request.go), and the grpc.health.v1 messages (health.proto)."""

from __future__ import annotations

import pytest

from kubeplay.engine import probes


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            [], [("User-Agent", "kube-probe/1.30"), ("Accept", "*/*")], id="kubelet-defaults"
        ),
        pytest.param(
            [("user-agent", "mine")],
            [("user-agent", "mine"), ("Accept", "*/*")],
            id="user-agent-overridden-case-insensitively",
        ),
        pytest.param(
            [("Accept", "")], [("User-Agent", "kube-probe/1.30")], id="empty-accept-removed"
        ),
        pytest.param(
            [("Accept", "application/json"), ("X-A", "1")],
            [("Accept", "application/json"), ("X-A", "1"), ("User-Agent", "kube-probe/1.30")],
            id="http-headers-kept-in-order",
        ),
    ],
)
def test_request_headers(given: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    assert probes.request_headers(given, user_agent="kube-probe/1.30") == expected


@pytest.mark.parametrize(
    ("args", "url"),
    [
        pytest.param(("HTTP", "10.0.0.5", 80, "/healthz"), "http://10.0.0.5:80/healthz", id="ipv4"),
        pytest.param(("HTTPS", "fd00::5", 443, "/"), "https://[fd00::5]:443/", id="ipv6-https"),
    ],
)
def test_build_url(args: tuple[str, str, int, str], url: str) -> None:
    assert probes.build_url(*args) == url


@pytest.mark.parametrize(
    ("service", "frame"),
    [
        pytest.param("", b"\x00\x00\x00\x00\x00", id="empty-service-empty-message"),
        pytest.param("db", b"\x00\x00\x00\x00\x04\x0a\x02db", id="service-field-1"),
        pytest.param("s" * 200, b"\x00\x00\x00\x00\xcb\x0a\xc8\x01" + b"s" * 200, id="varint-len"),
    ],
)
def test_encode_health_request(service: str, frame: bytes) -> None:
    assert probes.encode_health_request(service) == frame


@pytest.mark.parametrize(
    ("frame", "status"),
    [
        pytest.param(b"\x00\x00\x00\x00\x02\x08\x01", 1, id="serving"),
        pytest.param(b"\x00\x00\x00\x00\x02\x08\x02", 2, id="not-serving"),
        pytest.param(b"\x00\x00\x00\x00\x00", 0, id="default-unknown"),
        pytest.param(b"\x00\x00\x00\x00\x07\x12\x03abc\x08\x03", 3, id="unknown-fields-skipped"),
    ],
)
def test_decode_health_status(frame: bytes, status: int) -> None:
    assert probes.decode_health_status(frame) == status


def test_decode_health_status_rejects_compressed_messages() -> None:
    with pytest.raises(ValueError, match="uncompressed"):
        probes.decode_health_status(b"\x01\x00\x00\x00\x00")


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True, id="length-reached"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok", False, id="length-short"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Le", False, id="headers-unfinished"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            True,
            id="last-chunk",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
            False,
            id="chunks-pending",
        ),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n", False, id="informational-waits"),
        pytest.param(
            b"HTTP/1.0 200 OK\r\n\r\nbody until close", False, id="no-length-reads-to-eof"
        ),
    ],
)
def test_plain_http_response_is_complete(data: bytes, complete: bool) -> None:
    assert probes._response_complete(data) is complete


@pytest.mark.parametrize(
    ("data", "status", "body"),
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", id="length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200, b"ok", id="length-bounds"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
            200,
            b"hello",
            id="chunked",
        ),
        pytest.param(b"HTTP/1.0 503 Busy\r\n\r\nclosed", 503, b"closed", id="to-eof"),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
            204,
            b"",
            id="informational-skipped",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100, 200, b"x" * 8, id="cap"
        ),
    ],
)
def test_parse_response(data: bytes, status: int, body: bytes) -> None:
    got = probes.parse_response(data, "http://10.0.0.1:80/", limit=8)
    assert (got.status, got.body) == (status, body)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "malformed HTTP response: no end of headers", id="nothing"),
        pytest.param(b"SSH-2.0\r\n\r\n", "malformed HTTP response 'SSH-2.0'", id="not-http"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok",
            "malformed HTTP response: 2 bytes of a 5-byte body",
            id="body-short",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "malformed HTTP response: bad chunk size b'zz'",
            id="chunk-size",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok",
            "malformed HTTP response: a 5-byte chunk cut short",
            id="chunk-cut-short",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5",
            "malformed HTTP response: a 5-byte chunk cut short",
            id="chunk-size-line-cut-short",
        ),
    ],
)
def test_parse_response_malformed(data: bytes, message: str) -> None:
    with pytest.raises(probes.HttpError, match="^" + message.replace("(", r"\(")):
        probes.parse_response(data, "http://10.0.0.1:80/", limit=1024)
