"""Image rules: what a node can pull, tags and pull policies."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan.check import images
from kubeplay.plan.images import Registries

LOCAL = images.LocalImages(
    pulled=frozenset({"registry.example/team/app:1", "docker.io/library/nginx:1.27"}),
    local_only=frozenset({"localhost/demo:1", "registry.example/team/app:2"}),
)


def _spec(image: str, **extra: Any) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": image, **extra}]}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            _spec("localhost/demo:1"), ["image-local-only"], id="localhost-name-is-local-only"
        ),
        pytest.param(
            _spec("localhost/never-imported:1"),
            ["image-local-only"],
            id="localhost-name-not-in-the-store-is-still-local-only",
        ),
        pytest.param(
            _spec("demo:1"),
            ["image-local-only"],
            id="short-name-found-under-localhost-here-is-local-only",
        ),
        pytest.param(
            _spec("registry.example/team/app:2"),
            ["image-local-only"],
            id="registry-name-imported-or-tagged-here-is-local-only",
        ),
        pytest.param(_spec("registry.example/team/app:1"), [], id="pulled-registry-image-is-fine"),
        pytest.param(_spec("nginx:1.27"), [], id="pulled-short-name-is-fine"),
        pytest.param(
            _spec("quay.io/x/y:3"), [], id="image-not-in-the-store-is-left-to-the-registry"
        ),
        pytest.param(_spec("nginx"), ["image-latest-tag"], id="no-tag-means-latest"),
        pytest.param(_spec("nginx:latest"), ["image-latest-tag"], id="latest-tag"),
        pytest.param(_spec("nginx@sha256:" + "a" * 64), [], id="digest-without-tag-is-pinned"),
        pytest.param(
            _spec("nginx:1.27", imagePullPolicy="Never"),
            ["image-pull-never"],
            id="image-pull-policy-never",
        ),
        pytest.param(
            _spec("nginx:1.27", imagePullPolicy="IfNotPresent"),
            [],
            id="image-pull-policy-if-not-present",
        ),
    ],
)
def test_image_rules(spec: dict[str, Any], expected: list[str]) -> None:
    found = images.check_images(spec, "spec", local=LOCAL)
    assert [p.rule for p in found] == expected
    assert all(p.path.startswith("spec.containers[0].") for p in found)


def test_local_only_message_says_how_to_push() -> None:
    (problem,) = images.check_images(_spec("registry.example/team/app:2"), "spec", local=LOCAL)
    assert "kubeplay image save -o image.tar registry.example/team/app:2" in problem.message
    assert "skopeo copy oci-archive:image.tar docker://REGISTRY/NAME:TAG" in problem.message


def test_short_name_alias_of_registries_conf_decides() -> None:
    local = images.LocalImages(
        local_only=frozenset({"quay.io/team/tool:1"}),
        registries=Registries(aliases=(("tool", "quay.io/team/tool"),)),
    )
    found = images.check_images(_spec("tool:1"), "spec", local=local)
    assert [p.rule for p in found] == ["image-local-only"]
    assert "(here quay.io/team/tool:1)" in found[0].message
