"""Image naming and pull rules: normalisation, default pull policy, short names, sources.

Table tests over kubeplay.plan.images. The models are docker's reference normalisation,
Kubernetes' SetDefaults_Container and the kubelet's shouldPullImage, and podman's
short-name resolution (registries.conf aliases, then unqualified-search registries).
"""

from __future__ import annotations

import pytest

from kubeplay.plan import images
from kubeplay.plan.images import PullSource, Registries, Transport

DIGEST = "sha256:" + "ab" * 32
CS = Transport.CONTAINERS_STORAGE
REG = Transport.DOCKER


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param("busybox", "docker.io/library/busybox:latest", id="short-name-docker-hub"),
        pytest.param("docker.io/demo", "docker.io/library/demo:latest", id="docker-io-official"),
        pytest.param("docker.io/team/app:1", "docker.io/team/app:1", id="docker-io-user-repo"),
        pytest.param("team/app", "docker.io/team/app:latest", id="short-two-components"),
        pytest.param("quay.io/x/y", "quay.io/x/y:latest", id="other-registry-tag-latest"),
        pytest.param("127.0.0.1:5000/b:2", "127.0.0.1:5000/b:2", id="registry-port"),
        pytest.param("localhost/demo", "localhost/demo:latest", id="localhost-name"),
        pytest.param(f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", id="digest"),
        pytest.param(
            f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}", id="tag-and-digest"
        ),
        pytest.param("", "", id="empty"),
    ],
)
def test_normalize_reference(ref: str, expected: str) -> None:
    assert images.normalize_reference(ref) == expected


@pytest.mark.parametrize(
    ("ref", "policy"),
    [
        pytest.param("busybox", "Always", id="no-tag-always"),
        pytest.param("busybox:latest", "Always", id="latest-always"),
        pytest.param("busybox:1.36", "IfNotPresent", id="tag-ifnotpresent"),
        pytest.param(f"busybox@{DIGEST}", "IfNotPresent", id="digest-only-ifnotpresent"),
        # parsers.ParseImageName keeps the written tag next to a digest: latest -> Always.
        pytest.param(f"busybox:latest@{DIGEST}", "Always", id="latest-with-digest-always"),
        pytest.param(f"busybox:1@{DIGEST}", "IfNotPresent", id="tag-with-digest-ifnotpresent"),
        pytest.param("127.0.0.1:5000/b", "Always", id="registry-port-no-tag-always"),
    ],
)
def test_default_pull_policy(ref: str, policy: str) -> None:
    assert images.default_pull_policy(ref) == policy
    assert images.default_pull_policy(images.normalize_reference(ref)) == policy


SEARCH = Registries(search=("127.0.0.1:5000", "quay.io"))
ALIASED = Registries(
    search=("quay.io",), aliases=images.aliases_from({"demo": "127.0.0.1:5000/team/demo"})
)


@pytest.mark.parametrize(
    ("ref", "registries", "expected"),
    [
        pytest.param("quay.io/x/y:1", SEARCH, ("quay.io/x/y:1",), id="qualified-is-itself"),
        pytest.param(
            "busybox",
            SEARCH,
            ("127.0.0.1:5000/busybox:latest", "quay.io/busybox:latest"),
            id="short-name-each-search-registry-in-order",
        ),
        pytest.param(
            "busybox:1",
            Registries(),
            ("docker.io/library/busybox:1",),
            id="no-search-registries-docker-hub",
        ),
        pytest.param("demo:2", ALIASED, ("127.0.0.1:5000/team/demo:2",), id="alias-wins-keeps-tag"),
        pytest.param(
            f"demo@{DIGEST}", ALIASED, (f"127.0.0.1:5000/team/demo@{DIGEST}",), id="alias-digest"
        ),
    ],
)
def test_registry_names(ref: str, registries: Registries, expected: tuple[str, ...]) -> None:
    assert images.registry_names(ref, registries) == expected


