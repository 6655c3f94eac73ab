"""The runtime adapter: OCI runtime (runc/crun) plus one conmon per container.

The engine is the only caller. This package runs commands and reports what happened (pids,
states, exit codes); it decides nothing. `detect` picks the runtime binary, `conmon` builds
conmon's command line and reads its sync pipe, `exits` reads conmon's exit files, and `oci`
holds `Runtime`, the class the engine drives.
"""

from kubeplay.runtime.conmon import conmon_argv
from kubeplay.runtime.detect import detect_runtime
from kubeplay.runtime.exits import ContainerExit
from kubeplay.runtime.oci import OciState, Runtime

__all__ = ["ContainerExit", "OciState", "Runtime", "conmon_argv", "detect_runtime"]
