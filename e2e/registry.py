"""A real registry on loopback for the pull tests: Debian's docker-registry (distribution 2.8).

`Registry.start(dir)` runs `docker-registry serve` on a free 127.0.0.1 port with its own
storage dir and config (htpasswd auth when users are given; TLS with a self-signed
certificate for 127.0.0.1, made with openssl, when `tls`, else plain HTTP) and waits until /v2/
answers; `stop()` ends that one process (by its pid) and removes its files. Images are pushed
with skopeo from OCI layouts written here from the busybox rootfs tarball: `push_image` one
image (extra files in a layer of its own), `push_index` a multi-architecture index.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.image import layouts

BINARY = "docker-registry"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Registry:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=dict)
    tls: bool = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def certificate(self) -> Path:
        """The registry's self-signed certificate (PEM), when it serves TLS."""
        return self.base / "tls" / "cert.pem"

    @classmethod
    def start(
        cls, base: Path, *, users: dict[str, str] | None = None, tls: bool = False
    ) -> Registry:
        base.mkdir(parents=True, exist_ok=True)
        auth = tls_conf = ""
        if tls:
            (base / "tls").mkdir()
            key, cert = str(base / "tls" / "key.pem"), str(base / "tls" / "cert.pem")
            subprocess.run(
                [
                    *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
                    *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
                    *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert),
                ],
                check=True,
                capture_output=True,
            )
            tls_conf = (
                f"  tls:\n    certificate: {base / 'tls' / 'cert.pem'}\n"
                f"    key: {base / 'tls' / 'key.pem'}\n"
            )
        if users:
            lines = []
            for user, password in users.items():
                out = subprocess.run(
                    ["htpasswd", "-nbB", user, password], capture_output=True, text=True, check=True
                ).stdout.strip()
                lines.append(out)
            (base / "htpasswd").write_text("\n".join(lines) + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: kubeplay-test\n    path: {base / 'htpasswd'}\n"
        for _ in range(5):
            port = _free_port()
            (base / "config.yml").write_text(
                "version: 0.1\nlog:\n  level: error\n"
                f"storage:\n  filesystem:\n    rootdirectory: {base / 'data'}\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{port}\n" + tls_conf + auth
            )
            with (base / "registry.log").open("ab") as log:
                proc = subprocess.Popen(
                    [BINARY, "serve", str(base / "config.yml")],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            registry = cls(base=base, port=port, proc=proc, users=dict(users or {}), tls=tls)
            if registry._wait_ready():
                return registry
            registry.stop(remove=False)
        raise RuntimeError(f"docker-registry did not start: {(base / 'registry.log').read_text()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.tls:
                    context = ssl.create_default_context(cafile=str(self.certificate))
                    urllib.request.urlopen(f"https://{self.host}/v2/", timeout=2, context=context)
                else:
                    urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2)
                return True
            except urllib.error.HTTPError as err:
                return err.code == 401  # up, asking for credentials
            except OSError:
                time.sleep(0.1)
        return False

    def stop(self, *, remove: bool = True) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)

    def _creds(self) -> list[str]:
        if not self.users:
            return []
        user, password = next(iter(self.users.items()))
        return ["--dest-creds", f"{user}:{password}"]

    def push_layout(
        self, layout: Path, tag: str, name: str, *, all_images: bool = False, fmt: str = ""
    ) -> None:
        """Push with skopeo; `fmt` "v2s2" makes the registry serve a docker manifest."""
        argv = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *self._creds()]
        argv += ["--all"] if all_images else []
        argv += ["--format", fmt] if fmt else []
        argv += [f"oci:{layout}:{tag}", f"docker://{self.host}/{name}"]
        subprocess.run(argv, check=True, capture_output=True)

    def manifest_digest(self, name: str, tag: str) -> str:
        """The digest the registry serves for name:tag (Docker-Content-Digest)."""
        request = urllib.request.Request(
            f"http://{self.host}/v2/{name}/manifests/{tag}",
            method="HEAD",
            headers={
                "Accept": "application/vnd.oci.image.manifest.v1+json, "
                "application/vnd.oci.image.index.v1+json"
            },
        )
        if self.users:
            user, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(response.headers["Docker-Content-Digest"])


