"""Many sites on Dask: threads on this machine by default, or an existing Dask cluster.

Each site is one task (plugin/batch/job.py:run_site). A failing site is retried (`retries`
times) and then reported; the other sites go on. Dask is optional: it is imported here only,
through core.deps, which says how to get it (pip install "dask[distributed]").
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Optional, TextIO

from ..core.deps import require
from .job import SiteOutcome, run_site
from .sites import SiteJob


@dataclass
class SiteFailure:
    name: str
    workspace: str
    error: str


@dataclass
class BatchReport:
    outcomes: list[SiteOutcome] = field(default_factory=list)
    failures: list[SiteFailure] = field(default_factory=list)
    seconds: float = 0.0
    cores: int = 0  # worker threads of the cluster that ran it

    @property
    def pairs(self) -> int:
        return sum(o.pairs for o in self.outcomes)

    def pairs_per_minute_per_core(self) -> float:
        return 60.0 * self.pairs / max(self.seconds, 1e-9) / max(self.cores, 1)


def _progress_line(done: int, total: int, failed: int, started: float) -> str:
    width = 30
    filled = int(width * done / max(total, 1))
    return (f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} sites"
            + (f", {failed} failed" if failed else "") + f"  {time.perf_counter() - started:5.0f} s")


def run_batch(jobs: list[SiteJob], scheduler: Optional[str] = None, threads: Optional[int] = None,
              retries: int = 1, stream: Optional[TextIO] = sys.stderr) -> BatchReport:
    """Run every site; scheduler: a Dask scheduler address (None: a local cluster of threads)."""
    distributed = require("distributed")
    import os

    started = time.perf_counter()
    cluster = None
    if scheduler:
        client = distributed.Client(scheduler)
    else:
        cluster = distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=threads or os.cpu_count(),
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    report = BatchReport()
    try:
        report.cores = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        futures = {client.submit(run_site, job, key=f"site-{k}-{job.name}", retries=retries, pure=False): job
                   for k, job in enumerate(jobs)}
        if stream:
            stream.write(_progress_line(0, len(jobs), 0, started))
            stream.flush()
        for done, future in enumerate(distributed.as_completed(futures), start=1):
            job = futures[future]
            if future.status == "finished":
                report.outcomes.append(future.result())
            else:
                report.failures.append(SiteFailure(job.name, job.workspace, str(future.exception())))
            if stream:
                stream.write(_progress_line(done, len(jobs), len(report.failures), started))
                stream.flush()
        if stream:
            stream.write("\n")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    report.seconds = time.perf_counter() - started
    return report
