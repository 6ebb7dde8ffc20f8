"""Assignment is thread-safe: Dask workers with threads and the API's builder threads share the loaded layers."""

from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from data.assignment import assign_batch
from data.readers import read_crime_file


def test_assignment_from_many_threads_equals_one_thread(wm_store, wm_months):
    from data.ingest import loaded_layers

    tables = [read_crime_file(p.name, p.read_bytes()).table for p in wm_months] * 2
    for _ in range(3):
        shared = loaded_layers(wm_store)  # fresh polygons, first used by several threads at once
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(lambda t, layers=shared: assign_batch(t, layers), tables))
        alone = loaded_layers(wm_store)
        want = [assign_batch(t, alone) for t in tables]
        for g, w in zip(got, want, strict=True):
            assert g.equals(w)
    assert sum(len(w) for w in want) > 80_000 and pa.concat_tables(want).column("ward").null_count == 0
