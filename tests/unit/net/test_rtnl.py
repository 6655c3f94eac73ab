"""The rtnetlink messages net/rtnl.py packs, byte for byte where the kernel is strict.

The kernel side (bridge, veth into a namespace, addresses, routes, hairpin) is exercised for
real by tests/integration/net (root).
"""

from __future__ import annotations

import socket
import struct

import pytest

from kubeplay.net import rtnl


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(b"", b"\x04\x00\x03\x00", id="empty-payload-is-header-only"),
        pytest.param(b"ab", b"\x06\x00\x03\x00ab\x00\x00", id="length-excludes-padding"),
        pytest.param(b"abcd", b"\x08\x00\x03\x00abcd", id="aligned-payload-not-padded"),
    ],
)
def test_attr_is_length_type_payload_padded_to_four(payload: bytes, expected: bytes) -> None:
    assert rtnl.attr(3, payload) == expected


def test_string_attr_is_nul_terminated() -> None:
    assert rtnl.string(rtnl.IFLA_IFNAME, "eth0") == b"\x09\x00\x03\x00eth0\x00\x00\x00\x00"


def test_nested_attr_sets_nla_f_nested() -> None:
    inner = rtnl.attr(rtnl.IFLA_BRPORT_MODE, b"\x01")
    (length, kind) = struct.unpack_from("=HH", rtnl.nested(rtnl.IFLA_PROTINFO, [inner]))
    assert kind == rtnl.IFLA_PROTINFO | rtnl.NLA_F_NESTED
    assert length == 4 + len(inner)


@pytest.mark.parametrize(
    ("up", "flags", "change"),
    [
        pytest.param(True, rtnl.IFF_UP, rtnl.IFF_UP, id="up-sets-and-changes-iff-up"),
        pytest.param(False, 0, 0, id="no-state-changes-no-flag"),
    ],
)
def test_ifinfomsg_changes_only_the_up_flag(up: bool, flags: int, change: int) -> None:
    family, _type, index, got_flags, got_change = struct.unpack(
        "=BxHiII", rtnl.ifinfomsg(index=7, family=socket.AF_BRIDGE, up=up)
    )
    assert (family, index, got_flags, got_change) == (socket.AF_BRIDGE, 7, flags, change)


def test_netlink_error_keeps_errno_as_code() -> None:
    err = rtnl.NetlinkError(17)
    assert err.code == 17
    assert "File exists" in str(err)
