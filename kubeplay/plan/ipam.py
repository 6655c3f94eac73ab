"""Pod IP allocation in the bridge subnet: pure, so the store decides what is "used".

The engine passes the addresses its store already leases; `allocate` returns the lowest free
host address. The network address, the broadcast address and the gateway (by default the first
host, the bridge's own address) are never handed out. The caller writes the lease in the same
transaction that read `used`, so an address is never given twice; releasing is deleting the
lease. No I/O, no clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from kubeplay.errors import NetworkError


def _network(subnet: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(subnet, strict=True)
    except ValueError as err:
        raise NetworkError(f"subnet {subnet}: not a network address: {err}") from err


def gateway_of(subnet: str) -> str:
    """The first host address of `subnet`: the bridge's address, the pods' default route."""
    net = _network(subnet)
    if net.num_addresses < 4:
        raise NetworkError(f"subnet {subnet}: too small for a gateway and pods")
    return str(net.network_address + 1)


def allocate(subnet: str, *, used: Collection[str], gateway: str | None = None) -> str:
    """The lowest host address of `subnet` that is neither `used` nor the gateway."""
    net = _network(subnet)
    gw = ipaddress.ip_address(gateway if gateway is not None else gateway_of(subnet))
    taken = {ipaddress.ip_address(ip.split("/", 1)[0]) for ip in used}
    taken.add(gw)
    for host in net.hosts():
        if host not in taken:
            return str(host)
    raise NetworkError(f"subnet {subnet} exhausted: {len(taken)} addresses in use")
