"""Exact lexicographic one-to-one assignment: the solver under the metric's matching rule.

The metric (METRICS.md, "Matching") chooses, among all one-to-one assignments of a ``(m, n)``
matrix (``min(m, n)`` pairs), the one that maximises a *sequence* of totals in priority order:
total similarity, then the number of true positives, then the APL weight, and so on. Each key
is an integer matrix, so the comparison is exact; :func:`lexicographic_assignment` solves the
whole sequence as **one** assignment problem on a composite integer cost in which every key is
scaled above the largest total the lower-priority keys can reach::

    composite = (((k1 * B2 + k2') * B3 + k3') ...)   with  Bi = K * span(ki) + 1

(``ki'`` is ``ki`` minus its minimum, ``K = min(m, n)`` the number of pairs; subtracting a
constant from every entry shifts every assignment's total equally, so the order is kept). Two
assignments then compare on the composite total exactly as they compare on the key sequence.

The composite is solved with ``scipy.optimize.linear_sum_assignment`` when its magnitude keeps
every intermediate sum of that float64 solver exact (integers well below 2**53), which holds for
any realistic video (up to a few dozen pairs); beyond that an integer Hungarian algorithm
(shortest augmenting paths, int64 or Python integers) gives the same optimum exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_FLOAT_EXACT = 2**53
_INT64_SAFE = 2**62


def _composite(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """The composite key matrix (object dtype, Python integers) and its largest entry."""
    k = min(keys[0].shape)
    comp: np.ndarray | None = None
    bound = 0
    for key in keys:
        key = np.asarray(key)
        if key.shape != keys[0].shape:
            raise ValueError(f"key matrices differ in shape: {key.shape} vs {keys[0].shape}")
        if not np.issubdtype(key.dtype, np.integer) and key.dtype != bool:
            raise TypeError(f"key matrices must hold integers, got {key.dtype}")
        lo, hi = int(key.min()), int(key.max())
        shifted = (key.astype(object) - lo) if key.size else key.astype(object)
        if comp is None:
            comp, bound = shifted, hi - lo
        else:
            base = k * (hi - lo) + 1
            comp = comp * base + shifted
            bound = bound * base + (hi - lo)
    assert comp is not None
    return comp, bound


def _hungarian(cost: np.ndarray, big: int) -> np.ndarray:
    """Minimum-cost assignment of every row of ``cost`` (rows <= columns), exactly in the
    dtype of ``cost`` (int64 or object); returns the column of each row.

    The classic shortest-augmenting-path Hungarian algorithm with row and column potentials;
    ``big`` exceeds any reduced cost it meets."""
    n_rows, n_cols = cost.shape
    dtype = cost.dtype
    u = np.zeros(n_rows + 1, dtype=dtype)
    v = np.zeros(n_cols + 1, dtype=dtype)
    owner = np.zeros(n_cols + 1, dtype=np.int64)  # row (1-based) holding each column; 0 = free
    way = np.zeros(n_cols + 1, dtype=np.int64)
    padded = np.zeros((n_rows + 1, n_cols + 1), dtype=dtype)
    padded[1:, 1:] = cost
    for row in range(1, n_rows + 1):
        owner[0] = row
        col0 = 0
        minv = np.full(n_cols + 1, big, dtype=dtype)
        used = np.zeros(n_cols + 1, dtype=bool)
        while True:
            used[col0] = True
            r0 = int(owner[col0])
            free = ~used
            free[0] = False
            cur = padded[r0] - u[r0] - v
            better = free & (cur < minv)
            minv[better] = cur[better]
            way[better] = col0
            cand = np.flatnonzero(free)
            col1 = int(cand[np.argmin(minv[cand])])
            delta = minv[col1]
            held = np.flatnonzero(used)
            u[owner[held]] += delta
            v[held] -= delta
            minv[free] -= delta
            col0 = col1
            if owner[col0] == 0:
                break
        while col0:
            col1 = int(way[col0])
            owner[col0] = owner[col1]
            col0 = col1
    cols = np.zeros(n_rows, dtype=np.int64)
    for col in range(1, n_cols + 1):
        if owner[col]:
            cols[owner[col] - 1] = col - 1
    return cols


def lexicographic_assignment(
    keys: Sequence[np.ndarray], *, method: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """The one-to-one assignment maximising the totals of ``keys`` lexicographically.

    ``keys`` are integer matrices of one shape ``(m, n)``, highest priority first. Returns
    ``(rows, cols)`` of the ``min(m, n)`` assigned pairs, sorted by row. ``method`` is
    ``"auto"`` (scipy when provably exact, else the integer solver), ``"scipy"`` or
    ``"integer"`` (for tests; ``"scipy"`` refuses a composite too large to be exact).
    """
    if not keys:
        raise ValueError("at least one key matrix is needed")
    shape = np.asarray(keys[0]).shape
    if len(shape) != 2:
        raise ValueError(f"key matrices must be 2-D, got shape {shape}")
    m, n = shape
    if m == 0 or n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    comp, bound = _composite(keys)
    # minimise the non-negative cost bound - composite; every intermediate quantity of either
    # solver (potentials, path lengths) stays within a few (m + n) multiples of the bound
    margin = bound * 4 * (m + n + 2) + 1
    float_exact = margin < _FLOAT_EXACT
    if method == "scipy" and not float_exact:
        raise ValueError("composite key too large for an exact float64 solve")
    if method not in ("auto", "scipy", "integer"):
        raise ValueError(f"unknown method {method!r}")
    if method == "scipy" or (method == "auto" and float_exact):
        from scipy.optimize import linear_sum_assignment

        cost = (bound - comp).astype(np.float64)
        rows, cols = linear_sum_assignment(cost)
        return rows.astype(np.int64), cols.astype(np.int64)
    dtype: type | np.dtype = np.int64 if margin < _INT64_SAFE else object
    cost = (bound - comp).astype(dtype)
    if m <= n:
        cols = _hungarian(cost, margin)
        return np.arange(m, dtype=np.int64), cols
    rows_of_col = _hungarian(np.ascontiguousarray(cost.T), margin)
    order = np.argsort(rows_of_col, kind="stable")
    return rows_of_col[order], order.astype(np.int64)
