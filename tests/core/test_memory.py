"""Freed memory handed back to the system (core/memory.py)."""
import sys

import numpy as np
import pytest


@pytest.fixture
def fresh_lookup(monkeypatch):
    from sitewatch.plugin.core import memory

    monkeypatch.setattr(memory, "_looked", False)
    monkeypatch.setattr(memory, "_trim", None)
    return memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is a glibc call (Linux)")
def test_freed_heap_memory_goes_back_to_the_system_on_linux(fresh_lookup):
    def resident_mib() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    # small arrays (below glibc's mmap threshold: they live on the heap), all freed but the last,
    # which pins the heap's top: glibc keeps the freed pages until they are trimmed
    arrays = [np.ones(64 * 1024, np.uint8) for _ in range(1600)]  # 100 MiB
    last = arrays[-1]
    del arrays
    before = resident_mib()
    assert fresh_lookup.release_free_memory() is True
    assert resident_mib() < before - 50
    del last


def test_no_trim_call_elsewhere_is_reported_not_raised(fresh_lookup, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert fresh_lookup.release_free_memory() is False
