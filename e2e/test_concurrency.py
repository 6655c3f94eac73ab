"""Two kubeplay commands at once never corrupt the store or leave anything half-made."""

from __future__ import annotations

import re

import pytest

from e2e.conftest import IMAGE, SLEEPER, Kubeplay

pytestmark = pytest.mark.root


def sleeper(name: str) -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
        f'  - name: main\n    image: {IMAGE}\n    command: ["sh", "-c", "{SLEEPER}"]\n'
    )


def test_two_plays_of_the_same_file_at_once_one_wins_and_nothing_is_half_made(
    kp: Kubeplay,
) -> None:
    path = kp.write("pair.yaml", sleeper("alpha") + "---\n" + sleeper("beta"))
    results = kp.together(("play", str(path)), ("play", str(path)))
    assert sorted(r.returncode for r in results) == [0, 1], results
    won, lost = sorted(results, key=lambda r: r.returncode)
    assert sorted(won.stdout.split()) == ["created", "created", "pod/alpha", "pod/beta"]
    assert "already exists" in lost.stderr
    assert "Traceback" not in lost.stderr

    table = kp.ok("get", "pods")
    assert re.search(r"^alpha\s+1/1\s+Running\s+0\s", table, re.M), table
    assert re.search(r"^beta\s+1/1\s+Running\s+0\s", table, re.M), table
    assert len(table.strip().splitlines()) == 3
    # Two pods, an infra and an app container each: nothing of the loser is left.
    assert len(list((kp.runroot / "runtime").iterdir())) == 4
    # two pods' network, IPC and UTS namespace pins and /dev/shm, two container rootfs
    assert len(kp.mounts()) == 10
    assert kp.exec("alpha", "echo", "ok") == "ok\n"
    assert kp.exec("beta", "echo", "ok") == "ok\n"


def test_a_play_and_a_down_of_different_files_at_once_both_succeed(kp: Kubeplay) -> None:
    old = kp.write("old.yaml", sleeper("old"))
    new = kp.write("new.yaml", sleeper("new"))
    kp.play(old)
    down, play = kp.together(("down", str(old)), ("play", str(new)))
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "pod/old deleted"
    assert play.returncode == 0, play.stderr
    assert play.stdout.strip() == "pod/new created"
    assert kp.pod_names() == ["pod/new"]
    assert kp.pod("new")["status"]["phase"] == "Running"
    assert len(list((kp.runroot / "runtime").iterdir())) == 2
    assert len(kp.mounts()) == 5  # the netns, IPC and UTS pins, /dev/shm, the rootfs