def test_local_names_put_localhost_first() -> None:
    assert images.local_names("busybox", SEARCH) == (
        "localhost/busybox:latest",
        "127.0.0.1:5000/busybox:latest",
        "quay.io/busybox:latest",
    )


def _cs(*names: str) -> tuple[PullSource, ...]:
    return tuple(PullSource(CS, n) for n in names)


def _reg(*names: str) -> tuple[PullSource, ...]:
    return tuple(PullSource(REG, n) for n in names)


Q = "127.0.0.1:5000/app:1"


@pytest.mark.parametrize(
    ("ref", "policy", "present", "expected"),
    [
        pytest.param(Q, "IfNotPresent", True, (), id="ifnotpresent-present-no-pull"),
        pytest.param(
            Q, "IfNotPresent", False, _cs(Q) + _reg(Q), id="ifnotpresent-podman-storage-first"
        ),
        pytest.param(Q, "Always", True, _reg(Q), id="always-pulls-even-when-present"),
        pytest.param(Q, "Always", False, _reg(Q), id="always-registry-only"),
        pytest.param(Q, "Never", True, (), id="never-present-used"),
        pytest.param(Q, "Never", False, _cs(Q), id="never-only-local-storage"),
        pytest.param("localhost/x:1", "Always", True, (), id="localhost-never-pulled"),
        pytest.param(
            "localhost/x:1", "IfNotPresent", False, _cs("localhost/x:1"), id="localhost-podman"
        ),
        pytest.param(
            "app:1",
            "IfNotPresent",
            False,
            _cs("localhost/app:1", "127.0.0.1:5000/app:1", "quay.io/app:1")
            + _reg("127.0.0.1:5000/app:1", "quay.io/app:1"),
            id="short-name-local-then-search-registries",
        ),
    ],
)
def test_compute_pull_sources(
    ref: str, policy: str, present: bool, expected: tuple[PullSource, ...]
) -> None:
    assert (
        images.compute_pull_sources(ref, policy=policy, present=present, registries=SEARCH)
        == expected
    )


def test_failure_reasons_are_the_kubelets() -> None:
    assert images.failure_reason("Never") == "ErrImageNeverPull"
    assert images.failure_reason("Always") == "ErrImagePull"
    assert images.never_pull_message("x:1") == (
        'Container image "x:1" is not present with pull policy of Never'
    )


def _index(*platforms: tuple[str, str, str]) -> dict[str, object]:
    return {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": f"sha256:{i}", "platform": {"os": o, "architecture": a, "variant": v}}
            for i, (o, a, v) in enumerate(platforms)
        ],
    }


@pytest.mark.parametrize(
    ("index", "arch", "variant", "expected"),
    [
        pytest.param(
            _index(("linux", "arm64", "v8"), ("linux", "amd64", "")),
            "amd64",
            "",
            "sha256:1",
            id="multi-arch-index-host-platform",
        ),
        pytest.param(
            _index(("windows", "amd64", ""), ("linux", "amd64", "")),
            "amd64",
            "",
            "sha256:1",
            id="os-must-match",
        ),
        pytest.param(
            _index(("linux", "arm", "v6"), ("linux", "arm", "v7")),
            "arm",
            "v7",
            "sha256:1",
            id="variant-exact",
        ),
        pytest.param(
            _index(("linux", "arm", ""), ("linux", "arm", "v7")),
            "arm",
            "v7",
            "sha256:1",
            id="variant-exact-before-unnamed",
        ),
    ],
)
def test_choose_platform(index: dict[str, object], arch: str, variant: str, expected: str) -> None:
    assert images.is_index(index)
    assert images.choose_platform(index, architecture=arch, variant=variant) == expected


def test_choose_platform_names_what_the_index_has() -> None:
    with pytest.raises(LookupError, match=r"no image for linux/amd64.*linux/arm64/v8"):
        images.choose_platform(_index(("linux", "arm64", "v8")), architecture="amd64")
