"""python -m <package>.plugin.batch SITES_FILE [--out DIR] [--scheduler ADDRESS] [--threads N] [--retries N]

Analyses every site of a sites file (see plugin/batch/sites.py) on Dask and prints one line
per site; the exit status is 1 when a site failed (the others are still analysed).
"""
from __future__ import annotations

import argparse
import sys

from ..core.errors import SiteWatchError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Analyse many sites (each pair of consecutive captures, and the "
                                                 "timeline) on Dask.")
    parser.add_argument("sites", help="sites file (GeoJSON FeatureCollection: site polygons with their captures)")
    parser.add_argument("--out", help="folder of the site workspaces (default: 'sites' beside the sites file)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786); "
                                            "default: threads on this machine")
    parser.add_argument("--threads", type=int, help="threads of the local run (default: one per core)")
    parser.add_argument("--retries", type=int, default=1, help="how many times a failed site is tried again")
    args = parser.parse_args(argv)
    from .runner import run_batch
    from .sites import read_sites

    try:
        jobs = read_sites(args.sites, args.out)
        report = run_batch(jobs, scheduler=args.scheduler, threads=args.threads, retries=args.retries)
    except SiteWatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for outcome in sorted(report.outcomes, key=lambda o: o.name):
        print(f"ok      {outcome.name}: {outcome.pairs} pair(s) in {outcome.seconds:.1f} s -> {outcome.workspace} "
              f"(timeline {outcome.timeline_html})")
        for line in outcome.skipped:
            print(f"        left out {line}")
    for failure in sorted(report.failures, key=lambda f: f.name):
        print(f"FAILED  {failure.name}: {failure.error} (log: {failure.workspace}/batch.log)")
    print(f"{len(report.outcomes)} site(s) analysed, {len(report.failures)} failed, {report.pairs} pair(s) in "
          f"{report.seconds:.1f} s on {report.cores} core(s): "
          f"{report.pairs_per_minute_per_core():.1f} site-pairs per minute per core")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
