"""Keeping the garbage collector's full passes short while the engine holds a large, long-lived index.

CPython's collector walks every tracked object in a full pass, on whichever thread triggered it, holding the
GIL: with 20,000 compiled watches (about 20 objects each) a pass takes a few hundred milliseconds, a stall
of the event loop. The compiled watches and polling plans live until their watch changes, and they hold no
reference cycles (a removed watch is freed by reference counting), so they gain nothing from being walked.
`settle` moves everything alive into the collector's permanent generation (`gc.freeze`) after a young
collection, so later full passes walk only what was made since. Cyclic garbage already old at that moment
is kept rather than collected: the price, small next to the index, of passes that stay short.
"""

from __future__ import annotations

import gc

SETTLE_EVERY = 1000  # watch changes between two settles


class LongLivedHeap:
    """Freezes the engine's long-lived objects out of the collector's full passes, now and then."""

    def __init__(self, every: int = SETTLE_EVERY) -> None:
        self.every = every
        self._changes = 0

    def settle(self) -> None:
        """Collect the young generations, then freeze what is alive (both cheap: no full pass)."""
        self._changes = 0
        gc.collect(1)
        gc.freeze()

    def changed(self) -> None:
        """One watch changed: settle after every `every` changes."""
        self._changes += 1
        if self._changes >= self.every:
            self.settle()
