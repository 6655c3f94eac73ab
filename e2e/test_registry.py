"""Images from a real registry on loopback: pull by tag and digest, pull policies during play,
credentials, a multi-arch index, short names through registries.conf, podman's storage, and
ErrImagePull for an image the registry does not have.

Each test starts its own docker-registry (distribution 2.8) on a free 127.0.0.1 port with its
own storage dir, pushes busybox images into it with skopeo and stops it at the end (its
process and files go). The auth file is the test's own (REGISTRY_AUTH_FILE), never root's.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SLEEPER, Kubeplay
from e2e.registry import Registry, push_image, push_index

pytestmark = pytest.mark.root


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    reg = Registry.start(tmp_path / "registry")
    try:
        yield reg
    finally:
        reg.stop()
    assert not (tmp_path / "registry").exists()


@pytest.fixture
def kpr(kp: Kubeplay, tmp_path: Path) -> Kubeplay:
    """kp with the test's own auth file and an empty podman storage of its own (vfs)."""
    storage = tmp_path / "podman"
    (tmp_path / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{storage}/root"\nrunroot = "{storage}/run"\n'
    )
    kp.env["REGISTRY_AUTH_FILE"] = str(tmp_path / "auth.json")
    kp.env["CONTAINERS_STORAGE_CONF"] = str(tmp_path / "storage.conf")
    return kp


def pod(name: str, image: str, *, policy: str = "", command: str = SLEEPER) -> str:
    pull = f"    imagePullPolicy: {policy}\n" if policy else ""
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
        f"  - name: main\n    image: {image}\n{pull}"
        f'    command: ["sh", "-c", "{command}"]\n'
    )


def _store_files(kp: Kubeplay) -> tuple[set[str], set[str]]:
    images = kp.root / "images"
    blobs = {p.name for p in (images / "blobs" / "sha256").iterdir()}
    layers = {p.name for p in (images / "layers").iterdir()}
    return blobs, layers


def test_pull_by_tag_and_by_digest(kpr: Kubeplay, registry: Registry, tmp_path: Path) -> None:
    image_id = push_image(
        registry, tmp_path, "team/app:1", rootfs_tar=kpr.rootfs, files={"msg": b"tagged\n"}
    )
    ref = f"{registry.host}/team/app:1"
    res = kpr("image", "pull", "--tls-verify=false", ref)
    assert res.returncode == 0, res
    assert res.stdout.strip() == image_id
    assert "Copying blob sha256:" in res.stderr  # one line per layer without a terminal
    (info,) = json.loads(kpr.ok("image", "inspect", ref))
    digest = registry.manifest_digest("team/app", "1")
    assert info["RepoDigests"] == [f"{registry.host}/team/app@{digest}"]
    assert info["RepoTags"] == [ref]
    assert info["Architecture"] == "amd64"

    kpr.ok("image", "rm", ref)
    by_digest = f"{registry.host}/team/app@{digest}"
    assert kpr.ok("image", "pull", "--tls-verify=false", by_digest).strip() == image_id
    (info,) = json.loads(kpr.ok("image", "inspect", by_digest))
    assert info["RepoTags"] == []  # pulled by digest: no tag, as podman
    path = kpr.write("digest.yaml", pod("bydigest", by_digest))
    kpr.play(path)
    assert kpr.exec("bydigest", "cat", "/msg") == "tagged\n"
    status = kpr.pod("bydigest")["status"]["containerStatuses"][0]
    assert status["imageID"] == image_id


def test_plain_http_registry_needs_tls_verify_false(kpr: Kubeplay, registry: Registry) -> None:
    push_image(registry, kpr.tmp, "app:1", rootfs_tar=kpr.rootfs)
    res = kpr("image", "pull", f"{registry.host}/app:1")
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr
    assert "HTTP response to HTTPS client" in res.stderr, res.stderr


