"""Label selectors as `kubectl get -l` reads them: `app=web,tier!=db,env in (a,b),!legacy,x`,
and field selectors as `--field-selector` (`involvedObject.kind=Pod,type!=Normal`).

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


# --- field selectors -----------------------------------------------------------------------

# The fields the API server selects events by (pkg/apis/core/v1/conversion.go,
# AddFieldLabelConversionsForEvent).
EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
        "metadata.name",
        "metadata.namespace",
    }
)


class FieldRequirement(NamedTuple):
    field: str
    op: str  # = !=
    value: str


def parse_fields(text: str, *, supported: frozenset[str]) -> tuple[FieldRequirement, ...]:
    """`--field-selector` as fields.ParseSelector reads it: `f=v`, `f==v`, `f!=v`, joined by
    commas, all must hold (`\\,` and `\\=` escape). A field the kind cannot be selected by is
    the API server's `field label not supported`."""
    out: list[FieldRequirement] = []
    for part in _split_escaped(text) if text.strip() else []:
        op = next((o for o in ("!=", "==", "=") if _find_unescaped(part, o) >= 0), "")
        if not op:
            raise UsageError(f"invalid selector: '{text}'; can't understand '{part}'")
        at = _find_unescaped(part, op)
        field, value = part[:at].strip(), _unescape(part[at + len(op) :].strip())
        if field not in supported:
            raise UsageError(f'field label not supported: {field} (field selector "{text}")')
        out.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
    return tuple(out)


def fields_match(requirements: tuple[FieldRequirement, ...], fields: Mapping[str, str]) -> bool:
    return all((fields.get(r.field, "") == r.value) == (r.op == "=") for r in requirements)


def _split_escaped(text: str) -> list[str]:
    parts: list[str] = []
    current = ""
    escaped = False
    for ch in text:
        if escaped:
            current += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current + ("\\" if escaped else ""))
    return parts


def _find_unescaped(text: str, op: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(op, i):
            return i
        i += 1
    return -1


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
