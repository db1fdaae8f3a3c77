"""Variable expansion in Dockerfile words (BuildKit's shell lexer)."""

from __future__ import annotations

from typing import Any

import pytest

from cdi.build.expand import ExpansionError, expand
from tables import cases


@cases("build/expand.yaml")
def test_expand_vectors(case: dict[str, Any]) -> None:
    env = {str(k): str(v) for k, v in case["env"].items()}
    if "error" in case:
        with pytest.raises(ExpansionError) as raised:
            expand(case["word"], env)
        assert str(raised.value) == case["error"]
    else:
        assert expand(case["word"], env) == case["result"]


def test_backtick_escape() -> None:
    assert expand("`$A", {"A": "v"}, escape="`") == "$A"
    assert expand("\\$A", {"A": "v"}, escape="`") == "\\v"


def test_heredoc_mode_keeps_quotes() -> None:
    assert expand("say '$A' \"$A\"", {"A": "v"}, quotes=False) == "say 'v' \"v\""
