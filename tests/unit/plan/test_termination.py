"""terminationMessagePolicy: https://kubernetes.io/docs/tasks/debug/debug-application/
determine-reason-pod-failure/#customizing-the-termination-message (File; FallbackToLogsOnError
uses the last 80 lines or 2048 bytes of the log, whichever is smaller, when the file is empty
and the container failed)."""

from __future__ import annotations

import pytest

from kubeplay.plan import termination


def _cri(*lines: str, partial: bool = False) -> str:
    tag = "P" if partial else "F"
    return "".join(f"2024-01-01T00:00:00.000000000Z stdout {tag} {line}\n" for line in lines)


@pytest.mark.parametrize(
    ("policy", "file_text", "exit_code", "log", "expected"),
    [
        pytest.param("File", "bye", 1, _cri("out"), "bye", id="File-uses-the-file"),
        pytest.param("File", "", 1, _cri("out"), "", id="File-empty-stays-empty"),
        pytest.param(
            "FallbackToLogsOnError", "bye", 1, _cri("out"), "bye", id="fallback-file-wins"
        ),
        pytest.param("FallbackToLogsOnError", "", 0, _cri("out"), "", id="fallback-not-on-success"),
        pytest.param(
            "FallbackToLogsOnError", "", 2, _cri("a", "b"), "a\nb\n", id="fallback-log-on-error"
        ),
        pytest.param(
            "FallbackToLogsOnError",
            "",
            2,
            _cri("par", partial=True) + _cri("tial"),
            "partial\n",
            id="fallback-joins-partial-lines",
        ),
        pytest.param(
            "FallbackToLogsOnError",
            "",
            1,
            _cri(*(str(i) for i in range(100))),
            "".join(f"{i}\n" for i in range(20, 100)),
            id="fallback-last-80-lines",
        ),
        pytest.param(
            "FallbackToLogsOnError",
            "",
            1,
            _cri("x" * 3000, "end"),
            ("x" * 3000 + "\nend\n")[-2048:],
            id="fallback-last-2048-bytes",
        ),
    ],
)
def test_termination_message(
    policy: str, file_text: str, exit_code: int, log: str, expected: str
) -> None:
    got = termination.termination_message(
        policy=policy, file_text=file_text, exit_code=exit_code, cri_log=log
    )
    assert got == expected
