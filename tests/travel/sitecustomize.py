"""Moves this process's clock to `SOCMINT_TEST_TRAVEL` (an ISO date) when set: the date-bomb guard.

The test session puts this folder on PYTHONPATH while travelling, so the `socmint` processes that
tests start see the same moved clock as the tests that talk to them.
"""

import os

_dest = os.environ.get("SOCMINT_TEST_TRAVEL")
if _dest:
    import time_machine

    time_machine.travel(_dest, tick=True).start()
