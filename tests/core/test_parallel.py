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


def test_prefetch_reads_ahead_on_another_thread_in_order_and_bounded():
    caller = threading.get_ident()
    state = {"produced": 0, "consumed": 0, "ahead": 0, "threads": set()}

    def items():
        for k in range(20):
            state["threads"].add(threading.get_ident())
            state["produced"] += 1
            yield k

    out = []
    for item in parallel.prefetch(items(), depth=3):
        time.sleep(0.005)  # a slow consumer: the reader gets ahead as far as it may
        state["ahead"] = max(state["ahead"], state["produced"] - state["consumed"])
        state["consumed"] += 1
        out.append(item)
    assert out == list(range(20))
    assert state["threads"] and caller not in state["threads"]
    assert 2 <= state["ahead"] <= 5  # depth in the queue, one being put, one in hand


def test_prefetch_hands_the_readers_error_to_the_consumer():
    def items():
        yield 1
        raise OSError("unreadable strip")

    got = []
    with pytest.raises(OSError, match="unreadable strip"):
        for item in parallel.prefetch(items(), depth=2):
            got.append(item)
    assert got == [1]


def test_a_consumer_that_stops_early_stops_the_reader():
    produced = []
    before = {t.ident for t in threading.enumerate()}

    def items():
        for k in range(1000):
            produced.append(k)
            yield k

    for item in parallel.prefetch(items(), depth=2):
        if item == 3:
            break
    time.sleep(0.05)
    assert len(produced) < 10  # it did not read on to the end
    assert not [t for t in threading.enumerate() if t.ident not in before and t.name == "sitewatch-prefetch"]


def test_side_thread_runs_both_reads_at_once_the_side_one_always_on_the_same_thread():
    meeting = threading.Barrier(2, timeout=5)  # broken (an error) unless both calls run at the same time
    sides = []

    def here(k):
        meeting.wait()
        return k, threading.get_ident()

    def there(k):
        meeting.wait()
        sides.append(threading.get_ident())
        return -k

    with parallel.SideThread() as side:
        for k in range(3):
            (value, thread), other = side.both(lambda k=k: here(k), lambda k=k: there(k))
            assert (value, other) == (k, -k) and thread == threading.get_ident()
    assert len(set(sides)) == 1 and sides[0] != threading.get_ident()


def test_side_thread_finishes_its_read_before_an_error_on_the_calling_thread_goes_up():
    finished = threading.Event()

    def slow():
        time.sleep(0.2)
        finished.set()

    def failing():
        raise OSError("unreadable block")

    with parallel.SideThread() as side:
        with pytest.raises(OSError, match="unreadable block"):
            side.both(failing, slow)
        assert finished.is_set()  # the side thread's dataset is free again when the error arrives
