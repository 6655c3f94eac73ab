"""skopeo as kubeplay's image transport: inspect, copy, login and logout.

Thin: one skopeo command per call, no policy. skopeo reads what users already have, so
kubeplay gets it for free: registries.conf (mirrors, insecure and blocked registries;
$CONTAINERS_REGISTRIES_CONF), the auth files (REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/
containers/auth.json, ~/.docker/config.json; `authfile` overrides them) and podman's storage
(`containers-storage:`, $CONTAINERS_STORAGE_CONF). Errors become TransportError carrying
skopeo's own message (`reading manifest 1 in 127.0.0.1:5000/app: manifest unknown`), which is
what a user sees as the ErrImagePull message; for the failures a user fixes with a flag or a
login (an untrusted certificate, a plain-HTTP registry, missing credentials) a hint naming
it is appended. $CONTAINERS_REGISTRIES_CONF, which podman
honours and skopeo 1.9 does not, is passed on as `--registries-conf`. Called by pulls.py
and the services.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubeplay.errors import ImageError
from kubeplay.log import get_logger

log = get_logger(__name__)

_FATAL = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')
_NAME_PREFIX = re.compile(r'^Error parsing image name \\?"[^"\\]*\\?": ')
# skopeo reports these only as text (containers/image wraps Go's errors in strings).
_HINTS = (
    (
        "x509: ",
        "the registry's certificate is not trusted: --cert-dir DIR with its CA as DIR/ca.crt,"
        " or --tls-verify=false",
    ),
    (
        "server gave HTTP response to HTTPS client",
        "a plain-HTTP registry: --tls-verify=false, or insecure = true for it in registries.conf",
    ),
    (
        "unauthorized: authentication required",
        "log in with `kubeplay login REGISTRY`, or give --authfile",
    ),
)


class TransportError(ImageError):
    """skopeo failed; the message is skopeo's own (without its log decoration)."""


@dataclass(frozen=True, slots=True)
class Options:
    """How to reach registries: what `--tls-verify`, `--authfile` and `--cert-dir` say."""

    tls_verify: bool | None = None  # None: as registries.conf says (insecure = true or not)
    authfile: str = ""  # "": skopeo's defaults (REGISTRY_AUTH_FILE, auth.json locations)
    cert_dir: str = ""


def skopeo_message(stderr: str, returncode: int) -> str:
    """The reason skopeo gave, from its `level=fatal msg="..."` line or its last line, with
    a hint when the failure is one a flag or a login fixes."""
    matches = _FATAL.findall(stderr)
    if matches:
        text = str(_NAME_PREFIX.sub("", json.loads(f'"{matches[-1]}"')))
    else:
        lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
        text = lines[-1] if lines else f"skopeo exited {returncode}"
    for needle, hint in _HINTS:
        if needle in text:
            return f"{text} ({hint})"
    return text


def _tls_args(options: Options, flag: str) -> list[str]:
    args = []
    if options.tls_verify is not None:
        args.append(f"{flag}={'true' if options.tls_verify else 'false'}")
    return args


def _source_args(options: Options, *, copy: bool) -> list[str]:
    prefix = "--src-" if copy else "--"
    args = _tls_args(options, f"{prefix}tls-verify")
    if options.authfile:
        args += [f"{prefix}authfile" if copy else "--authfile", options.authfile]
    if options.cert_dir:
        args += [f"{prefix}cert-dir", options.cert_dir]
    return args


class Skopeo:
    def __init__(self, binary: str = "skopeo", *, tmpdir: Path | None = None) -> None:
        self.binary = binary
        self.tmpdir = tmpdir

    def _argv(self, *args: str) -> list[str]:
        extra = ["--tmpdir", str(self.tmpdir)] if self.tmpdir else []
        conf = os.environ.get("CONTAINERS_REGISTRIES_CONF")
        if conf:  # podman honours the variable; skopeo 1.9 only its (hidden) flag
            extra += ["--registries-conf", conf]
        return [self.binary, *extra, *args]

    def _run(self, argv: list[str], *, what: str, stdin: str | None = None) -> bytes:
        log.debug("skopeo", argv=argv)
        try:
            proc = subprocess.run(
                argv,
                input=stdin.encode() if stdin is not None else None,
                capture_output=True,
                check=False,
            )
        except OSError as err:
            raise TransportError(f"{what}: cannot run {self.binary}: {err.strerror}") from err
        if proc.returncode != 0:
            stderr = proc.stderr.decode(errors="replace")
            raise TransportError(f"{what}: {skopeo_message(stderr, proc.returncode)}")
        return proc.stdout

    def inspect_raw(self, source: str, options: Options, *, config: bool = False) -> bytes:
        """The manifest (or with `config`, the config blob) of `source`, byte for byte."""
        args = ["inspect", "--raw", *(["--config"] if config else [])]
        argv = self._argv(*args, *_source_args(options, copy=False), source)
        return self._run(argv, what=source)

    def copy(
        self,
        source: str,
        dest: str,
        options: Options,
        *,
        extra: tuple[str, ...] = (),
    ) -> subprocess.Popen[bytes]:
        """Start `skopeo copy SOURCE DEST`; the caller watches it and calls `finish`."""
        args = ("copy", "--quiet", *_source_args(options, copy=True), *extra, source, dest)
        argv = self._argv(*args)
        log.debug("skopeo", argv=argv)
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as err:
            raise TransportError(f"{source}: cannot run {self.binary}: {err.strerror}") from err

    @staticmethod
    def finish(proc: subprocess.Popen[bytes], *, what: str) -> None:
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            message = skopeo_message(stderr.decode(errors="replace"), proc.returncode)
            raise TransportError(f"{what}: {message}")

    def login(self, registry: str, *, username: str, password: str, options: Options) -> None:
        """`skopeo login`: checks the credentials against the registry, then stores them."""
        args = ["login", "--username", username, "--password-stdin"]
        args += _tls_args(options, "--tls-verify")
        if options.authfile:
            args += ["--authfile", options.authfile]
        if options.cert_dir:
            args += ["--cert-dir", options.cert_dir]
        self._run(self._argv(*args, registry), what=f"login {registry}", stdin=password)

    def logout(self, registry: str, *, options: Options, all_registries: bool = False) -> None:
        args = ["logout", *(["--authfile", options.authfile] if options.authfile else [])]
        args += ["--all"] if all_registries else [registry]
        self._run(self._argv(*args), what=f"logout {registry or '--all'}")


def load_json(data: bytes, *, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as err:
        raise ImageError(f"{what}: not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise ImageError(f"{what}: not a JSON object")
    return doc


def storage_graphroot(environ: dict[str, str] | None = None) -> Path:
    """Where podman keeps images: graphroot of storage.conf ($CONTAINERS_STORAGE_CONF,
    /etc/containers/storage.conf, /usr/share/containers/storage.conf), as root."""
    env = os.environ if environ is None else environ
    candidates = [env.get("CONTAINERS_STORAGE_CONF", "")]
    candidates += ["/etc/containers/storage.conf", "/usr/share/containers/storage.conf"]
    for name in candidates:
        if not name or not os.path.isfile(name):
            continue
        import tomllib

        try:
            with open(name, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError):
            continue
        root = (data.get("storage") or {}).get("graphroot")
        if root:
            return Path(str(root))
        break
    return Path("/var/lib/containers/storage")
