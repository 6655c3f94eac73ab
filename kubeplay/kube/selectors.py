"""Label selectors as `kubectl get -l` reads them: `app=web,tier!=db,env in (a,b),!legacy,x`.

`parse` turns the text into requirements (labels.Parse of apimachinery: `=`, `==`, `!=`,
`in`, `notin`, existence and `!` non-existence, joined by commas, all must hold); `matches`
checks a label map. Bad text raises UsageError with the offending part. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from kubeplay.errors import UsageError


class Requirement(NamedTuple):
    key: str
    op: str  # = != in notin exists !
    values: frozenset[str]


_SET = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)\s*$")
_KEY = re.compile(r"^\s*(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*$")


def _split(text: str) -> list[str]:
    """Commas outside parentheses separate requirements."""
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def parse(text: str) -> tuple[Requirement, ...]:
    out: list[Requirement] = []
    if not text.strip():
        return ()
    for part in _split(text):
        if m := _SET.match(part):
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            out.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ.match(part):
            op = "!=" if m.group(2) == "!=" else "="
            out.append(Requirement(m.group(1), op, frozenset({m.group(3)})))
        elif m := _KEY.match(part):
            out.append(Requirement(m.group(2), "!" if m.group(1) else "exists", frozenset()))
        else:
            raise UsageError(f"unable to parse requirement: {part.strip()!r}")
    return tuple(out)


def matches(requirements: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    for req in requirements:
        value = labels.get(req.key)
        if req.op == "=" and value not in req.values:
            return False
        if req.op == "in" and value not in req.values:
            return False
        if req.op == "!=" and value in req.values:
            return False
        if req.op == "notin" and value in req.values:
            return False
        if req.op == "exists" and value is None:
            return False
        if req.op == "!" and value is not None:
            return False
    return True
