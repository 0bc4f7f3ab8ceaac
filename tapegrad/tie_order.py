"""Which of equal elements torch's CPU kernels pick: their selection algorithms replayed on one
line (in Python: used only for lines that hold ties, where the answer depends on the
algorithm's steps -- otherwise any correct sort agrees).

- ``std_sort``: libstdc++'s ``std::sort`` (introsort: median-of-three pivot, unguarded
  partition, insertion sort below 17 elements), as ``torch.sort(stable=False)`` runs it.
- ``topk_order``: ``std::partial_sort`` (k * 64 <= n) or ``std::nth_element`` then
  ``std::sort`` of the first k - 1, as ``torch.topk``.
- ``quickselect``: torch's own ``quick_select_template``, as ``torch.kthvalue``.
- ``first_of_equals``: ``std::nth_element(first, first, last)`` over equivalent elements (an
  all-NaN line of ``torch.nanmedian``).

Each works on a list of ``(value, index)`` pairs with a strict weak order ``less``.
"""

from __future__ import annotations

import numpy as np


def _ascending(x, y) -> bool:  # NaN the largest
    return x[0] < y[0] or (y[0] != y[0] and x[0] == x[0])


def _descending(x, y) -> bool:  # NaN the largest, first
    return x[0] > y[0] or (x[0] != x[0] and y[0] == y[0])


class _Line:
    """libstdc++'s algorithms on ``a`` (a list) with ``less``."""

    def __init__(self, a: list, less) -> None:
        self.a, self.less = a, less

    def insertion_sort(self, first: int, last: int) -> None:
        a, less = self.a, self.less
        for i in range(first + 1, last):
            val = a[i]
            if less(val, a[first]):
                a[first + 1:i + 1] = a[first:i]
                a[first] = val
            else:
                self.linear_insert(i)

    def linear_insert(self, last: int) -> None:
        a, less = self.a, self.less
        val, nxt = a[last], last - 1
        while less(val, a[nxt]):
            a[last] = a[nxt]
            last, nxt = nxt, nxt - 1
        a[last] = val

    def partition_pivot(self, first: int, last: int) -> int:
        a, less = self.a, self.less
        mid = first + (last - first) // 2
        x, y, z = first + 1, mid, last - 1
        if less(a[x], a[y]):
            pick = y if less(a[y], a[z]) else (z if less(a[x], a[z]) else x)
        else:
            pick = x if less(a[x], a[z]) else (z if less(a[y], a[z]) else y)
        a[first], a[pick] = a[pick], a[first]
        lo, hi, pivot = first + 1, last, a[first]
        while True:
            while less(a[lo], pivot):
                lo += 1
            hi -= 1
            while less(pivot, a[hi]):
                hi -= 1
            if not lo < hi:
                return lo
            a[lo], a[hi] = a[hi], a[lo]
            lo += 1

    def adjust_heap(self, first: int, hole: int, length: int, value) -> None:
        a, less = self.a, self.less
        top, child = hole, hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(a[first + child], a[first + child - 1]):
                child -= 1
            a[first + hole] = a[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and less(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole, parent = parent, (parent - 1) // 2
        a[first + hole] = value

    def heap_select(self, first: int, middle: int, last: int) -> None:
        a, less = self.a, self.less
        length = middle - first
        if length >= 2:
            parent = (length - 2) // 2
            while True:
                self.adjust_heap(first, parent, length, a[first + parent])
                if parent == 0:
                    break
                parent -= 1
        for i in range(middle, last):
            if less(a[i], a[first]):
                value = a[i]
                a[i] = a[first]
                self.adjust_heap(first, 0, length, value)

    def sort_heap(self, first: int, last: int) -> None:
        a = self.a
        while last - first > 1:
            last -= 1
            value = a[last]
            a[last] = a[first]
            self.adjust_heap(first, 0, last - first, value)

    def introsort(self, first: int, last: int, depth: int) -> None:
        while last - first > 16:
            if depth == 0:
                self.heap_select(first, last, last)
                self.sort_heap(first, last)
                return
            depth -= 1
            cut = self.partition_pivot(first, last)
            self.introsort(cut, last, depth)
            last = cut

    def sort(self, first: int, last: int) -> None:
        if last - first < 1:
            return
        self.introsort(first, last, 2 * ((last - first).bit_length() - 1))
        if last - first > 16:
            self.insertion_sort(first, first + 16)
            for i in range(first + 16, last):
                self.linear_insert(i)
        else:
            self.insertion_sort(first, last)

    def nth_element(self, nth: int) -> None:
        first, last = 0, len(self.a)
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self.heap_select(first, nth + 1, last)
                self.a[first], self.a[nth] = self.a[nth], self.a[first]
                return
            depth -= 1
            cut = self.partition_pivot(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self.insertion_sort(first, last)


def _pairs(line: np.ndarray) -> list:
    return list(zip(line.tolist(), range(len(line)), strict=True))


def _plain(x, y) -> bool:  # (torch.mode's: NaN compares false both ways)
    return x[0] < y[0]


def std_sort(line: np.ndarray, descending: bool, plain: bool = False) -> np.ndarray:
    """The order ``torch.sort(stable=False)`` gives ``line`` (``plain``: the order
    ``torch.mode`` sorts by, a bare ``<``)."""
    less = _plain if plain else (_descending if descending else _ascending)
    work = _Line(_pairs(line), less)
    work.sort(0, len(work.a))
    return np.array([i for _, i in work.a], np.int64)


def topk_order(line: np.ndarray, k: int, largest: bool, sorted: bool = True) -> np.ndarray:  # noqa: A002
    """The indices (in order) ``torch.topk(line, k, largest=largest, sorted=sorted)``
    gives."""
    work = _Line(_pairs(line), _descending if largest else _ascending)
    n = len(work.a)
    if k == 0:
        return np.zeros(0, np.int64)
    if k * 64 <= n:
        work.heap_select(0, k, n)
        work.sort_heap(0, k)
    else:
        work.nth_element(k - 1)
        if sorted:
            work.sort(0, k - 1)
    return np.array([i for _, i in work.a[:k]], np.int64)


def quickselect(line: np.ndarray, k: int) -> int:
    """The index ``torch.kthvalue`` picks as the ``k``-th smallest (0-based) of ``line``."""
    arr, idx = line.tolist(), list(range(len(line)))

    def gt(a, b) -> bool:
        return (a != a and b == b) or a > b

    def swap(i: int, j: int) -> None:
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]

    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if gt(arr[lo], arr[hi]):
                swap(lo, hi)
            break
        swap(lo + (hi - lo) // 2, lo + 1)
        if gt(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if gt(arr[lo], arr[hi]):
            swap(lo, hi)
        if gt(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, pivot = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while gt(pivot, arr[i]):
                i += 1
            j -= 1
            while gt(arr[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return idx[k]


def first_of_equals(n: int) -> int:
    """The index ``std::nth_element(first, first, last)`` leaves first among ``n`` equivalent
    elements."""
    work = _Line([(0.0, i) for i in range(n)], lambda x, y: False)
    work.nth_element(0)
    return work.a[0][1] if n else 0
