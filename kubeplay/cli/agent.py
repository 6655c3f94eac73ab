"""`python -m kubeplay agent --idle-exit`, the supervisor that commands start in the
background (`services.supervision.start_background`), without click and the other commands.

It stays up as long as pods need it, so every module it imports is memory that running pods
pay for, and its start-up competes for the CPU with the commands run right after the one that
started it. `kubeplay agent` typed by a user goes through `cli.main` as every command does.
"""

from __future__ import annotations

import sys

from kubeplay import settings as settings_mod
from kubeplay.errors import KubeplayError


def main() -> None:
    from kubeplay.services import supervision

    try:
        supervision.run_agent(settings_mod.load(), idle_exit=True)
    except KubeplayError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
