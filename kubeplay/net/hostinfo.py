"""The host's own IPv4 address (a pod's status.hostIP), read from the kernel, not from DNS.

The interface of the IPv4 default route (/proc/net/route) and its first address
(SIOCGIFADDR); 127.0.0.1 on a host without a default route.
"""

from __future__ import annotations

import fcntl
import socket
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
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            raw = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", iface.encode()[:15]))
        except OSError:
            return "127.0.0.1"
    return socket.inet_ntoa(raw[20:24])
