"""The date-bomb guard itself: under `make test-travel` this process and the processes it starts are at that date."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

TRAVEL = os.environ.get("SOCMINT_TEST_TRAVEL")

pytestmark = pytest.mark.skipif(not TRAVEL, reason="only under make test-travel (SOCMINT_TEST_TRAVEL)")


def test_this_process_and_its_children_travel() -> None:
    target = datetime.fromisoformat(TRAVEL or "").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - target).total_seconds()) < 3600
    child = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True,
                           text=True, check=True)
    assert abs(float(child.stdout) - target.timestamp()) < 3600
