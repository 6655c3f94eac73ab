"""The terminated state's message, as the kubelet fills it (terminationMessagePolicy).

`File` (the default): the content of the container's terminationMessagePath. With
`FallbackToLogsOnError`, when that file is empty and the container failed (exit code not 0),
the tail of its log: the last 80 lines, at most the last 2048 bytes (kubelet's
kubeletContainerRuntime getTerminationMessage / readLastStringFromContainerLogs). The engine
reads the file and the CRI `k8s-file` log and passes their texts in. Pure: no I/O.
"""

from __future__ import annotations

MAX_LINES = 80
MAX_BYTES = 2048


def log_text(cri_log: str) -> str:
    """The container's output from a CRI log (`<time> <stream> <F|P> <text>` lines; P parts
    are joined with the line that follows)."""
    out: list[str] = []
    for line in cri_log.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        text = parts[3] if len(parts) > 3 else ""
        out.append(text if parts[2] == "P" else text + "\n")
    return "".join(out)


def tail(text: str, *, lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> str:
    """The last `lines` lines of `text`, then at most its last `max_bytes` bytes."""
    kept = "".join(text.splitlines(keepends=True)[-lines:])
    data = kept.encode()
    if len(data) > max_bytes:
        data = data[-max_bytes:]
    return data.decode(errors="replace")


def termination_message(*, policy: str, file_text: str, exit_code: int, cri_log: str) -> str:
    """What the container's terminated state shows as `message`."""
    if file_text or policy != "FallbackToLogsOnError" or exit_code == 0:
        return file_text
    return tail(log_text(cri_log))
