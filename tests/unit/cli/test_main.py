"""The command registry of `kubeplay` (cli.main.COMMANDS, a click LazyGroup): commands are
imported when run, but help, completion and unknown names behave as with every command
loaded."""

from __future__ import annotations

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from kubeplay.cli import main


def _all_names() -> list[str]:
    return sorted([*main.COMMANDS, "play", "version"])


@pytest.mark.parametrize("name", sorted(main.COMMANDS))
def test_each_registered_path_names_the_command_of_that_name(name: str) -> None:
    with click.Context(main.cli) as ctx:
        command = main.cli.get_command(ctx, name)
    assert isinstance(command, click.Command)
    assert command.name == name


def test_help_lists_every_command_with_its_short_help() -> None:
    res = CliRunner().invoke(main.cli, ["--help"])
    assert res.exit_code == 0, res.output
    listed = res.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == _all_names()
    assert all(len(line.split(maxsplit=1)) == 2 for line in listed), listed  # name, help


def test_an_unknown_command_is_refused_with_the_close_names_of_every_command() -> None:
    res = CliRunner().invoke(main.cli, ["gett", "pods"])
    assert res.exit_code == 2
    assert "No such command 'gett'." in res.output
    assert "'get'" in res.output  # `get` is registered by name, not loaded


def test_completion_offers_every_command() -> None:
    completion = ShellComplete(main.cli, {}, "kubeplay", "_KUBEPLAY_COMPLETE")
    offered = [item.value for item in completion.get_completions([], "")]
    assert offered == _all_names()
    assert [item.value for item in completion.get_completions(["generate"], "")] == [
        "kube",
        "systemd",
    ]
