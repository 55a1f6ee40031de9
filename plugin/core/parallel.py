"""A small thread pool for numpy work: numpy, scipy and the FFT release the GIL, so two
threads use two cores; GDAL reads stay on the calling thread (datasets are not shared)."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 2


def workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def thread_map(function: Callable[..., R], jobs: Iterable[tuple]) -> list[R]:
    """function(*job) for each job, on the pool, results in order. `jobs` is consumed on the
    calling thread (it may read with GDAL) and at most workers() + 1 jobs are in flight, so
    memory stays bounded whatever the number of jobs."""
    results: list[R] = []
    n = workers()
    if n == 1:
        return [function(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=n) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(function, *job))
            while len(pending) > n:
                results.append(pending.popleft().result())
        results.extend(future.result() for future in pending)
    return results
