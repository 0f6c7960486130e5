"""pass@k: the probability that at least one of k attempts succeeds."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["pass_at_k", "suite_pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from ``n`` attempts with ``c`` successes.

    ``1 - C(n - c, k) / C(n, k)`` (Chen et al., 2021), computed as a stable product. With
    ``n == k`` it is 1 when any attempt succeeded.

    Raises:
        ValueError: ``k`` is not in ``1..n`` or ``c`` not in ``0..n``.
    """
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail


def suite_pass_at_k(results: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over theorems, each given as ``(attempts, successes)``."""
    values = [pass_at_k(n, c, k) for n, c in results]
    return sum(values) / len(values) if values else 0.0
