"""The small thread pool: results in order, bounded work in flight, errors reach the caller."""
from __future__ import annotations

import threading
import time

import pytest

from sitewatch.plugin.core import parallel


def test_results_come_back_in_job_order_with_few_jobs_in_flight(monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    lock = threading.Lock()
    state = {"produced": 0, "done": 0, "ahead": 0, "threads": set()}

    def jobs():
        for k in range(12):
            with lock:
                state["ahead"] = max(state["ahead"], state["produced"] - state["done"])
                state["produced"] += 1
            yield (k,)

    def work(k):
        time.sleep(0.01 * (k % 3))  # later jobs may finish first
        with lock:
            state["done"] += 1
            state["threads"].add(threading.get_ident())
        return k * k

    assert parallel.thread_map(work, jobs()) == [k * k for k in range(12)]
    assert state["ahead"] <= 3  # workers + 1: the jobs are not all read up front
    assert len(state["threads"]) == 2 and threading.get_ident() not in state["threads"]


def test_an_error_in_a_job_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: 2)

    def work(k):
        if k == 3:
            raise ValueError("bad window")
        return k

    with pytest.raises(ValueError, match="bad window"):
        parallel.thread_map(work, ((k,) for k in range(6)))


def test_one_core_runs_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    caller = threading.get_ident()
    assert parallel.thread_map(lambda k: (k, threading.get_ident()), ((k,) for k in range(3))) == [
        (0, caller), (1, caller), (2, caller)]


def test_results_stream_before_the_jobs_run_out(monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    produced = []

    def jobs():
        for k in range(50):
            produced.append(k)
            yield (k,)

    results = parallel.thread_imap(lambda k: -k, jobs())
    assert [next(results) for _ in range(3)] == [0, -1, -2]
    assert len(produced) <= 6  # a few jobs ahead, not all fifty
    assert list(results) == [-k for k in range(3, 50)]
