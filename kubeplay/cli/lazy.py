"""click's lazily loading group (the LazyGroup pattern of click's documentation): a command
is registered by the import path of its module and imported only when it is invoked.

`kubeplay get pods` so imports `get` and what it uses, not the modules of the other thirty
commands. Listing the commands (`--help`, shell completion) imports them all, to show each
one's short help; an unknown name is refused, with click's suggestions, without importing any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click


class LazyGroup(click.Group):
    """A group whose `lazy` commands are `{"name": "package.module:attribute"}`."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        path = self.lazy.get(cmd_name)
        if path is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = path.partition(":")
        # the import statement's machinery, not importlib.import_module: `python -X importtime`
        # (how start-up is measured) logs only what goes through it
        command = getattr(__import__(module, fromlist=[attribute]), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{path} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as err:
            # click suggests close names among the loaded commands only: offer every name
            raise click.exceptions.NoSuchCommand(
                err.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None
