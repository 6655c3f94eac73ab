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
    merged: dict[str, str] = {}
    for entry in image_env:
        key, _, value = entry.partition("=")
        merged[key] = value
    merged.update(defined_env(env, values=values))
    if "PATH" not in merged:
        merged["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
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
    lookup = dict(env).get
    expanded_args = [expand(str(a), lookup) for a in args or ()]
    if command:
        return tuple(expand(str(c), lookup) for c in command) + tuple(expanded_args)
    return tuple(entrypoint) + (tuple(expanded_args) if args else tuple(cmd))
