"""make demo: the full two-date analysis of the built-in sample site, headless.

Generates the sample site when absent (sample-data/), runs the analysis into demo-output/
and renders the styled result map to demo-output/result_map.png with QGIS's map renderer.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pkgpath  # noqa: E402,F401

from sitewatch.plugin.samplesite.examples import EXAMPLE_CATEGORIES  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = pkgpath.REPO_ROOT


def _matched(detections, features, category: str, labels: dict) -> int:
    """How many detections of `category` have their centre inside a true object of that category."""
    from osgeo import ogr

    boxes = [ogr.CreateGeometryFromJson(json.dumps(f["geometry"])) for f in features
             if f["properties"]["category"] == category]
    hits = 0
    for d in detections:
        if labels.get(d.class_name, d.class_name) != category:
            continue
        centre = ogr.Geometry(ogr.wkbPoint)
        centre.AddPoint_2D(d.cx, d.cy)
        hits += any(box.Contains(centre) for box in boxes)
    return hits


def truth_report(site, result) -> list[str]:
    """How the run compares with the sample site's ground truth (the demo knows the answer)."""
    import numpy as np
    from osgeo import gdal

    lines = ["Against the sample site's ground truth:"]
    truth = gdal.Open(str(site.change_mask)).ReadAsArray() == 1
    found = gdal.Open(result.mask_path).ReadAsArray() == 1
    if found.shape == truth.shape:
        tp = float(np.sum(truth & found))
        precision, recall = tp / max(found.sum(), 1), tp / max(truth.sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        lines.append(f"  change pixels: precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}")
    for label, path, detections in (("before", site.truth_before, result.detections_before),
                                    ("after", site.truth_after, result.detections_after)):
        features = json.loads(Path(path).read_text())["features"]
        wanted = {f["properties"]["category"] for f in features} & set(EXAMPLE_CATEGORIES)
        true_counts = {c: sum(f["properties"]["category"] == c for f in features) for c in sorted(wanted)}
        labels = result.match.labels if result.match is not None else {}
        found_counts = {c: sum(labels.get(d.class_name, d.class_name) == c for d in detections) for c in true_counts}
        lines.append(f"  {label}: " + ", ".join(f"{c} {found_counts[c]}/{n}" for c, n in true_counts.items())
                     + " (detected/true)")
        lines.append(f"  {label}, detections on a true object: "
                     + ", ".join(f"{c} {_matched(detections, features, c, labels)}" for c in true_counts))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096, help="sample scene size in pixels")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "demo-output"))
    parser.add_argument("--timings", action="store_true", help="log each stage's time (change, engine stages)")
    parser.add_argument("--no-render", action="store_true", help="skip the result map")
    args = parser.parse_args()
    if args.timings:
        import logging

        logging.basicConfig(level=logging.INFO, format="  [%(name)s] %(message)s")

    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis
    from sitewatch.plugin.core.progress import Progress
    from sitewatch.plugin.samplesite import generate_sample_site, load_sample_site
    from sitewatch.plugin.samplesite.examples import EXAMPLE_MIN_SCORE, write_example_boxes

    site_dir = ROOT / "sample-data" / f"khmeimim-{args.size}-{args.seed}"
    started = time.perf_counter()
    try:
        site = load_sample_site(site_dir)
        print(f"Sample site: {site_dir}")
    except Exception:
        print(f"Generating the sample site ({args.size} x {args.size} px) in {site_dir} ...", flush=True)
        site = generate_sample_site(site_dir, size_px=args.size, seed=args.seed)
        print(f"  generated in {time.perf_counter() - started:.1f} s")

    # stand-in for the analyst's drawn examples: one box per equipment category on the first date
    exemplars = write_example_boxes(site, site_dir / "exemplars.geojson")
    params = AnalysisParameters(
        site_name="Khmeimim (sample)", before_path=str(site.before), after_path=str(site.after),
        output_dir=args.out, before_date=site.before_date.date().isoformat(),
        after_date=site.after_date.date().isoformat(), cloud_mask_after=str(site.cloud_mask),
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(exemplars), min_score=EXAMPLE_MIN_SCORE),
    )
    last = [-1]

    def report(fraction: float, message: str) -> bool:
        step = int(fraction * 10)
        if step != last[0]:
            last[0] = step
            print(f"  {fraction * 100:5.1f} %  {message}", flush=True)
        return True

    run_started = time.perf_counter()
    result = run_analysis(params, Progress(report))
    run_seconds = time.perf_counter() - run_started

    png = None
    if not args.no_render:
        from render_demo import render_result_png

        png = render_result_png(result, Path(args.out) / "result_map.png")
    print()
    print("\n".join(result.summary_lines))
    print("\n".join(truth_report(site, result)))
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings_s.items())
    print(f"\nAnalysis: {run_seconds:.1f} s ({stages}); total with generation and rendering: "
          f"{time.perf_counter() - started:.1f} s")
    print(f"Results: {result.gpkg_path}\nChange score: {result.score_path}\nMap: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