def busybox_layer(rootfs_tar: Path) -> bytes:
    return rootfs_tar.read_bytes()


def files_layer(files: dict[str, bytes]) -> bytes:
    return layouts.make_tar([layouts.file(name, data, mode=0o644) for name, data in files.items()])


def push_image(
    registry: Registry,
    work: Path,
    name: str,
    *,
    rootfs_tar: Path,
    files: dict[str, bytes] | None = None,
    config: dict[str, object] | None = None,
    fmt: str = "",
) -> str:
    """Push busybox (+ a layer with `files`) as `name` ("repo:tag"); the image id (for
    `fmt` "v2s2", skopeo rewrites the config: the id is the one a pull reports)."""
    layout = work / f"layout-{name.replace('/', '_').replace(':', '_')}-{time.monotonic_ns()}"
    layers = [busybox_layer(rootfs_tar)] + ([files_layer(files)] if files else [])
    image_id = layouts.write_layout(
        layout, layers, tag="t", gzip_layers=True, config=config or {"Cmd": ["/bin/sh"]}
    )
    registry.push_layout(layout, "t", name, fmt=fmt)
    shutil.rmtree(layout)
    return image_id


def push_index(
    registry: Registry, work: Path, name: str, *, rootfs_tar: Path, architectures: list[str]
) -> dict[str, str]:
    """Push a multi-arch index whose image for each architecture has /arch = its name.
    Returns architecture -> image id."""
    layout = work / f"index-{time.monotonic_ns()}"
    ids: dict[str, str] = {}
    descriptors = []
    for arch in architectures:
        one = work / f"one-{arch}-{time.monotonic_ns()}"
        layers = [busybox_layer(rootfs_tar), files_layer({"arch": arch.encode()})]
        ids[arch] = layouts.write_layout(one, layers, tag="t", config={"Cmd": ["/bin/sh"]})
        config_path = one / "blobs" / "sha256" / ids[arch][7:]
        document = json.loads(config_path.read_bytes())
        if document["architecture"] != arch:  # write_layout says amd64: make it this arch
            document["architecture"] = arch
            data = json.dumps(document).encode()
            new_id = layouts.sha256(data)
            (one / "blobs" / "sha256" / new_id[7:]).write_bytes(data)
            index = json.loads((one / "index.json").read_text())
            manifest_path = one / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
            manifest = json.loads(manifest_path.read_bytes())
            manifest["config"] = {**manifest["config"], "digest": new_id, "size": len(data)}
            mdata = json.dumps(manifest).encode()
            (one / "blobs" / "sha256" / layouts.sha256(mdata)[7:]).write_bytes(mdata)
            index["manifests"][0].update(digest=layouts.sha256(mdata), size=len(mdata))
            (one / "index.json").write_text(json.dumps(index))
            ids[arch] = new_id
        index = json.loads((one / "index.json").read_text())
        descriptor = dict(index["manifests"][0])
        descriptor.pop("annotations", None)
        descriptor["platform"] = {"os": "linux", "architecture": arch}
        descriptors.append(descriptor)
        (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        for blob in (one / "blobs" / "sha256").iterdir():
            shutil.copy(blob, layout / "blobs" / "sha256" / blob.name)
        shutil.rmtree(one)
    index_doc = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": descriptors,
        }
    ).encode()
    (layout / "blobs" / "sha256" / layouts.sha256(index_doc)[7:]).write_bytes(index_doc)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "digest": layouts.sha256(index_doc),
                        "size": len(index_doc),
                        "annotations": {"org.opencontainers.image.ref.name": "t"},
                    }
                ],
            }
        )
    )
    registry.push_layout(layout, "t", name, all_images=True)
    with contextlib.suppress(OSError):
        shutil.rmtree(layout)
    return ids
