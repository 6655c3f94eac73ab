"""Container command, args and environment as the kubelet resolves them.

Semantics: kubelet's forked expansion package (third_party/forked/golang/expansion/expand.go,
`Expand` and `tryReadVariableName`), `makeEnvironmentVariables` in pkg/kubelet/kubelet_pods.go,
`ExpandContainerCommandAndArgs` in pkg/kubelet/container/helpers.go, and
https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import command

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VARS = {"VAR": "value", "EMPTY": ""}


# expand: third_party/forked/golang/expansion/expand_test.go is the model for these cases.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(VAR)", "value", id="defined-var"),
        pytest.param("a-$(VAR)-b", "a-value-b", id="defined-var-inside-text"),
        pytest.param("$(VAR)$(VAR)", "valuevalue", id="adjacent-vars"),
        pytest.param("$(EMPTY)x", "x", id="defined-empty-var"),
        pytest.param("$(UNDEFINED)", "$(UNDEFINED)", id="undefined-var-kept"),
        pytest.param("$()", "$()", id="empty-name-kept"),
        pytest.param("$$", "$", id="dollar-dollar-escape"),
        pytest.param("$$(VAR)", "$(VAR)", id="escaped-reference-literal"),
        pytest.param("$$$(VAR)", "$value", id="escape-then-reference"),
        pytest.param("$(VAR", "$(VAR", id="unclosed-reference-kept"),
        pytest.param("$(VAR $$", "$(VAR $", id="unclosed-reference-then-escape"),
        pytest.param("x$", "x$", id="trailing-dollar"),
        pytest.param("$", "$", id="lone-dollar"),
        pytest.param("$VAR", "$VAR", id="dollar-other-char-kept"),
        pytest.param("$-$(VAR)", "$-value", id="dollar-other-char-then-reference"),
        pytest.param("${VAR}", "${VAR}", id="shell-braces-not-expanded"),
        pytest.param("no refs", "no refs", id="plain-text"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert command.expand(text, VARS.get) == expected


def _env(*items: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in items]


# makeEnvironmentVariables: each env value expands against the entries defined before it;
# the image env and the container env are merged by the runtime (container wins, in place).
@pytest.mark.parametrize(
    ("env", "image_env", "values", "expected"),
    [
        pytest.param(
            _env(("A", "1"), ("B", "2")),
            (),
            None,
            (("A", "1"), ("B", "2"), ("PATH", DEFAULT_PATH)),
            id="manifest-order-and-default-path",
        ),
        pytest.param(
            _env(("A", "x"), ("B", "$(A)-y")),
            (),
            None,
            (("A", "x"), ("B", "x-y"), ("PATH", DEFAULT_PATH)),
            id="later-env-sees-earlier",
        ),
        pytest.param(
            _env(("B", "$(A)-y"), ("A", "x")),
            (),
            None,
            (("B", "$(A)-y"), ("A", "x"), ("PATH", DEFAULT_PATH)),
            id="earlier-env-does-not-see-later",
        ),
        pytest.param(
            _env(("B", "$(HOME)")),
            ("HOME=/root",),
            None,
            (("HOME", "/root"), ("B", "$(HOME)"), ("PATH", DEFAULT_PATH)),
            id="env-does-not-expand-image-env",
        ),
        pytest.param(
            _env(("B", "$$(A)"), ("A", "1")),
            (),
            None,
            (("B", "$(A)"), ("A", "1"), ("PATH", DEFAULT_PATH)),
            id="escaped-reference-in-env",
        ),
        pytest.param(
            _env(("MODE", "prod")),
            ("PATH=/opt/bin", "MODE=dev", "LANG=C"),
            None,
            (("PATH", "/opt/bin"), ("MODE", "prod"), ("LANG", "C")),
            id="image-env-overridden-in-place",
        ),
        pytest.param(
            _env(("PATH", "/custom")),
            ("PATH=/opt/bin",),
            None,
            (("PATH", "/custom"),),
            id="container-path-wins",
        ),
        pytest.param(
            _env(("A", None)),
            (),
            None,
            (("A", ""), ("PATH", DEFAULT_PATH)),
            id="missing-value-is-empty",
        ),
        pytest.param(
            [
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                *_env(("GREETING", "hi $(POD)")),
            ],
            (),
            {"POD": "web"},
            (("POD", "web"), ("GREETING", "hi web"), ("PATH", DEFAULT_PATH)),
            id="value-from-visible-to-later-env",
        ),
        pytest.param(
            [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            (),
            {"POD": "$(X)"},
            (("POD", "$(X)"), ("PATH", DEFAULT_PATH)),
            id="value-from-not-expanded",
        ),
        pytest.param(
            [{"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
            (),
            {},
            (("PATH", DEFAULT_PATH),),
            id="value-from-unresolved-skipped",
        ),
        pytest.param(
            _env(("A", "1"), ("A", "2")),
            (),
            None,
            (("A", "2"), ("PATH", DEFAULT_PATH)),
            id="duplicate-name-last-wins",
        ),
    ],
)
def test_resolve_env(
    env: list[dict[str, Any]],
    image_env: tuple[str, ...],
    values: dict[str, str] | None,
    expected: tuple[tuple[str, str], ...],
) -> None:
    assert command.resolve_env(env, image_env=image_env, values=values) == expected


ENTRYPOINT = ("/docker-entrypoint.sh",)
CMD = ("nginx", "-g", "daemon off;")
ENV = (("GREETING", "hello"),)


# Kubernetes' command/args table (define-command-argument-container#notes) and
# ExpandContainerCommandAndArgs: only the manifest's command and args are expanded.
@pytest.mark.parametrize(
    ("cmd_", "args", "entrypoint", "image_cmd", "expected"),
    [
        pytest.param(None, None, ENTRYPOINT, CMD, ENTRYPOINT + CMD, id="image-entrypoint-and-cmd"),
        pytest.param(["/bin/echo"], None, ENTRYPOINT, CMD, ("/bin/echo",), id="command-drops-cmd"),
        pytest.param(
            None, ["-v"], ENTRYPOINT, CMD, (*ENTRYPOINT, "-v"), id="args-with-image-entrypoint"
        ),
        pytest.param(
            ["/bin/echo"],
            ["a", "b"],
            ENTRYPOINT,
            CMD,
            ("/bin/echo", "a", "b"),
            id="command-and-args",
        ),
        pytest.param(None, ["sleep", "1"], (), CMD, ("sleep", "1"), id="args-without-entrypoint"),
        pytest.param([], [], ENTRYPOINT, CMD, ENTRYPOINT + CMD, id="empty-lists-mean-unset"),
        pytest.param(
            ["echo", "$(GREETING)"],
            ["$(GREETING)!"],
            (),
            (),
            ("echo", "hello", "hello!"),
            id="command-and-args-expanded",
        ),
        pytest.param(
            ["echo", "$(NOPE)", "$$(GREETING)"],
            None,
            (),
            (),
            ("echo", "$(NOPE)", "$(GREETING)"),
            id="undefined-and-escaped-in-args",
        ),
        pytest.param(
            None,
            None,
            ("sh", "-c"),
            ("kill $$ $(GREETING)",),
            ("sh", "-c", "kill $$ $(GREETING)"),
            id="image-cmd-not-expanded",
        ),
    ],
)
def test_resolve_argv(
    cmd_: list[str] | None,
    args: list[str] | None,
    entrypoint: tuple[str, ...],
    image_cmd: tuple[str, ...],
    expected: tuple[str, ...],
) -> None:
    got = command.resolve_argv(
        command=cmd_, args=args, entrypoint=entrypoint, cmd=image_cmd, env=ENV
    )
    assert got == expected