def test_play_pulls_on_the_way_and_ifnotpresent_does_not_pull_again(
    kpr: Kubeplay, registry: Registry
) -> None:
    push_image(registry, kpr.tmp, "app:1", rootfs_tar=kpr.rootfs, files={"msg": b"one\n"})
    image = f"{registry.host}/app:1"  # a tag other than latest: IfNotPresent
    first = kpr.write("first.yaml", pod("first", image))
    res = kpr("play", "--tls-verify=false", str(first))
    assert res.returncode == 0, res
    assert "Copying blob" in res.stderr and "Pulled" in res.stderr, res.stderr
    assert kpr.exec("first", "cat", "/msg") == "one\n"

    registry.stop()  # nothing to pull from any more: a second pull would fail
    second = kpr.write("second.yaml", pod("second", image))
    res = kpr("play", "--tls-verify=false", str(second))
    assert res.returncode == 0, res
    assert "Pulled" not in res.stderr and "warning" not in res.stderr, res.stderr
    assert kpr.exec("second", "cat", "/msg") == "one\n"


def test_always_pulls_a_tag_that_changed(kpr: Kubeplay, registry: Registry) -> None:
    old = push_image(registry, kpr.tmp, "app:latest", rootfs_tar=kpr.rootfs, files={"v": b"1\n"})
    image = f"{registry.host}/app:latest"  # latest: Always
    kpr.ok("play", "--tls-verify=false", str(kpr.write("a.yaml", pod("a", image))))
    assert kpr.exec("a", "cat", "/v") == "1\n"
    blobs_before, _ = _store_files(kpr)

    new = push_image(registry, kpr.tmp, "app:latest", rootfs_tar=kpr.rootfs, files={"v": b"2\n"})
    assert new != old
    res = kpr("play", "--tls-verify=false", str(kpr.write("b.yaml", pod("b", image))))
    assert res.returncode == 0, res
    assert kpr.exec("b", "cat", "/v") == "2\n"
    assert kpr.exec("a", "cat", "/v") == "1\n"  # a running pod keeps its image
    # Only the changed top layer came: the busybox layer was shared.
    assert re.search(r"1 already here", res.stderr), res.stderr
    blobs_after, _ = _store_files(kpr)
    assert len(blobs_after - blobs_before) == 3  # manifest, config, the new top layer
    ls = kpr.ok("image", "ls")
    assert new.removeprefix("sha256:")[:12] in ls
    assert "default/b" in ls and "default/a" in ls  # USED BY


def test_credentials_good_and_bad(kpr: Kubeplay, tmp_path: Path) -> None:
    registry = Registry.start(tmp_path / "authreg", users={"alice": "s3cret"})
    try:
        push_image(registry, tmp_path, "private:1", rootfs_tar=kpr.rootfs)
        ref = f"{registry.host}/private:1"
        before = _store_files(kpr)

        res = kpr("image", "pull", "--tls-verify=false", ref)
        assert res.returncode == 1, res
        assert "Traceback" not in res.stderr
        assert "authentication required" in res.stderr or "unauthorized" in res.stderr, res
        assert _store_files(kpr) == before  # nothing half-stored

        bad = kpr(
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
            registry.host,
            input="wrong\n",
        )
        assert bad.returncode == 1, bad
        assert "Traceback" not in bad.stderr
        assert "unauthorized" in bad.stderr.lower() or "invalid" in bad.stderr.lower(), bad
        assert (
            not (tmp_path / "auth.json").exists()
            or registry.host not in (tmp_path / "auth.json").read_text()
        )

        good = kpr(
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
            registry.host,
            input="s3cret\n",
        )
        assert good.returncode == 0, good
        assert registry.host in json.loads((tmp_path / "auth.json").read_text())["auths"]
        kpr.ok("image", "pull", "--tls-verify=false", ref)

        kpr.ok("logout", registry.host)
        assert registry.host not in (tmp_path / "auth.json").read_text()
        kpr.ok("image", "rm", ref)
        res = kpr("image", "pull", "--tls-verify=false", ref)
        assert res.returncode == 1, res
    finally:
        registry.stop()


def test_multi_arch_index_resolves_to_the_host_platform(kpr: Kubeplay, registry: Registry) -> None:
    ids = push_index(
        registry, kpr.tmp, "multi:1", rootfs_tar=kpr.rootfs, architectures=["arm64", "amd64"]
    )
    ref = f"{registry.host}/multi:1"
    assert kpr.ok("image", "pull", "--tls-verify=false", ref).strip() == ids["amd64"]
    (info,) = json.loads(kpr.ok("image", "inspect", ref))
    assert info["Architecture"] == "amd64"
    index_digest = registry.manifest_digest("multi", "1")
    assert f"{registry.host}/multi@{index_digest}" in info["RepoDigests"]
    kpr.play(kpr.write("multi.yaml", pod("multi", f"{registry.host}/multi@{index_digest}")))
    assert kpr.exec("multi", "cat", "/arch") == "amd64"


