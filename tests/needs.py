"""What a test needs from the machine: skip without it, or fail when CI requires it.

CI sets ``CDI_E2E_REQUIRED=1``: there a missing runtime, compiler or privilege is a failure,
not a skip, so that end-to-end tests cannot silently stop running.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

E2E_REQUIRED = os.environ.get("CDI_E2E_REQUIRED") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for *reason*, or fail it when end-to-end tests are required."""
    if E2E_REQUIRED:
        pytest.fail(f"CDI_E2E_REQUIRED=1 but end-to-end tests cannot run: {reason}")
    pytest.skip(reason)
