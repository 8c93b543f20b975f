"""Small bounded caches for what is derived, again and again, from bytes that repeat.

Why: every file made from one template carries the same workbook, styles, relationships and
guide-sheet parts byte for byte, so the template reader (inflating and checking them) and the
feedback writer (parsing them to mark a sheet up) each work a part out once per process, not
once per file. A cached value is keyed by what it was made from (the part's bytes, or its
compressed bytes with method, CRC and size), so it is the value that would be made again; at
most ``size`` are kept, the least recently used dropped first, so a run of 10,000 files from
many templates holds no more than a few of each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import ClassVar, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


_ABSENT = object()  # what ``Recent.get`` finds for a key it does not keep


class Recent(Generic[K, V]):
    """The last ``size`` values by key, the least recently used dropped first."""

    instances: ClassVar[list[Recent]] = []

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.kept: OrderedDict[K, V] = OrderedDict()
        Recent.instances.append(self)

    @classmethod
    def clear_all(cls) -> None:
        """Forget every cached value (tests compare a cold start with a warm one)."""
        for recent in cls.instances:
            recent.kept.clear()

    def find(self, key: K) -> V | None:
        found = self.kept.get(key)
        if found is not None:
            self.kept.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self.kept[key] = value
        self.kept.move_to_end(key)
        if len(self.kept) > self.size:
            self.kept.popitem(last=False)

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, else ``make()`` kept and returned (a None made is kept
        too: "nothing to change" is an answer worth keeping, not a miss)."""
        found = self.kept.get(key, _ABSENT)
        if found is _ABSENT:
            made = make()
            self.put(key, made)
            return made
        self.kept.move_to_end(key)
        return found  # type: ignore[return-value]  # not _ABSENT: a V


def remembered(function: Callable[..., R]) -> Callable[..., R]:
    """``function`` (pure, of hashable arguments) with its last 64 results kept."""
    kept: Recent[tuple, R] = Recent(64)

    def remembering(*args: Hashable) -> R:
        return kept.get(args, lambda: function(*args))

    remembering.__doc__ = function.__doc__
    remembering.__name__ = function.__name__
    return remembering
