"""The forecast's own medians and quantiles equal numpy's, bit for bit.

They exist because numpy's are slow on what a fit hands them (many short rows; two quantiles of
a few thousand values), and a fit runs for every target every hour. A last-bit difference would
move a tercile edge or a profile and with it a forecast, so the promise is equality, not
closeness. Derandomised: the same examples on every machine.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scaleahead.domain.forecast import _linear_quantiles, _nanmedian

FloatArray = npt.NDArray[np.float64]

_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
_or_nan = st.one_of(_values, st.just(float("nan")))


def _same(a: FloatArray, b: FloatArray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=9),
        elements=_or_nan,
    )
)
def test_nanmedian_is_numpys_along_the_last_axis(a: FloatArray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row: numpy warns, gives NaN
        expected = np.asarray(np.nanmedian(a, axis=-1), dtype=np.float64)
    assert _same(_nanmedian(a), expected)


def test_nanmedian_of_a_row_with_no_value_is_nan_and_leaves_the_others_alone() -> None:
    nan = float("nan")
    a = np.array([[nan, nan, nan], [3.0, nan, 1.0], [2.0, 2.0, 5.0]])
    assert _same(_nanmedian(a), np.array([nan, 2.0, 2.0]))
    assert _same(_nanmedian(np.array([nan, 4.0, 1.0, 7.0])), np.array(4.0))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 200), elements=_values),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
)
def test_linear_quantiles_are_numpys(x: FloatArray, qs: list[float]) -> None:
    srt = np.sort(x)
    assert _same(_linear_quantiles(srt, qs), np.quantile(x, qs).astype(np.float64))


def test_linear_quantiles_on_the_terciles_a_band_reads() -> None:
    # The band's use: a few thousand forecasts with ties, the terciles 1/3 and 2/3.
    rng = np.random.default_rng(7)
    x = np.round(rng.lognormal(3.0, 1.0, 4001), 1)
    qs = [1 / 3, 2 / 3]
    assert _same(_linear_quantiles(np.sort(x), qs), np.quantile(x, qs).astype(np.float64))
