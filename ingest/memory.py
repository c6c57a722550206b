"""Which allocator Arrow uses in processes that ingest.

Arrow's default allocator (mimalloc) keeps what it frees for reuse, per thread that freed it
(the CSV reader's, the billing reader thread's, the main thread's). A billing ingest streams
millions of rows through ~1 MB batches and reuses little of it: its peak resident memory was
~296 MB for 300,000 rows with mimalloc and ~265 MB with jemalloc, which Arrow configures to
give freed pages back after about a second, for the same CPU time. (Returning them at once,
`jemalloc_set_decay_ms(0)`, saved 15 MB more but cost the reader thread 25% more CPU.)
"""

import os

import pyarrow as pa


def arrow_jemalloc_select() -> None:
    """Use jemalloc for Arrow. An operator's ARROW_DEFAULT_MEMORY_POOL wins; builds of pyarrow
    without jemalloc keep their default."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    pa.set_memory_pool(pool)
