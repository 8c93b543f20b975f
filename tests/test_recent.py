"""The bounded caches keep what they were given, None included, and drop the oldest first."""

from __future__ import annotations

from baocao.recent import Recent


def test_a_none_made_is_kept_not_made_again():
    """ "Nothing to change" (None) is an answer: a sheet with no selected tab is not read again
    for every feedback workbook (``xlsxpatch._UNTABBED``)."""
    kept: Recent[str, int | None] = Recent(4)
    made: list[str] = []

    def make(key: str) -> int | None:
        made.append(key)
        return None if key == "none" else len(key)

    for key in ("none", "four", "none", "four"):
        assert kept.get(key, lambda key=key: make(key)) == (None if key == "none" else 4)
    assert made == ["none", "four"]


def test_the_least_recently_used_is_dropped_first():
    kept: Recent[int, int] = Recent(2)
    kept.put(1, 1)
    kept.put(2, 2)
    assert kept.get(1, lambda: -1) == 1  # 1 used again: 2 is now the oldest
    kept.put(3, 3)
    assert kept.find(2) is None and kept.find(1) == 1 and kept.find(3) == 3
