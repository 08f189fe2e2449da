"""verify.bounded_memo.BoundedMemo: the bound, the order entries go in, and a zero size."""

from __future__ import annotations

from verify.bounded_memo import BoundedMemo


def test_the_oldest_goes_and_a_kept_key_is_replaced_in_place() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(2)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.put("a", 10)  # already kept: nothing else goes
    assert (memo.get("a"), memo.get("b"), len(memo)) == (10, 2, 2)
    memo.put("c", 3)  # full: the first put goes, whatever was read since
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == (None, 2, 3, 2)
    memo.clear()
    assert len(memo) == 0 and memo.get("b") is None


def test_a_memo_of_size_zero_keeps_nothing() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(0)
    memo.put("a", 1)
    assert memo.get("a") is None and len(memo) == 0
