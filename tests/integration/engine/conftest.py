"""Fixtures for the engine's root tests: the net adapter's netns/bridge fixtures and the
runtime's container harness, reused as they are (each cleans up and checks for leftovers)."""

from __future__ import annotations

from tests.integration.net.conftest import bridge, net_env
from tests.integration.runtime.conftest import harness, rootfs

__all__ = ["bridge", "harness", "net_env", "rootfs"]
