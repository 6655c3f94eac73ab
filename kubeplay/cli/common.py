"""What the commands share: settings, the namespace default, warnings, duration words."""

from __future__ import annotations

from typing import Any

import click

from kubeplay import settings as settings_mod

OUTPUTS = click.Choice(["wide", "json", "yaml", "name"])


def settings() -> settings_mod.Settings:
    return settings_mod.load()


def ns(namespace: str | None) -> str:
    return namespace or "default"


def warn(lines: Any) -> None:
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def seconds(text: str) -> float:
    """A duration as kubectl's flags take it: 500ms, 30s, 2m, 1h, or plain seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)
