"""The panel's run estimate against the real time, on the sample site (4096 px, exemplar engine,
as the panel runs it): a first run (numba's change kernels not compiled yet: an empty kernel
cache) and a second one, each in a fresh process. Fails when an estimate is off by more than 30 %.
The figures hold on an otherwise idle machine: other work on the same cores slows the runs down."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 0.30
SIZE, SEED = 4096, 7


def _sample_site():
    from sitewatch.plugin.samplesite import generate_sample_site, load_sample_site

    site_dir = ROOT / "sample-data" / f"khmeimim-{SIZE}-{SEED}"
    try:
        return load_sample_site(site_dir)
    except Exception:
        print(f"Generating the sample site in {site_dir} ...", flush=True)
        return generate_sample_site(site_dir, size_px=SIZE, seed=SEED)


def run_once(out_dir: str) -> dict:
    """One analysis as the panel's sample site runs it: the estimate first, then the run."""
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, describe_run, run_analysis
    from sitewatch.plugin.samplesite.examples import EXAMPLE_MIN_SCORE, write_example_boxes

    site = _sample_site()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    examples = write_example_boxes(site, Path(out_dir) / "examples.geojson")
    params = AnalysisParameters(
        site_name="Khmeimim (sample)", before_path=str(site.before), after_path=str(site.after),
        output_dir=str(Path(out_dir) / "analysis"), after_cloud_mask=str(site.cloud_mask),
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(examples), min_score=EXAMPLE_MIN_SCORE),
    )
    estimate = describe_run(params).seconds
    started = time.perf_counter()
    result = run_analysis(params)
    return {"estimate_s": estimate, "actual_s": time.perf_counter() - started,
            "stages": {k: round(v, 1) for k, v in result.timings_s.items()}}


def _in_fresh_process(cache_dir: str, out_dir: str) -> dict:
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); import pkgpath, bench_estimate; "
            "print('RESULT ' + json.dumps(bench_estimate.run_once(sys.argv[2])))")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "tools"), out_dir], env=env,
                          capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"the analysis failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> int:
    failures = 0
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="sitewatch-estimate-") as tmp:
        cache_dir = str(Path(tmp) / "numba-cache")  # empty: the first run compiles the kernels
        for label in ("first run", "second run"):
            figures = _in_fresh_process(cache_dir, str(Path(tmp) / label.replace(" ", "-")))
            estimate, actual = figures["estimate_s"], figures["actual_s"]
            error = estimate / actual - 1.0
            ok = abs(error) <= TOLERANCE
            failures += not ok
            print(f"{label}: estimated {estimate:.0f} s, took {actual:.1f} s ({error:+.0%}; target within "
                  f"{TOLERANCE:.0%}) {'ok' if ok else 'MISSED'}; stages {figures['stages']}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tools"))
    import pkgpath  # noqa: F401

    sys.exit(main())
