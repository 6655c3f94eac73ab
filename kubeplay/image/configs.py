"""Conversion between the OCI image config JSON and `kubeplay.plan.images.ImageConfig`.

Pure codecs used by the store when it reads a config blob (`load_image_config`) and when it
writes one for an imported rootfs (`dump_image_config`). Field names follow the OCI image spec
(`Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`, `StopSignal`, `ExposedPorts`, `Labels`,
`Volumes`); null or missing fields become empty values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplay.plan.images import ImageConfig


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value)


def _keys(value: Any) -> tuple[str, ...]:
    if not isinstance(value, Mapping):
        return ()
    return tuple(str(key) for key in value)


def load_image_config(document: Mapping[str, Any]) -> ImageConfig:
    """ImageConfig from a whole OCI image config document (the `config` member is read)."""
    section = document.get("config")
    if not isinstance(section, Mapping):
        return ImageConfig()
    labels = section.get("Labels")
    return ImageConfig(
        entrypoint=_strings(section.get("Entrypoint")),
        cmd=_strings(section.get("Cmd")),
        env=_strings(section.get("Env")),
        working_dir=str(section.get("WorkingDir") or ""),
        user=str(section.get("User") or ""),
        stop_signal=str(section.get("StopSignal") or ""),
        exposed_ports=_keys(section.get("ExposedPorts")),
        labels=(
            tuple((str(k), str(v)) for k, v in labels.items())
            if isinstance(labels, Mapping)
            else ()
        ),
        volumes=_keys(section.get("Volumes")),
    )


def dump_image_config(config: ImageConfig) -> dict[str, Any]:
    """The `config` member of an OCI image config document; empty fields are left out."""
    section: dict[str, Any] = {}
    if config.user:
        section["User"] = config.user
    if config.exposed_ports:
        section["ExposedPorts"] = {port: {} for port in config.exposed_ports}
    if config.env:
        section["Env"] = list(config.env)
    if config.entrypoint:
        section["Entrypoint"] = list(config.entrypoint)
    if config.cmd:
        section["Cmd"] = list(config.cmd)
    if config.volumes:
        section["Volumes"] = {volume: {} for volume in config.volumes}
    if config.working_dir:
        section["WorkingDir"] = config.working_dir
    if config.labels:
        section["Labels"] = dict(config.labels)
    if config.stop_signal:
        section["StopSignal"] = config.stop_signal
    return section