def test_missing_image_is_err_image_pull_and_other_pods_run(
    kpr: Kubeplay, registry: Registry
) -> None:
    push_image(registry, kpr.tmp, "app:1", rootfs_tar=kpr.rootfs)
    missing = f"{registry.host}/nope:1"
    path = kpr.write(
        "pods.yaml",
        pod("good", f"{registry.host}/app:1") + "---\n" + pod("bad", missing),
    )
    res = kpr("play", "--tls-verify=false", str(path))
    assert res.returncode == 0, res  # like kubectl apply: the pod exists, its image does not
    assert "Traceback" not in res.stderr
    warning = next(line for line in res.stderr.splitlines() if "pod default/bad" in line)
    assert "container main" in warning and missing in warning, warning
    assert "ErrImagePull" in warning and "manifest unknown" in warning, warning
    assert "pod/bad created" in res.stdout and "pod/good created" in res.stdout

    bad = kpr.pod("bad")
    assert bad["status"]["phase"] == "Pending"
    waiting = bad["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert "manifest unknown" in waiting["message"]
    assert kpr.pod("good")["status"]["phase"] == "Running"
    assert re.search(r"^bad\s+0/1\s+ErrImagePull\s", kpr.ok("get", "pods"), re.M)
    described = kpr.ok("describe", "pod", "bad")
    assert "Failed to pull image" in described or "ErrImagePull" in described


def test_never_policy_without_the_image_is_err_image_never_pull(
    kpr: Kubeplay, registry: Registry
) -> None:
    push_image(registry, kpr.tmp, "app:1", rootfs_tar=kpr.rootfs)
    image = f"{registry.host}/app:1"
    res = kpr(
        "play", "--tls-verify=false", str(kpr.write("n.yaml", pod("n", image, policy="Never")))
    )
    assert res.returncode == 0, res
    waiting = kpr.pod("n")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {
        "reason": "ErrImageNeverPull",
        "message": f'Container image "{image}" is not present with pull policy of Never',
    }
    assert "image" not in kpr.ok("image", "ls", "-o", "json") or image not in kpr.ok("image", "ls")


def test_short_name_through_registries_conf_search_and_insecure(
    kpr: Kubeplay, registry: Registry, tmp_path: Path
) -> None:
    push_image(registry, kpr.tmp, "shorty:2", rootfs_tar=kpr.rootfs, files={"m": b"short\n"})
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'unqualified-search-registries = ["{registry.host}"]\n'
        f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n'
    )
    kpr.env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
    res = kpr("play", str(kpr.write("s.yaml", pod("s", "shorty:2"))))  # no --tls-verify
    assert res.returncode == 0 and "warning" not in res.stderr, res
    assert kpr.exec("s", "cat", "/m") == "short\n"
    assert f"{registry.host}/shorty" in kpr.ok("image", "ls")


def test_image_in_podman_storage_is_used_without_network(kpr: Kubeplay, tmp_path: Path) -> None:
    from tests.integration.image import layouts

    layout = tmp_path / "layout"
    image_id = layouts.write_layout(
        layout,
        [kpr.rootfs.read_bytes(), layouts.make_tar([layouts.file("from", b"podman\n")])],
        tag="t",
        config={"Cmd": ["/bin/sh"]},
    )
    name = "localhost/kp-podman-test:1"
    subprocess.run(
        ["skopeo", "copy", "--quiet", f"oci:{layout}:t", f"containers-storage:{name}"],
        env=kpr.env,
        check=True,
        capture_output=True,
    )
    kpr.play(kpr.write("p.yaml", pod("p", name)))
    assert kpr.exec("p", "cat", "/from") == "podman\n"
    (info,) = json.loads(kpr.ok("image", "inspect", name))
    assert info["Id"] == image_id.removeprefix("sha256:")


