"""Container command, args and environment, resolved as Kubernetes defines them.

- argv: `command` replaces the image ENTRYPOINT and `args` the image CMD; a `command` without
  `args` drops the image CMD (https://kubernetes.io/docs/tasks/inject-data-application/
  define-command-argument-container/#notes).
- `$(VAR)` in env values, command and args expands from the container's env defined before it;
  `$$` escapes to `$`; an unknown `$(VAR)` stays as written (kubelet's expansion package).
  Only the manifest's `command` and `args` are expanded, and only against the container's own
  env (kubelet's ExpandContainerCommandAndArgs never sees the image's ENTRYPOINT, CMD or Env).
- Environment: the image's Env, then the container's env on top (a container key replaces the
  image's value in place; new keys follow in manifest order).
- The image's part (ENTRYPOINT, CMD, Env) is added when the container is created
  (`image_argv`, `merge_env`), as the runtime does under the kubelet: the manifest's part is
  expanded on its own first (`expand_command`), so nothing of the image is ever expanded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Env = tuple[tuple[str, str], ...]


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes `$(VAR)` expansion with `$$` escaping."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end == -1:  # incomplete reference: keep "$(" and go on scanning after it
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : end]
            value = lookup(name) if name else None
            out.append(value if value is not None else text[i : end + 1])
            i = end + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def resolve_env(
    env: Iterable[Mapping[str, Any]],
    *,
    image_env: Sequence[str] = (),
    values: Mapping[str, str] | None = None,
) -> Env:
    """Final container environment.

    `env` is the manifest's list; entries with `valueFrom` take their value from `values`
    (resolved by the caller) and are skipped when absent there.
    """
    return merge_env(image_env, defined_env(env, values=values))


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def merge_env(image_env: Sequence[str], defined: Env) -> Env:
    """The process environment: the image's Env ("K=V" entries), the container's own env on
    top (a key of both keeps the image's place), and a default PATH when neither has one."""
    merged: dict[str, str] = {}
    for entry in image_env:
        key, _, value = entry.partition("=")
        merged[key] = value
    merged.update(defined)
    merged.setdefault("PATH", DEFAULT_PATH)
    return tuple(merged.items())


def defined_env(
    env: Iterable[Mapping[str, Any]],
    *,
    values: Mapping[str, str] | None = None,
) -> Env:
    """The container's own env, expanded in order (kubelet's makeEnvironmentVariables).

    This, not the merged runtime env, is what `$(VAR)` in command and args may refer to.
    """
    defined: dict[str, str] = {}
    for item in env:
        name = str(item["name"])
        if "valueFrom" in item and item.get("valueFrom") is not None:
            if values is None or name not in values:
                continue
            defined[name] = values[name]
            continue
        raw = item.get("value")
        defined[name] = expand(str(raw) if raw is not None else "", defined.get)
    return tuple(defined.items())


def resolve_argv(
    *,
    command: Sequence[str] | None,
    args: Sequence[str] | None,
    entrypoint: Sequence[str],
    cmd: Sequence[str],
    env: Env,
) -> tuple[str, ...]:
    """Process args; `env` is what `$(VAR)` may refer to (the container's `defined_env`)."""
    command, args = expand_command(command, args, env=env)
    return image_argv(command=command, args=args, entrypoint=entrypoint, cmd=cmd)


def expand_command(
    command: Sequence[str] | None, args: Sequence[str] | None, *, env: Env
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The manifest's command and args with `$(VAR)` expanded from `env` (kubelet's
    ExpandContainerCommandAndArgs); None stays None (the image's part is used)."""
    lookup = dict(env).get
    return (
        None if command is None else tuple(expand(str(c), lookup) for c in command),
        None if args is None else tuple(expand(str(a), lookup) for a in args),
    )


def image_argv(
    *,
    command: Sequence[str] | None,
    args: Sequence[str] | None,
    entrypoint: Sequence[str],
    cmd: Sequence[str],
) -> tuple[str, ...]:
    """Process args from the (already expanded) command and args and the image's ENTRYPOINT
    and CMD: `command` replaces ENTRYPOINT and drops CMD, `args` replaces CMD."""
    if command:
        return tuple(command) + tuple(args or ())
    return tuple(entrypoint) + (tuple(args) if args else tuple(cmd))
