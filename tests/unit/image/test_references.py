"""Local reference rules: import names, lookup order for short names, id prefixes.

Pure table tests over kubeplay.image.references; podman's rules for local images are the
model (short names under localhost/ first, then docker.io/library/).
"""

from __future__ import annotations

import pytest

from kubeplay.errors import ImageError
from kubeplay.image import references

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("demo", "localhost/demo:latest", id="short"),
        pytest.param("demo:1", "localhost/demo:1", id="short-tag"),
        pytest.param("team/app", "localhost/team/app:latest", id="short-two-parts"),
        pytest.param("localhost/demo", "localhost/demo:latest", id="localhost"),
        pytest.param("quay.io/x/y:2", "quay.io/x/y:2", id="domain"),
        pytest.param("registry:5000/y", "registry:5000/y:latest", id="domain-port"),
        pytest.param(" demo ", "localhost/demo:latest", id="spaces"),
    ],
)
def test_local_name(ref: str, expected: str) -> None:
    assert references.local_name(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("Demo", id="uppercase"),
        pytest.param("a b", id="space"),
        pytest.param("demo:", id="empty-tag"),
        pytest.param("demo:-x", id="bad-tag"),
        pytest.param("", id="empty"),
        pytest.param("demo@sha256:abc", id="short-digest"),
    ],
)
def test_invalid_reference(ref: str) -> None:
    with pytest.raises(ImageError, match="invalid reference format"):
        references.local_name(ref)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("demo", ("localhost/demo:latest", "docker.io/library/demo:latest"), id="s"),
        pytest.param("demo:1", ("localhost/demo:1", "docker.io/library/demo:1"), id="tag"),
        pytest.param("a/b", ("localhost/a/b:latest", "docker.io/a/b:latest"), id="two"),
        pytest.param("localhost/demo", ("localhost/demo:latest",), id="localhost"),
        pytest.param("docker.io/library/x", ("docker.io/library/x:latest",), id="docker-io"),
        pytest.param(
            f"demo@sha256:{HEX}",
            (f"localhost/demo@sha256:{HEX}", f"docker.io/library/demo@sha256:{HEX}"),
            id="digest",
        ),
        pytest.param("", (), id="empty"),
    ],
)
def test_lookup_candidates(ref: str, expected: tuple[str, ...]) -> None:
    assert references.lookup_candidates(ref) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("abcd", "abcd", id="four"),
        pytest.param("sha256:ABCDEF12", "abcdef12", id="prefixed-upper"),
        pytest.param(HEX, HEX, id="full"),
        pytest.param("abc", None, id="too-short"),
        pytest.param("demo", None, id="not-hex"),
        pytest.param(HEX + "0", None, id="too-long"),
    ],
)
def test_id_prefix(text: str, expected: str | None) -> None:
    assert references.id_prefix(text) == expected


@pytest.mark.parametrize(
    ("ref", "short"),
    [("demo", True), ("a/b", True), ("localhost/x", False), ("q.io/x", False), ("h:1/x", False)],
)
def test_is_short_name(ref: str, short: bool) -> None:
    assert references.is_short_name(ref) is short
