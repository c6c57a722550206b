import os

import pyarrow as pa
import pytest

from ingest.memory import arrow_jemalloc_select


def jemalloc_available() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


@pytest.mark.skipif(not jemalloc_available(), reason="this pyarrow build has no jemalloc")
@pytest.mark.skipif(bool(os.environ.get("ARROW_DEFAULT_MEMORY_POOL")), reason="the operator chose the pool")
def test_arrow_allocates_with_jemalloc_once_django_is_set_up():
    assert pa.default_memory_pool().backend_name == "jemalloc"


def test_an_operators_choice_of_pool_wins(monkeypatch):
    before = pa.default_memory_pool()
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        pa.set_memory_pool(pa.system_memory_pool())
        arrow_jemalloc_select()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)
