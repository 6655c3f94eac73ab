"""kubeplay's nftables table, applied with `nft -f -`.

The ruleset text comes from `kubeplay.plan.network.render_nft_ruleset`, which already holds
the add/delete/define sequence, so one `nft -f` run replaces the table atomically (first run
included). `remove_nft_table` deletes it the same way, so a missing table is not an error.
No other table is ever touched.
"""

from __future__ import annotations

import re
import subprocess

from kubeplay import log
from kubeplay.errors import NetworkError

_log = log.get_logger(__name__)

NFT = "nft"
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def _run(script: str, *, what: str) -> None:
    argv = [NFT, "-f", "-"]
    try:
        proc = subprocess.run(argv, input=script, capture_output=True, text=True, check=False)
    except OSError as err:
        raise NetworkError(f"{what}: {NFT}: {err}", errno=err.errno) from err
    if proc.returncode != 0:
        last = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
        raise NetworkError(f"{what}: nft failed (exit {proc.returncode}): {last}")


def apply_nft(ruleset: str) -> None:
    """Replace kubeplay's table with `ruleset` in one transaction."""
    _run(ruleset, what="nft ruleset")
    _log.debug("nft_applied")


def remove_nft_table(table: str) -> None:
    """Delete kubeplay's `ip` table `table`; a missing table is fine."""
    if not _TABLE_NAME.match(table):
        raise NetworkError(f"nft table {table!r}: not a valid table name")
    _run(f"add table ip {table}\ndelete table ip {table}\n", what=f"nft table {table}")
    _log.debug("nft_table_removed", table=table)


def table_exists(table: str) -> bool:
    """Whether the `ip` table exists (for leftover checks)."""
    proc = subprocess.run(
        [NFT, "list", "tables", "ip"], capture_output=True, text=True, check=False
    )
    return f"table ip {table}" in proc.stdout.splitlines()
