"""Confidence intervals of scores: inside 0..100, never a point where the data allow more."""

from __future__ import annotations

import pytest

from archon_async.search._interval import interval, wilson


def test_right_or_wrong_scores_get_the_wilson_interval() -> None:
    # The closed forms of Wilson's interval at the ends: 0 of n reaches up to z²/(n+z²),
    # n of n down to n/(n+z²) (where the normal approximation collapsed to a point).
    z2 = 1.96**2
    assert interval([0.0] * 30) == (0.0, round(100 * z2 / (30 + z2), 4))
    assert interval([100.0] * 30) == (round(100 * 30 / (30 + z2), 4), 100.0)
    low, high = interval([100.0] * 29 + [0.0])  # the normal approximation: [90.13, 103.2]
    assert (low, high) == (83.3292, 99.4092)
    assert wilson(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)


def test_scores_in_between_stay_within_what_was_observed() -> None:
    ratings = [100.0, 50.0, 0.0, 75.0, 25.0, 100.0, 50.0, 50.0, 100.0, 0.0]
    low, high = interval(ratings)
    assert 0.0 <= low < sum(ratings) / len(ratings) < high <= 100.0
    assert interval(ratings) == (low, high)  # seeded by the scores: always the same
    assert interval(list(reversed(ratings)))[1] - interval(list(reversed(ratings)))[0] > 20
    # All equal (every pairwise verdict a tie): not a point, the conservative Wilson width.
    assert interval([50.0] * 10) == tuple(round(100 * v, 4) for v in wilson(0.5, 10))


def test_a_wider_z_gives_a_wider_interval_and_bad_shares_are_refused() -> None:
    narrow, wide = interval([100.0] * 8 + [0.0] * 4), interval([100.0] * 8 + [0.0] * 4, z=3.0)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    assert interval([]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="share"):
        wilson(1.5, 10)
