"""Whether a spec on disk is what a generator would write now (``--compare FILE``).

amd-ctk's ``validate`` regenerates the spec and compares it with the file as data structures
(yes or no). Here both are rendered the way a generator writes YAML and diffed, so the answer
says what changed: a renumbered render node, a GPU that came or went, a new ``cdiVersion``.
Rendering first makes the comparison blind to what does not change a spec's meaning to a
runtime reading it: JSON or YAML, key order, quoting, comments.
"""

from __future__ import annotations

import difflib

from cdi.spec.goencode import encode_go
from cdi.spec.model import Spec

__all__ = ["compare_specs"]


def compare_specs(existing: Spec, fresh: Spec) -> list[str]:
    """The unified diff (lines without their newline) from *existing* to *fresh*, both
    rendered as YAML; empty when they are the same spec."""
    before = encode_go(existing, "yaml").decode("utf-8").splitlines()
    after = encode_go(fresh, "yaml").decode("utf-8").splitlines()
    if before == after:
        return []
    return list(difflib.unified_diff(before, after, "existing", "generated", lineterm=""))
