"""The exception tree of kubeplay. The CLI maps each branch to an exit code.

KubeplayError
  ManifestError(source, doc_index, kind, name, path, line)   user input; exit code 2
  UsageError                                                   bad CLI use; exit code 2
  NotFoundError                                                no such pod/image/...; exit 1
  AlreadyExistsError                                           exit 1
  HostError                                                    host lacks root/runc/...; exit 1
  StateError                                                   the store refuses; exit 1
    SchemaVersionError                                         state.db newer than this code
  ImageError                                                   image store / transport failed
  RuntimeCommandError(argv, returncode, stderr)                runc/crun/conmon failed
  NetworkError(errno)                                          netlink/nft/dnsmasq failed
  SyncError(step)                                              a pod sync step failed (play)
  TemporaryError(delay)                                        a controller's sync: retry later
  PermanentError                                               a controller's sync: give up

Messages read "object: what failed: why". Always `raise ... from err`; callers branch on
type or errno, never on text.
"""

from __future__ import annotations


class KubeplayError(Exception):
    """Root of every error kubeplay raises on purpose."""

    exit_code = 1


class ManifestError(KubeplayError):
    """Invalid user input in a manifest: names file, document, object, field and line."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        doc_index: int | None = None,
        kind: str = "",
        name: str = "",
        path: str = "",
        line: int | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.doc_index = doc_index
        self.kind = kind
        self.name = name
        self.path = path
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where: list[str] = []
        if self.source:
            where.append(self.source + (f":{self.line}" if self.line else ""))
        if self.doc_index is not None:
            # A name with a NUL or newline (refused, but named in the error) is shown escaped.
            name = self.name if self.name.isprintable() else repr(self.name)[1:-1]
            obj = f" ({self.kind} {name})" if self.kind or name else ""
            where.append(f"document {self.doc_index}{obj}")
        field = f"{self.path}: " if self.path else ""
        prefix = ": ".join(where)
        return f"{prefix}: {field}{self.message}" if prefix else f"{field}{self.message}"


class UsageError(KubeplayError):
    exit_code = 2


class NotFoundError(KubeplayError):
    pass


class AlreadyExistsError(KubeplayError):
    pass


class HostError(KubeplayError):
    """The host lacks something kubeplay needs (root, a runtime, conmon, overlayfs...)."""


class StateError(KubeplayError):
    pass


class SchemaVersionError(StateError):
    pass


class ImageError(KubeplayError):
    pass


class RuntimeCommandError(KubeplayError):
    """An OCI runtime or conmon command failed."""

    def __init__(self, argv: list[str], returncode: int, stderr: str, *, what: str = "") -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        last = next((ln for ln in reversed(stderr.strip().splitlines()) if ln.strip()), "")
        label = what or (argv[0].rsplit("/", 1)[-1] if argv else "command")
        super().__init__(f"{label} failed (exit {returncode}): {last}")


class NetworkError(KubeplayError):
    def __init__(self, message: str, *, errno: int | None = None) -> None:
        self.errno = errno
        super().__init__(message)


class SyncError(KubeplayError):
    """A step of bringing a pod up failed; `step` names it (image, network, infra, ...)."""

    def __init__(self, message: str, *, step: str) -> None:
        self.step = step
        super().__init__(message)


class TemporaryError(KubeplayError):
    """A controller's sync cannot go on yet (an object it needs is missing, a lock is
    taken): the loop syncs the key again after `delay` seconds, without error back-off."""

    def __init__(self, message: str, *, delay: float) -> None:
        self.delay = delay
        super().__init__(message)


class PermanentError(KubeplayError):
    """A controller's sync can never succeed as the object stands: the loop records it (an
    event) and does not retry until the object or a trigger says otherwise."""
