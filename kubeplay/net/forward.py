"""TCP port forwarding from a host address into a pod's network namespace (port-forward).

Each accepted connection gets a socket made inside the pod's netns (the thread enters it with
setns(2), makes the socket, and comes back: a socket belongs to the netns it was made in), so
the pod's `127.0.0.1:PORT` is reached as kubectl's port-forward reaches it, also for servers
bound to loopback only. Bytes are relayed both ways until either side closes. Runs until
`stop` is set. Decides nothing: the caller says where to listen and which netns and port.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from kubeplay import log
from kubeplay.errors import NetworkError

_log = log.get_logger(__name__)
CLONE_NEWNET = 0x40000000
_BUFFER = 65536


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def connect_in(netns: Path, port: int, *, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:`port` inside the netns pinned at `netns`."""
    own = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)
    sock.settimeout(timeout)
    try:
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


def _relay(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    sel = selectors.DefaultSelector()
    peers = {a: b, b: a}
    for s in peers:
        sel.register(s, selectors.EVENT_READ)
    try:
        while peers and not stop.is_set():
            for key, _ in sel.select(timeout=0.5):
                src = key.fileobj
                assert isinstance(src, socket.socket)
                try:
                    data = src.recv(_BUFFER)
                except OSError:
                    data = b""
                dst = peers.get(src)
                if dst is None:
                    continue
                if not data:  # half-close: pass the EOF on, stop reading this side
                    sel.unregister(src)
                    del peers[src]
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    continue
                with contextlib.suppress(OSError):
                    dst.sendall(data)
    finally:
        sel.close()
        a.close()
        b.close()


def listen(address: str, port: int) -> socket.socket:
    """A listening TCP socket on `address`:`port` (0: a free one)."""
    try:
        sock = socket.create_server((address, port), reuse_port=False)
    except OSError as err:
        raise NetworkError(
            f"port-forward: listen on {address}:{port}: {err}", errno=err.errno
        ) from err
    return sock


def serve(
    server: socket.socket,
    connect: Callable[[], socket.socket],
    stop: threading.Event,
) -> None:
    """Accept on `server` until `stop`; each connection is relayed to `connect()`'s socket."""
    server.settimeout(0.5)
    while not stop.is_set():
        try:
            client, _ = server.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        try:
            upstream = connect()
        except OSError as err:
            _log.warning("port_forward_connect_failed", error=str(err))
            client.close()
            continue
        threading.Thread(target=_relay, args=(client, upstream, stop), daemon=True).start()
    server.close()
