"""The host's own IPv4 address (a pod's status.hostIP), read from the kernel, not from DNS.

The interface of the IPv4 default route (/proc/net/route) and its first address
(SIOCGIFADDR); 127.0.0.1 on a host without a default route.

The socket for the ioctl comes from `_socket`, the C module under `socket`: `get pods` asks
this for every listing, and `socket` itself (its enums, selectors, array) would cost it ~3 ms
of imports for one datagram socket and `inet_ntoa`.
"""

from __future__ import annotations

import _socket
import fcntl
import struct
from pathlib import Path

_SIOCGIFADDR = 0x8915


def default_route_interface(route_table: str) -> str | None:
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return fields[0]
    return None


def host_ip() -> str:
    try:
        iface = default_route_interface(Path("/proc/net/route").read_text())
    except OSError:
        iface = None
    if not iface:
        return "127.0.0.1"
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        raw = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", iface.encode()[:15]))
    except OSError:
        return "127.0.0.1"
    finally:
        sock.close()
    return _socket.inet_ntoa(raw[20:24])
