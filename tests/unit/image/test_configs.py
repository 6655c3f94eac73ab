"""OCI image config JSON <-> ImageConfig.

Round trip through kubeplay.image.configs, and null/missing fields in configs written by
other tools (Cmd: null is common).
"""

from __future__ import annotations

from kubeplay.image import configs
from kubeplay.plan.images import ImageConfig


def test_round_trip() -> None:
    config = ImageConfig(
        entrypoint=("/bin/busybox",),
        cmd=("httpd", "-f"),
        env=("PATH=/bin", "A=1"),
        working_dir="/var/www",
        user="65534",
        stop_signal="SIGINT",
        exposed_ports=("80/tcp",),
        labels=(("a", "b"),),
        volumes=("/data",),
    )
    document = {"config": configs.dump_image_config(config)}
    assert configs.load_image_config(document) == config


def test_nulls_and_missing() -> None:
    document = {"config": {"Cmd": None, "Entrypoint": None, "Env": None, "Labels": None}}
    assert configs.load_image_config(document) == ImageConfig()
    assert configs.load_image_config({}) == ImageConfig()
    assert configs.dump_image_config(ImageConfig()) == {}
