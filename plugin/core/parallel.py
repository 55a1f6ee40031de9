"""A small thread pool for numpy work: numpy, scipy, the FFT and the compiled kernels release
the GIL, so two threads use two cores. GDAL datasets are never shared between threads at the
same time: reads run on the calling thread (thread_imap's jobs) or on one reader thread
(prefetch), the other capture's on a side thread (SideThread), and the pool only computes."""
from __future__ import annotations

import os
import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable, Iterable, Iterator, TypeVar

R = TypeVar("R")
S = TypeVar("S")

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


class SideThread:
    """One extra thread: both(here, there) runs there() on it while here() runs on the calling
    thread. For reads that must stay on one thread (a GDAL dataset is never read by two threads
    at a time) yet should run beside the calling thread's: GDAL decodes on the thread that
    reads, so the two captures are decoded on two cores; and for a fit beside another."""

    def __init__(self, name: str = "sitewatch-side"):
        self.name = name

    def __enter__(self) -> "SideThread":
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return self

    def __exit__(self, *exc) -> bool:
        self.pool.shutdown(wait=True)
        return False

    def both(self, here: Callable[[], R], there: Callable[[], S]) -> tuple[R, S]:
        pending = self.pool.submit(there)
        try:
            first = here()
        except BaseException:
            wait([pending])  # its dataset is free again before the error goes up
            raise
        return first, pending.result()


_DONE = object()


def prefetch(items: Iterable[R], depth: int) -> Iterator[R]:
    """The items of `items`, produced on a reader thread up to `depth` ahead of the consumer:
    GDAL decodes the next strip while the current one is scored (GDAL releases the GIL).
    The producer's exceptions reach the consumer; a consumer that stops early stops it."""
    ahead: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ahead.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put((_DONE, None))
        except BaseException as exc:  # handed over to the consumer
            ahead.put((_DONE, exc))

    reader = threading.Thread(target=produce, name="sitewatch-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item, error = ahead.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a producer waiting on a full queue
            try:
                ahead.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()
