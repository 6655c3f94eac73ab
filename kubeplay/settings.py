"""Settings: where kubeplay keeps its state and which host tools it uses.

Read once per command from, in increasing priority: built-in defaults, the TOML file named by
$KUBEPLAY_CONFIG (default /etc/kubeplay/kubeplay.toml, optional), and KUBEPLAY_* environment
variables. Tests give every case its own roots, bridge and subnet through these variables, so a
test never touches a real install.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    root: Path = Path("/var/lib/kubeplay")
    runroot: Path = Path("/run/kubeplay")
    # "auto" picks crun where it works on this host, else runc; or a name or a path.
    runtime: str = "auto"
    conmon: str = "conmon"
    catatonit: str = "/usr/bin/catatonit"
    skopeo: str = "skopeo"
    seccomp_profile: Path = Path("/usr/share/containers/seccomp.json")
    # Networking (used from the networking issue on).
    bridge: str = "kubeplay0"
    subnet: str = "10.90.0.0/24"  # podman's default network is 10.89.0.0/24
    # Services' cluster IPs (kind's range); routed to the bridge, so it must not overlap a LAN.
    service_cidr: str = "10.96.0.0/16"
    # Upstream resolvers for pod DNS (dnsmasq on the bridge); "none" answers pod names only.
    dns_upstream: str = "/etc/resolv.conf"
    # Kubernetes version whose schema validates manifests; "" = newest bundled.
    kube_version: str = ""
    # How many pods play works on at once; down signals all at once and bounds only its
    # runtime calls and clean-up by this.
    parallelism: int = 8
    # Backoff for restarts (supervision issue): base and cap in seconds.
    backoff_base: float = 10.0
    backoff_cap: float = 300.0
    # Each container's pids cgroup limit (podman's default); 0 or less: unlimited.
    pids_limit: int = 2048
    # Watched sources: file events are debounced this long, and an object that would
    # disappear from a file waits for the file to look the same this long apart.
    watch_debounce: float = 0.15
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def schema_cache_dir(self) -> Path:
        """Compiled manifest schemas, per kubernetes-validate and Kubernetes version."""
        return self.root / "cache" / "schemas"

    @property
    def pods_dir(self) -> Path:
        return self.root / "pods"

    @property
    def volumes_dir(self) -> Path:
        return self.root / "volumes"

    @property
    def runtime_root(self) -> Path:
        """--root of runc/crun: runtime state scoped to this install."""
        return self.runroot / "runtime"

    @property
    def exits_dir(self) -> Path:
        """conmon's exit files: under the state root, so that a container that had finished
        before a reboot is still seen finished (its exit code) after it."""
        return self.root / "exits"

    @property
    def locks_dir(self) -> Path:
        return self.runroot / "locks"

    @property
    def netns_dir(self) -> Path:
        return self.runroot / "netns"

    @property
    def nft_table(self) -> str:
        """kubeplay's own nftables table, one per bridge (tests use their own bridges)."""
        return "kubeplay_" + self.bridge.replace("-", "_")


_ENV = {
    "KUBEPLAY_ROOT": "root",
    "KUBEPLAY_RUNROOT": "runroot",
    "KUBEPLAY_RUNTIME": "runtime",
    "KUBEPLAY_CONMON": "conmon",
    "KUBEPLAY_CATATONIT": "catatonit",
    "KUBEPLAY_SKOPEO": "skopeo",
    "KUBEPLAY_SECCOMP_PROFILE": "seccomp_profile",
    "KUBEPLAY_BRIDGE": "bridge",
    "KUBEPLAY_SUBNET": "subnet",
    "KUBEPLAY_SERVICE_CIDR": "service_cidr",
    "KUBEPLAY_DNS_UPSTREAM": "dns_upstream",
    "KUBEPLAY_KUBE_VERSION": "kube_version",
    "KUBEPLAY_PARALLELISM": "parallelism",
    "KUBEPLAY_BACKOFF_BASE": "backoff_base",
    "KUBEPLAY_BACKOFF_CAP": "backoff_cap",
    "KUBEPLAY_PIDS_LIMIT": "pids_limit",
    "KUBEPLAY_WATCH_DEBOUNCE": "watch_debounce",
}


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "Path":
        return Path(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)


def to_environ(settings: Settings) -> dict[str, str]:
    """The KUBEPLAY_* variables with which `load()` in a child process gives `settings` back
    (a supervisor started in the background must work on this very install)."""
    return {var: str(getattr(settings, name)) for var, name in _ENV.items()}


def load(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config = Path(env.get("KUBEPLAY_CONFIG", "/etc/kubeplay/kubeplay.toml"))
    if config.is_file():
        import tomllib

        with config.open("rb") as fh:
            data = tomllib.load(fh)
        known = {f.name for f in fields(Settings)} - {"extra"}
        for key, value in data.items():
            if key in known:
                values[key] = _coerce(key, value)
    for var, name in _ENV.items():
        if env.get(var):
            values[name] = _coerce(name, env[var])
    return replace(Settings(), **values)
