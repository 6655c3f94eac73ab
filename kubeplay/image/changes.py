"""`--change` lines of `kubeplay image import`, in Dockerfile syntax, applied to an ImageConfig.

Pure (no I/O): `apply_changes(config, lines)` returns a new ImageConfig. Supported, as in
`podman import --change`: CMD and ENTRYPOINT (JSON exec form, or shell form which becomes
`["/bin/sh", "-c", ...]`), ENV (`K=V ...` or legacy `K V`), LABEL (likewise), EXPOSE
(`80`, `80/tcp`, `8000-8002/udp`), VOLUME (JSON or words), WORKDIR (relative paths join the
previous one), USER and STOPSIGNAL. The instruction and its value are separated by whitespace,
or by `=` as podman also accepts (`CMD=/bin/sh`). A bad line raises ImageError naming it.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable

from kubeplay.errors import ImageError
from kubeplay.plan.images import ImageConfig

_PORT = re.compile(r"^([0-9]+)(?:-([0-9]+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)
_SIGNAL = re.compile(r"^(?:[0-9]+|(?:SIG)?[A-Z][A-Z0-9+-]*)$")


class _ChangeError(ValueError):
    """Why one change line is wrong; apply_changes turns it into ImageError."""


def _json_list(value: str) -> list[str] | None:
    if not value.startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        return None
    return parsed


def parse_command(value: str) -> tuple[str, ...]:
    """CMD/ENTRYPOINT value: JSON exec form as is, anything else in shell form."""
    exec_form = _json_list(value)
    if exec_form is not None:
        return tuple(exec_form)
    return ("/bin/sh", "-c", value)


def _pairs(value: str, what: str) -> list[tuple[str, str]]:
    """`K=V K2="v 2"` (shell quoting) or the legacy `K rest of line` form of ENV and LABEL."""
    first = value.split(None, 1)[0]
    if "=" not in first:
        key, _, rest = value.partition(" ")
        key, rest = key.strip(), rest.strip()
        if not rest:
            raise _ChangeError(f"{what} needs a value: {what} {key}=VALUE or {what} {key} VALUE")
        return [(key, rest)]
    try:
        words = shlex.split(value)
    except ValueError as err:
        raise _ChangeError(f"{what}: {err}") from err
    pairs: list[tuple[str, str]] = []
    for word in words:
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise _ChangeError(f"{what}: {word!r} is not KEY=VALUE")
        pairs.append((key, val))
    return pairs


def _set_env(config: ImageConfig, value: str) -> ImageConfig:
    env = list(config.env)
    for key, val in _pairs(value, "ENV"):
        entry = f"{key}={val}"
        index = next((i for i, e in enumerate(env) if e.split("=", 1)[0] == key), None)
        if index is None:
            env.append(entry)
        else:
            env[index] = entry
    return dataclasses.replace(config, env=tuple(env))


def _set_labels(config: ImageConfig, value: str) -> ImageConfig:
    labels = dict(config.labels)
    for key, val in _pairs(value, "LABEL"):
        labels[key] = val
    return dataclasses.replace(config, labels=tuple(labels.items()))


def _expose(config: ImageConfig, value: str) -> ImageConfig:
    ports = list(config.exposed_ports)
    for word in value.split():
        match = _PORT.match(word)
        if match is None:
            raise _ChangeError(f"EXPOSE: invalid port {word!r} (want PORT[/tcp|udp|sctp])")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        proto = (match.group(3) or "tcp").lower()
        if not 1 <= low <= high <= 65535:
            raise _ChangeError(f"EXPOSE: invalid port {word!r} (1-65535)")
        for port in range(low, high + 1):
            entry = f"{port}/{proto}"
            if entry not in ports:
                ports.append(entry)
    return dataclasses.replace(config, exposed_ports=tuple(ports))


def _volume(config: ImageConfig, value: str) -> ImageConfig:
    paths = _json_list(value)
    if paths is None:
        paths = value.split()
    volumes = list(config.volumes)
    for path in paths:
        if not path.startswith("/"):
            raise _ChangeError(f"VOLUME: {path!r} is not an absolute path")
        if path not in volumes:
            volumes.append(path)
    return dataclasses.replace(config, volumes=tuple(volumes))


def _workdir(config: ImageConfig, value: str) -> ImageConfig:
    base = config.working_dir or "/"
    return dataclasses.replace(config, working_dir=posixpath.normpath(posixpath.join(base, value)))


def _stop_signal(config: ImageConfig, value: str) -> ImageConfig:
    if not _SIGNAL.match(value):
        raise _ChangeError(f"STOPSIGNAL: invalid signal {value!r}")
    return dataclasses.replace(config, stop_signal=value)


def _user(config: ImageConfig, value: str) -> ImageConfig:
    if len(value.split()) != 1:
        raise _ChangeError(f"USER: invalid user {value!r}")
    return dataclasses.replace(config, user=value)


_INSTRUCTIONS: dict[str, Callable[[ImageConfig, str], ImageConfig]] = {
    "CMD": lambda c, v: dataclasses.replace(c, cmd=parse_command(v)),
    "ENTRYPOINT": lambda c, v: dataclasses.replace(c, entrypoint=parse_command(v)),
    "ENV": _set_env,
    "LABEL": _set_labels,
    "EXPOSE": _expose,
    "VOLUME": _volume,
    "WORKDIR": _workdir,
    "USER": _user,
    "STOPSIGNAL": _stop_signal,
}


def _split(line: str) -> tuple[str, str]:
    text = line.strip()
    match = re.match(r"^([A-Za-z]+)(?:\s+|=)(.*)$", text, re.DOTALL)
    if match is None:
        raise _ChangeError("must be formatted as INSTRUCTION VALUE")
    instruction, value = match.group(1).upper(), match.group(2).strip()
    if not value:
        raise _ChangeError(f"{instruction} needs a value")
    return instruction, value


def apply_change(config: ImageConfig, line: str) -> ImageConfig:
    """Apply one `--change` line; ImageError names the line when it is not valid."""
    try:
        instruction, value = _split(line)
        handler = _INSTRUCTIONS.get(instruction)
        if handler is None:
            known = ", ".join(sorted(_INSTRUCTIONS))
            raise _ChangeError(f"unsupported instruction {instruction} (supported: {known})")
        return handler(config, value)
    except _ChangeError as err:
        raise ImageError(f"invalid change {line!r}: {err}") from err


def apply_changes(config: ImageConfig, lines: Iterable[str]) -> ImageConfig:
    """Apply `--change` lines in order, as `podman import --change` does."""
    for line in lines:
        config = apply_change(config, line)
    return config
