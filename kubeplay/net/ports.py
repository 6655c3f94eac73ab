"""Is a host port already taken by a process on this host? Read from /proc/net.

Play refuses a hostPort that a host process already listens on, before anything is created
(kubeplay's own pods are checked against the store by the engine). A TCP socket counts when
it is listening; a UDP socket counts when it is bound. A socket on the wildcard address
conflicts with every hostIP, and a hostIP of ""/0.0.0.0 conflicts with every socket on the port.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from pathlib import Path

_TCP_LISTEN = "0A"
_UDP_UNCONN = "07"
_WILDCARDS = {ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::")}

Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


def _decode(hexaddr: str) -> Addr:
    raw = bytes.fromhex(hexaddr)
    # /proc/net prints each 32-bit word in host byte order.
    words = struct.unpack(f"={len(raw) // 4}I", raw)
    packed = struct.pack(f"!{len(words)}I", *words)
    addr = ipaddress.ip_address(
        socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
    )
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _sockets(proto: str, proc_net: Path) -> list[tuple[Addr, int]]:
    state = _TCP_LISTEN if proto == "tcp" else _UDP_UNCONN
    found: list[tuple[Addr, int]] = []
    for name in (proto, proto + "6"):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != state:
                continue
            hexaddr, hexport = fields[1].split(":")
            found.append((_decode(hexaddr), int(hexport, 16)))
    return found


def port_in_use(
    host_ip: str, port: int, protocol: str, *, proc_net: Path = Path("/proc/net")
) -> bool:
    """Whether a host socket already holds `port` for `protocol` (TCP/UDP) on `host_ip`.

    SCTP is not checked (False): /proc/net/sctp exists only with the module loaded.
    """
    proto = protocol.lower()
    if proto not in ("tcp", "udp"):
        return False
    wanted = None if host_ip in ("", "0.0.0.0", "::") else ipaddress.ip_address(host_ip)
    for addr, bound in _sockets(proto, proc_net):
        if bound != port:
            continue
        if wanted is None or addr in _WILDCARDS or addr == wanted:
            return True
    return False
