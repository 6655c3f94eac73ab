"""port_in_use: host sockets from /proc/net, real ones and hand-written tables."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kubeplay.net import ports

from .conftest import free_port


@pytest.mark.parametrize(
    ("bind_ip", "ask_ip", "expected"),
    [
        pytest.param("127.0.0.1", "127.0.0.1", True, id="same-hostIP"),
        pytest.param("127.0.0.1", "", True, id="any-hostIP-conflicts"),
        pytest.param("127.0.0.1", "127.0.0.2", False, id="other-hostIP-free"),
        pytest.param("0.0.0.0", "127.0.0.2", True, id="wildcard-socket-conflicts"),
    ],
)
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_port_in_use_real_socket(proto: str, bind_ip: str, ask_ip: str, expected: bool) -> None:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    port = free_port(proto)
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((bind_ip, port))
        if proto == "tcp":
            sock.listen(1)
        assert ports.port_in_use(ask_ip, port, proto.upper()) is expected
    assert not ports.port_in_use(ask_ip, port, proto.upper())


def test_connected_tcp_socket_is_not_a_listener() -> None:
    port = free_port("tcp")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # bound, not listening
        assert not ports.port_in_use("127.0.0.1", port, "TCP")


def test_ipv6_wildcard_and_mapped_addresses(tmp_path: Path) -> None:
    head = "  sl  local_address rem_address   st\n"
    (tmp_path / "tcp").write_text(head)
    (tmp_path / "tcp6").write_text(
        head
        + "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A\n"
        + "   1: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A\n"
    )
    assert ports.port_in_use("192.0.2.9", 8080, "TCP", proc_net=tmp_path)
    assert ports.port_in_use("127.0.0.1", 8081, "TCP", proc_net=tmp_path)
    assert not ports.port_in_use("127.0.0.2", 8081, "TCP", proc_net=tmp_path)
    assert not ports.port_in_use("", 8082, "TCP", proc_net=tmp_path)


def test_sctp_is_not_checked() -> None:
    assert ports.port_in_use("", 9, "SCTP") is False