def test_tls_registry_with_a_self_signed_certificate(kpr: Kubeplay, tmp_path: Path) -> None:
    registry = Registry.start(tmp_path / "tlsreg", tls=True)
    try:
        image_id = push_image(
            registry, tmp_path, "secure:1", rootfs_tar=kpr.rootfs, files={"m": b"tls\n"}
        )
        ref = f"{registry.host}/secure:1"
        before = _store_files(kpr)
        res = kpr("image", "pull", ref)
        assert res.returncode == 1, res
        assert "Traceback" not in res.stderr
        assert "x509: certificate signed by unknown authority" in res.stderr, res.stderr
        assert "--cert-dir" in res.stderr and "--tls-verify=false" in res.stderr, res.stderr
        assert _store_files(kpr) == before

        assert kpr.ok("image", "pull", "--tls-verify=false", ref).strip() == image_id
        kpr.ok("image", "rm", ref)

        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(registry.certificate.read_bytes())
        assert kpr.ok("image", "pull", "--cert-dir", str(certs), ref).strip() == image_id
        kpr.ok("image", "rm", ref)

        path = kpr.write("tls.yaml", pod("tls", ref, policy="Always"))
        res = kpr("play", str(path))
        assert res.returncode == 0 and "x509" in res.stderr, res  # a warning: ErrImagePull
        kpr.ok("down", str(path))
        res = kpr("play", f"--cert-dir={certs}", str(path))
        assert res.returncode == 0 and "warning" not in res.stderr, res
        assert kpr.exec("tls", "cat", "/m") == "tls\n"
    finally:
        registry.stop()


def test_play_of_a_pod_that_exists_is_refused_before_any_pull(
    kpr: Kubeplay, registry: Registry
) -> None:
    push_image(registry, kpr.tmp, "app:1", rootfs_tar=kpr.rootfs)
    path = kpr.write("p.yaml", pod("again", f"{registry.host}/app:1", policy="Always"))
    res = kpr("-v", "play", "--tls-verify=false", str(path))
    assert res.returncode == 0, res
    assert '"skopeo"' in res.stderr or "skopeo " in res.stderr, res.stderr  # -v shows pulls

    res = kpr("-v", "play", "--tls-verify=false", str(path))
    assert res.returncode != 0, res
    assert "pod default/again: already exists" in res.stderr, res.stderr
    assert "skopeo" not in res.stderr, res.stderr


def test_save_of_a_docker_manifest_image_is_oci_and_loads_back_with_its_id(
    kpr: Kubeplay, registry: Registry, tmp_path: Path
) -> None:
    push_image(
        registry, tmp_path, "dock:1", rootfs_tar=kpr.rootfs, files={"m": b"saved\n"}, fmt="v2s2"
    )
    ref = f"{registry.host}/dock:1"
    image_id = kpr.ok("image", "pull", "--tls-verify=false", ref).strip()
    served = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        check=True,
    ).stdout
    assert json.loads(served)["config"]["digest"] == image_id  # the config as served, kept
    stored = json.loads(kpr.ok("image", "inspect", ref))[0]
    manifest_digest = stored["RepoDigests"][0].split("@")[1]
    blob = kpr.root / "images" / "blobs" / "sha256" / manifest_digest[7:]
    assert json.loads(blob.read_bytes())["mediaType"].startswith("application/vnd.docker.")

    archive = tmp_path / "saved.tar"
    kpr.ok("image", "save", "-o", str(archive), ref)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())

        def read(name: str) -> dict[str, Any]:
            handle = tar.extractfile(name)
            assert handle is not None
            doc: dict[str, Any] = json.loads(handle.read())
            return doc

        (descriptor,) = read("index.json")["manifests"]
        assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert descriptor["annotations"] == {"org.opencontainers.image.ref.name": ref}
        manifest = read(f"blobs/sha256/{descriptor['digest'][7:]}")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert manifest["config"]["digest"] == image_id
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    }
    assert f"blobs/sha256/{manifest_digest[7:]}" not in names  # the docker one is not saved
    inspected = subprocess.run(
        ["skopeo", "inspect", "--config", f"oci-archive:{archive}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(inspected.stdout)["rootfs"]["diff_ids"]

    kpr.ok("image", "rm", ref)
    assert ref not in kpr.ok("image", "ls")
    kpr.ok("image", "load", "-i", str(archive))
    (info,) = json.loads(kpr.ok("image", "inspect", ref))
    assert "sha256:" + info["Id"] == image_id
    kpr.play(kpr.write("saved.yaml", pod("saved", ref, policy="Never")))
    assert kpr.exec("saved", "cat", "/m") == "saved\n"
