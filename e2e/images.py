"""Test images built from the busybox rootfs tarball (KUBEPLAY_TEST_ROOTFS), no registry.

`build_httpd_rootfs` copies the tarball without the wget, nc and curl applet links (so a
probe that works must have been run by kubeplay from the host, not by a client inside the
image) and adds /var/www/healthz. `import_httpd_image(kp)` imports it as HTTPD_IMAGE, whose
command serves /var/www on port 80 with busybox httpd under a shell that exits on SIGTERM.
Note: /bin/busybox itself stays (it is the image's shell and httpd), so `busybox wget` would
still run; only the applet names are gone.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from e2e.conftest import Kubeplay

HTTPD_IMAGE = "localhost/kubeplay/httpd:latest"
REMOVED = ("wget", "nc", "curl")
HTTPD_PORT = 80
HTTPD_CMD = ["/bin/sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait $!"]


def build_httpd_rootfs(src: Path, out: Path) -> Path:
    """The busybox rootfs tarball `src` minus wget/nc/curl, plus /var/www/healthz ("ok")."""
    gone = {f"bin/{name}" for name in REMOVED}
    with tarfile.open(src) as tin, tarfile.open(out, "w") as tout:
        for member in tin.getmembers():
            if member.name.removeprefix("./") in gone:
                continue
            tout.addfile(member, tin.extractfile(member) if member.isfile() else None)
        body = b"ok\n"
        info = tarfile.TarInfo("./var/www/healthz")
        info.size, info.mode = len(body), 0o644
        tout.addfile(info, io.BytesIO(body))
    return out


def import_httpd_image(kp: Kubeplay) -> str:
    """Import the httpd image into the test's kubeplay; returns its reference."""
    tar = build_httpd_rootfs(kp.rootfs, kp.tmp / "httpd-rootfs.tar")
    kp.ok("image", "import", str(tar), HTTPD_IMAGE, "--change", f"CMD {json.dumps(HTTPD_CMD)}")
    return HTTPD_IMAGE
