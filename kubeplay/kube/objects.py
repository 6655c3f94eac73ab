"""KubeObject: one Kubernetes object read from a manifest, with where it came from.

The body stays a plain dict (validated by the strict schema); TypedDict views elsewhere name
the fields kubeplay reads. `source`, `doc_index` (1-based, as people count documents) and
`line` (1-based line of the document's start in the file) let every error point at the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class KubeObject:
    body: dict[str, Any]
    source: str = "<memory>"
    doc_index: int = 1
    line: int = 1
    # Line numbers of field paths inside this document ("spec.containers[0].image" -> 12),
    # filled by the loader where it can; used to point errors at the exact line.
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        """`metadata` when it is a mapping (an unvalidated file may hold anything there)."""
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        meta = self.metadata
        return str(meta.get("name", "") or meta.get("generateName", ""))

    @property
    def namespace(self) -> str:
        meta = self.metadata
        return str(meta.get("namespace") or "default")

    def line_of(self, path: str) -> int:
        """Best line for a field path: the path itself, else its nearest known parent."""
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return self.line


@dataclass(frozen=True, slots=True)
class Warning:
    """A valid field kubeplay does not implement (or ignores on one host).

    One per field per play: `also` names the other objects (`Pod b`, `Deployment web`) that
    set the same field with the same message (see `validate.merge_warnings`).
    """

    source: str
    doc_index: int
    kind: str
    name: str
    path: str
    message: str
    also: tuple[str, ...] = ()

    def render(self) -> str:
        where = f"{self.source}: document {self.doc_index} ({self.kind} {self.name})"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if not self.also:
            return text
        shown = ", ".join(self.also[:ALSO_SHOWN])
        more = f" and {len(self.also) - ALSO_SHOWN} more" if len(self.also) > ALSO_SHOWN else ""
        return f"{text} (also in {shown}{more})"


# How many other objects a merged warning names before it only counts them.
ALSO_SHOWN = 5
