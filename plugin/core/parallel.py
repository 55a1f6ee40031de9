"""A small thread pool for numpy work: numpy, scipy and the FFT release the GIL, so two
threads use two cores; GDAL reads stay on the calling thread (datasets are not shared)."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

R = TypeVar("R")

MAX_WORKERS = 2


def workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def thread_imap(function: Callable[..., R], jobs: Iterable[tuple]) -> Iterator[R]:
    """function(*job) for each job, on the pool, yielded in order. `jobs` is consumed on the
    calling thread (it may read with GDAL) and at most workers() + 1 jobs are in flight, so
    memory stays bounded whatever the number of jobs; the results can be written as they come."""
    n = workers()
    if n == 1:
        yield from (function(*job) for job in jobs)
        return
    with ThreadPoolExecutor(max_workers=n) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(function, *job))
            while len(pending) > n:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def thread_map(function: Callable[..., R], jobs: Iterable[tuple]) -> list[R]:
    """thread_imap's results as a list."""
    return list(thread_imap(function, jobs))
