"""registries.conf, read the way containers/image reads it, for short-name resolution.

Only what kubeplay must decide itself is read here: `unqualified-search-registries` and the
`[aliases]` table (short names). Mirrors, `insecure` and `blocked` registries are applied by
skopeo, which reads the same files. $CONTAINERS_REGISTRIES_CONF names a single file that
replaces the system one; otherwise /etc/containers/registries.conf is read, then the drop-ins
of registries.conf.d in name order (a later file's search list replaces an earlier one,
aliases are merged). The result feeds `kubeplay.plan.images.Registries`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubeplay.errors import ImageError
from kubeplay.plan.images import Registries

SYSTEM = Path("/etc/containers/registries.conf")


def config_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    override = env.get("CONTAINERS_REGISTRIES_CONF")
    if override:
        return [Path(override)]
    files = [SYSTEM]
    dropins = SYSTEM.with_name(SYSTEM.name + ".d")
    if dropins.is_dir():
        files += sorted(p for p in dropins.iterdir() if p.suffix == ".conf")
    return files


def _read(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ImageError(f"registries config {path}: cannot read: {err}") from err


def load(environ: Mapping[str, str] | None = None) -> Registries:
    search: list[str] = []
    aliases: dict[str, str] = {}
    for path in config_files(environ):
        data = _read(path)
        if "unqualified-search-registries" in data:
            search = [str(r) for r in data["unqualified-search-registries"] or ()]
        table = data.get("aliases") or {}
        if isinstance(table, dict):
            aliases.update({str(k): str(v) for k, v in table.items()})
    return Registries(
        search=tuple(dict.fromkeys(r.strip() for r in search if r.strip())),
        aliases=tuple(sorted(aliases.items())),
    )
