"""The systemd unit `kubeplay generate systemd` prints (no root needed)."""

from __future__ import annotations

import sys

from kubeplay.services import supervision


def test_unit_runs_the_agent_and_leaves_conmon_alone_on_restart() -> None:
    unit = supervision.systemd_unit(environ={"KUBEPLAY_ROOT": "/srv/kp", "HOME": "/root"})
    lines = unit.splitlines()
    assert f"ExecStart={sys.executable} -m kubeplay agent" in lines
    # KillMode=process: a restart of the unit signals the agent only, never the conmons
    # (and so the containers) in its cgroup.
    assert "KillMode=process" in lines
    assert "Restart=always" in lines
    assert 'Environment="KUBEPLAY_ROOT=/srv/kp"' in lines
    assert not any("HOME" in line for line in lines)
    assert "WantedBy=multi-user.target" in lines
    assert any(line.startswith("#") and "conmon" in line for line in lines)


def test_unit_without_kubeplay_variables_has_no_environment() -> None:
    assert "Environment=" not in supervision.systemd_unit(environ={"PATH": "/usr/bin"})


def test_systemd_unit_with_watched_directories() -> None:
    unit = supervision.systemd_unit(environ={}, watch=["/srv/manifests", "/srv/my apps"])
    watched = '--watch /srv/manifests --watch "/srv/my apps"'
    assert f"ExecStart={sys.executable} -m kubeplay agent {watched}" in unit.splitlines()


def test_a_background_supervisor_gets_this_very_install() -> None:
    """Tests drive services with Settings objects: the child must not fall back to the
    default roots (a real install)."""
    from pathlib import Path

    from kubeplay import settings as settings_mod

    mine = settings_mod.Settings(
        root=Path("/tmp/r"), runroot=Path("/tmp/rr"), bridge="kpx", backoff_base=0.5
    )
    environ = settings_mod.to_environ(mine)
    assert environ["KUBEPLAY_RUNROOT"] == "/tmp/rr"
    assert settings_mod.load({"KUBEPLAY_CONFIG": "/nonexistent", **environ}) == mine
