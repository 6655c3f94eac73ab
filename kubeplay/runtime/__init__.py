"""The runtime adapter: OCI runtime (runc/crun) plus one conmon per container.

The engine is the only caller. This package runs commands and reports what happened (pids,
states, exit codes); it decides nothing. `detect` picks the runtime binary, `conmon` builds
conmon's command line and reads its sync pipe, `exits` reads conmon's exit files, and `oci`
holds `Runtime`, the class the engine drives.

Names are resolved lazily (PEP 562), so importing `kubeplay.runtime.exits` alone, as
`get pods` does, does not import the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubeplay.runtime.conmon import conmon_argv
    from kubeplay.runtime.detect import detect_runtime
    from kubeplay.runtime.exits import ContainerExit
    from kubeplay.runtime.oci import OciState, Runtime

__all__ = ["ContainerExit", "OciState", "Runtime", "conmon_argv", "detect_runtime"]
_HOMES = {
    "conmon_argv": "conmon",
    "detect_runtime": "detect",
    "ContainerExit": "exits",
    "OciState": "oci",
    "Runtime": "oci",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"kubeplay.runtime.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'kubeplay.runtime' has no attribute {name!r}")
