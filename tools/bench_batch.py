"""make bench ARGS=batch: site-pairs per minute per core of the batch command on Dask, 1 and 2 workers.

Generates SITEWATCH_BENCH_SITES sample sites (default 4, seeds 1..n) of 3 dates at 512 px in
build/bench-batch/, so 2 site-pairs each, and runs them on a distributed.LocalCluster with worker
processes (1 thread each): first 1 worker, then 2. Exits non-zero when a site fails.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pkgpath  # noqa: E402

WORK = pkgpath.REPO_ROOT / "build" / "bench-batch"
SIZE = 512
DATES = 3


def _sites_file(n_sites: int) -> Path:
    from sitewatch.plugin.samplesite import generate_site_series, load_site_series
    from sitewatch.plugin.samplesite.examples import write_example_boxes

    features = []
    for seed in range(1, n_sites + 1):
        root = WORK / f"site{seed}"
        try:
            series = load_site_series(root)
        except Exception:
            series = generate_site_series(root, n_dates=DATES, size_px=SIZE, seed=seed)
        examples = write_example_boxes(series.site, root / "examples.geojson")
        aoi = json.loads(series.site.aoi.read_text())
        features.append({"type": "Feature", "geometry": aoi["features"][0]["geometry"],
                         "properties": {"name": f"site {seed}", "captures": [str(c.raster) for c in series.captures],
                                        "exemplars": str(examples), "min_score": 0.5}})
    path = WORK / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": aoi["crs"], "features": features}))
    return path


def main() -> int:
    try:
        import distributed
    except ImportError:
        print('Dask is not installed: pip install "dask[distributed]" (pinned in requirements-dev.txt)')
        return 1
    from sitewatch.plugin.batch.runner import run_batch
    from sitewatch.plugin.batch.sites import read_sites

    n_sites = int(os.environ.get("SITEWATCH_BENCH_SITES", "4"))
    sites = _sites_file(n_sites)
    rates = {}
    for workers in (1, 2):
        out = WORK / f"out-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        jobs = read_sites(str(sites), str(out))
        with distributed.LocalCluster(processes=True, n_workers=workers, threads_per_worker=1,
                                      dashboard_address=None) as cluster:
            report = run_batch(jobs, scheduler=cluster.scheduler_address, retries=0, stream=None)
        if report.failures:
            for failure in report.failures:
                print(f"FAILED {failure.name}: {failure.error}")
            return 1
        rates[workers] = report.pairs_per_minute_per_core()
        print(f"{workers} worker(s) x 1 thread: {n_sites} sites, {report.pairs} site-pairs ({SIZE} px) in "
              f"{report.seconds:.1f} s = {60.0 * report.pairs / report.seconds:.1f} site-pairs/min, "
              f"{rates[workers]:.1f} per minute per core")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} core(s) (other work on the machine slows both runs)")
    print(f"scaling 1 -> 2 workers: {2 * rates[2] / rates[1]:.2f}x the throughput "
          f"({100.0 * rates[2] / rates[1]:.0f} % efficiency per core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
