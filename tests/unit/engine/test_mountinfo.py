"""Mount points as /proc/self/mountinfo writes them: octal escapes for space, tab, newline
and backslash (the kernel's mangle), read back to the path."""

from __future__ import annotations

import pytest

from kubeplay.engine import mounts


@pytest.mark.parametrize(
    ("field", "path"),
    [
        pytest.param(b"/run/kubeplay/pods/a", b"/run/kubeplay/pods/a", id="plain-path"),
        pytest.param(rb"/mnt/my\040disk", b"/mnt/my disk", id="space-escaped"),
        pytest.param(rb"/mnt/a\011b\012c", b"/mnt/a\tb\nc", id="tab-and-newline-escaped"),
        pytest.param(rb"/mnt/back\134slash", b"/mnt/back\\slash", id="backslash-escaped"),
    ],
)
def test_mountinfo_field_unescaped(field: bytes, path: bytes) -> None:
    assert mounts._unescape(field) == path
