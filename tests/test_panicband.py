"""``panicband``: mid-rank percentiles, interpolated quantiles, the band edges, and when there is no band."""

from __future__ import annotations

import math
import random

import pytest

from liquidation import panicband
from liquidation.panicband import MIN_SAMPLES, band_name, panic_band, percentile_of, quantile

HUNDRED = [float(i) for i in range(1, 101)]  # 1.0 … 100.0


def test_percentile_counts_ties_half():
    assert percentile_of([1.0, 2.0, 2.0, 3.0], 2.0) == 50.0  # 1 below + 2 equal / 2 of 4
    assert percentile_of([5.0] * 10, 5.0) == 50.0  # all equal: the middle, never 0 or 100
    assert percentile_of([1.0, 2.0, 3.0, 4.0], 4.0) == 87.5  # the largest of four: 3.5 of 4


def test_percentile_of_a_value_outside_or_between_the_values():
    assert percentile_of(HUNDRED, 0.5) == 0.0
    assert percentile_of(HUNDRED, 1000.0) == 100.0
    assert percentile_of(HUNDRED, 10.5) == 10.0


def test_quantile_interpolates_between_closest_ranks():
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([10.0, 20.0], 0.9) == pytest.approx(19.0)
    assert quantile([0.0, 10.0, 20.0, 30.0, 40.0], 0.5) == 20.0  # on a rank: that value
    assert quantile([7.0], 0.9) == 7.0
    assert quantile(HUNDRED, 0.0) == 1.0 and quantile(HUNDRED, 1.0) == 100.0
    assert quantile(HUNDRED, 0.9) == pytest.approx(90.1)


@pytest.mark.parametrize(
    ("percentile", "band"),
    [(0.0, "calm"), (49.9, "calm"), (50.0, "elevated"), (89.9, "elevated"), (90.0, "panic"), (100.0, "panic")],
)
def test_band_edges(percentile, band):
    assert band_name(percentile) == band


@pytest.mark.parametrize(
    ("current", "percentile", "band"),
    [(49.5, 49.0, "calm"), (50.5, 50.0, "elevated"), (89.5, 89.0, "elevated"), (90.5, 90.0, "panic")],
)
def test_a_value_exactly_at_the_50th_or_90th_percentile_is_in_the_higher_band(current, percentile, band):
    answer = panic_band(HUNDRED, current)
    assert answer["percentile"] == percentile
    assert answer["band"] == band


def test_the_answer_holds_the_window_quantiles_and_its_size():
    values = HUNDRED[:]
    random.Random(7).shuffle(values)  # any order
    assert panic_band(values, 95.0) == {
        "value": 95.0,
        "samples": 100,
        "window_days": panicband.WINDOW_DAYS,
        "percentile": 94.5,
        "band": "panic",
        "p50": 50.5,
        "p90": pytest.approx(90.1),
    }


def test_too_few_samples_give_no_band():
    answer = panic_band([0.1] * (MIN_SAMPLES - 1), 0.1)
    assert answer == {
        "value": 0.1,
        "samples": MIN_SAMPLES - 1,
        "window_days": panicband.WINDOW_DAYS,
        "percentile": None,
        "band": None,
        "p50": None,
        "p90": None,
    }
    assert panic_band([0.1] * MIN_SAMPLES, 0.1)["band"] == "elevated"  # exactly enough: 50th percentile


def test_no_current_value_gives_no_band():
    answer = panic_band(HUNDRED, None)
    assert answer["value"] is None and answer["band"] is None and answer["percentile"] is None
    assert answer["samples"] == 100


def test_non_finite_and_non_numbers_are_ignored():
    dirty = [*HUNDRED, math.nan, math.inf, -math.inf, None, "5", True]
    answer = panic_band(dirty, 50.5)
    assert answer["samples"] == 100
    assert answer["percentile"] == 50.0
    assert answer == panic_band(HUNDRED, 50.5)


def test_non_finite_values_do_not_count_towards_the_minimum():
    answer = panic_band([0.1] * (MIN_SAMPLES - 1) + [math.nan] * 10, 0.1)
    assert answer["samples"] == MIN_SAMPLES - 1 and answer["band"] is None
