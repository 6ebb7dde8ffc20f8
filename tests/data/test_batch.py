"""data.batch helpers that ingest relies on for speed: they must give exactly what the plain way gives."""

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from data import batch


def _exact_repeats(values: list) -> np.ndarray:
    s = pd.Series(values, dtype=object)
    return (s.duplicated(keep=False) & s.notna()).to_numpy()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=60), st.booleans())
def test_repeated_marks_every_repeat_of_fixed_width_ids(picks, sliced):
    """64-hex ids (the fast path): every value seen twice is marked, and on these inputs nothing else is."""
    pool = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(31)]
    values = [pool[i] for i in picks]
    arr = pa.array(["x" * 64] + values)
    arr = arr.slice(1) if sliced else pa.array(values, pa.string())  # a non-zero offset into the buffers
    got = batch.repeated(arr)
    assert got.tolist() == _exact_repeats(values).tolist()


@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=40))
def test_repeated_on_any_strings_is_exact(values):
    got = batch.repeated(pa.array(values, pa.string()))
    assert got.tolist() == _exact_repeats(values).tolist()


def test_repeated_on_chunked_and_large_string_columns():
    ids = pa.chunked_array([["a" * 64, "b" * 64], ["a" * 64]])
    assert batch.repeated(ids).tolist() == [True, False, True]
    mixed = pa.chunked_array([["a" * 64, "b" * 64], ["a" * 64, "short", "short"]])  # not all one width
    assert batch.repeated(mixed).tolist() == [True, False, True, True, True]
    large = pa.array(["c" * 16, "d" * 16, "c" * 16], pa.large_string())
    assert batch.repeated(large).tolist() == [True, False, True]
    odd = pa.array(["x" * 64, "y" * 64, "x" * 64]).slice(1)  # values not at offset 0 of the buffer
    assert batch.repeated(odd).tolist() == [False, False]


def test_force_months_on_grouped_and_ungrouped_rows_agree():
    t = pa.table({"force": ["a", "a", "b", "b"], "month": pa.array([0, 1, 0, 0], pa.timestamp("us"))})
    order, runs = batch.force_months(t)
    assert order.tolist() == [0, 1, 2, 3]
    shuffled = t.take(pa.array([3, 0, 2, 1]))
    order2, runs2 = batch.force_months(shuffled)
    assert order2.tolist() == [1, 3, 0, 2] and runs2 == runs


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), max_size=50), st.integers(0, 2))
def test_keep_rows_is_a_filter(mask, chunks):
    values = list(range(len(mask)))
    parts = [values[i::chunks + 1] for i in range(chunks + 1)] if chunks else [values]
    schema = pa.schema([("a", pa.int64())])
    table = pa.Table.from_batches([pa.record_batch({"a": pa.array(p, pa.int64())}) for p in parts if p],
                                  schema=schema)
    order = [v for p in parts for v in p]
    m = np.array([mask[v] for v in order], dtype=bool)
    got = batch.keep_rows(table, m).column("a").to_pylist()
    assert got == [v for v in order if mask[v]]
