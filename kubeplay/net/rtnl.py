"""A minimal rtnetlink client: the few requests kubeplay's links need, packed with struct.

Each request is one message with NLM_F_ACK, answered by the kernel with an NLMSG_ERROR whose
code is 0 or a negative errno; a failure raises NetlinkError with the errno in `code` (the
interface pyroute2's NetlinkError had). The socket is made in the calling thread, so a thread
that has entered a network namespace talks to that namespace. Importing this costs
nothing beyond the standard library (pyroute2's package imports all of its modules, about
0.15 s of CPU per command that attaches a pod).

Message layouts are those of <linux/netlink.h>, <linux/rtnetlink.h> and <linux/if_link.h>.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterable

NETLINK_ROUTE = 0

# nlmsghdr types and flags
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_SETLINK = 19
RTM_NEWADDR = 20
RTM_NEWROUTE = 24

# attributes
NLA_F_NESTED = 0x8000
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_PROTINFO = 12
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
VETH_INFO_PEER = 1
IFLA_BRPORT_MODE = 4
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PREFSRC = 7

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
# family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTMSG = struct.Struct("=BBBBBBBBI")
_NLMSGERR = struct.Struct("=i")


class NetlinkError(Exception):
    """The kernel refused a request; `code` is the errno."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        super().__init__(code, message or os.strerror(code))


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr (length, type, payload), padded to 4 bytes."""
    return _pad(struct.pack("=HH", 4 + len(payload), kind) + payload)


def nested(kind: int, attrs: Iterable[bytes]) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(attrs))


def u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def ipv4(kind: int, address: str) -> bytes:
    return attr(kind, socket.inet_aton(address))


def ifinfomsg(*, index: int = 0, family: int = socket.AF_UNSPEC, up: bool = False) -> bytes:
    flags = IFF_UP if up else 0
    return _IFINFOMSG.pack(family, 0, index, flags, flags)


class Socket:
    """One NETLINK_ROUTE socket in the calling thread's network namespace."""

    def __init__(self) -> None:
        self._sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
        )
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        """Send one request and wait for its acknowledgement; NetlinkError when refused."""
        self._seq += 1
        seq = self._seq
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0
        )
        self._sock.send(header + body)
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, mtype, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    break
                if mtype == NLMSG_ERROR and mseq == seq:
                    (code,) = _NLMSGERR.unpack_from(data, offset + _NLMSGHDR.size)
                    if code:
                        raise NetlinkError(-code)
                    return
                offset += (length + 3) & ~3

    # The requests links.py makes, each as `ip` would send it.

    def add_bridge(self, name: str) -> None:
        """`ip link add NAME type bridge` (EEXIST when it exists)."""
        body = ifinfomsg() + string(IFLA_IFNAME, name)
        body += nested(IFLA_LINKINFO, [string(IFLA_INFO_KIND, "bridge")])
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_veth(self, name: str, *, mtu: int, master: int, peer: str, peer_netns_fd: int) -> None:
        """`ip link add NAME mtu MTU master MASTER up type veth peer PEER netns FD mtu MTU`."""
        peer_info = ifinfomsg() + string(IFLA_IFNAME, peer)
        peer_info += u32(IFLA_NET_NS_FD, peer_netns_fd) + u32(IFLA_MTU, mtu)
        linkinfo = nested(
            IFLA_LINKINFO,
            [
                string(IFLA_INFO_KIND, "veth"),
                nested(IFLA_INFO_DATA, [attr(VETH_INFO_PEER, peer_info)]),
            ],
        )
        body = ifinfomsg(up=True) + string(IFLA_IFNAME, name) + u32(IFLA_MTU, mtu)
        body += u32(IFLA_MASTER, master) + linkinfo
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_link(self, index: int, *, mtu: int | None = None, up: bool = False) -> None:
        """`ip link set dev INDEX [mtu MTU] [up]`."""
        body = ifinfomsg(index=index, up=up)
        if mtu is not None:
            body += u32(IFLA_MTU, mtu)
        self.request(RTM_NEWLINK, 0, body)

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, 0, ifinfomsg(index=index))

    def set_hairpin(self, index: int) -> None:
        """`bridge link set dev INDEX hairpin on` (IFLA_BRPORT_MODE in a nested
        IFLA_PROTINFO: without NLA_F_NESTED the kernel reads it as the port state)."""
        body = ifinfomsg(index=index, family=socket.AF_BRIDGE)
        body += nested(IFLA_PROTINFO, [attr(IFLA_BRPORT_MODE, b"\x01")])
        self.request(RTM_SETLINK, 0, body)

    def add_address(self, index: int, address: str, prefixlen: int) -> None:
        """`ip addr add ADDRESS/PREFIXLEN dev INDEX` (IPv4; EEXIST when present)."""
        body = _IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += ipv4(IFA_LOCAL, address) + ipv4(IFA_ADDRESS, address)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_route(
        self,
        *,
        dst: str,
        dst_len: int,
        oif: int,
        gateway: str | None = None,
        prefsrc: str | None = None,
        scope: int = RT_SCOPE_UNIVERSE,
        replace: bool = False,
    ) -> None:
        """`ip route add|replace DST/DST_LEN [via GATEWAY] dev OIF [src PREFSRC] [scope]`
        in the main table (IPv4)."""
        body = _RTMSG.pack(
            socket.AF_INET, dst_len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, scope, RTN_UNICAST, 0
        )
        if dst_len:
            body += ipv4(RTA_DST, dst)
        body += u32(RTA_OIF, oif)
        if gateway is not None:
            body += ipv4(RTA_GATEWAY, gateway)
        if prefsrc is not None:
            body += ipv4(RTA_PREFSRC, prefsrc)
        flags = NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
        self.request(RTM_NEWROUTE, flags, body)
