"""make demo: the full two-date analysis of the built-in sample site, headless.

Generates the sample site when absent (sample-data/), trains the learned engine on the site's
reviewed reference captures (earlier dates; samplesite/training.py; the model is kept for later
runs), runs the analysis into demo-output/ and renders the styled result map to
demo-output/result_map.png with QGIS's map renderer. Then compares the equipment counts per
category and date, and the arrivals and departures, with the site's ground truth (every category
of the site: its model learned them all; the example categories with the exemplar engine)
(targets: counts within 10 %, event F1 >= 0.80; an object that moved farther than the matching
distance counts as departed and arrived, as matching defines events by place; a detection is on
a true object when its centre lies within ON_OBJECT_M of the object's box); with --check
(`make eval ARGS=demo`) it exits non-zero when one is missed. `--engine exemplar` runs the
exemplar engine from one example box per category instead, without training.
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

from sitewatch.plugin.samplesite.examples import compared_categories  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = pkgpath.REPO_ROOT


COUNT_TOLERANCE = 0.10  # each category's count on each date within 10 % of the truth
EVENT_F1_TARGET = 0.80  # arrivals and departures of the compared categories against the truth
# a detection is on a true object when its centre lies inside the object's box or this close to it:
# one pixel of the site model's 1 m grid. A car's box is 1.8 m wide, so a centre one model pixel off
# the middle falls outside it; aircraft are unaffected (their boxes are tens of metres). The
# strict rule (inside the box) is printed beside it.
ON_OBJECT_M = 1.0


def _boxes(path: Path, far_moved: set = frozenset(), far_event: str = "") -> list[tuple]:
    """(box geometry, category, event) of each true object of a date; the objects in `far_moved`
    (ids) get `far_event` instead of "moved"."""
    from osgeo import ogr

    out = []
    for f in json.loads(Path(path).read_text())["features"]:
        p = f["properties"]
        event = far_event if p["id"] in far_moved and p["event"] == "moved" else p["event"]
        out.append((ogr.CreateGeometryFromJson(json.dumps(f["geometry"])), p["category"], event))
    return out


def far_moves(before: Path, after: Path, max_distance_m: float) -> set:
    """Ids of the objects that moved farther than `max_distance_m` on the ground between two dates.
    Matching defines events by place (two detections farther apart are never the same object; two
    airframes of a type cannot be told apart), so such a move is a departure and an arrival."""
    import math

    def ground(path: Path) -> dict:
        return {f["properties"]["id"]: (f["properties"]["ground_cx"], f["properties"]["ground_cy"])
                for f in json.loads(Path(path).read_text())["features"]}

    b, a = ground(before), ground(after)
    return {i for i in b.keys() & a.keys() if math.dist(b[i], a[i]) > max_distance_m}


def _on(boxes: list[tuple], detection, category: str, event: str | None = None,
        margin_m: float = ON_OBJECT_M) -> int | None:
    """Index of the true object of `category` (and `event`) whose box holds the detection's centre
    or lies within `margin_m` of it (the nearest), or None."""
    from osgeo import ogr

    centre = ogr.Geometry(ogr.wkbPoint)
    centre.AddPoint_2D(detection.cx, detection.cy)
    near = [(box.Distance(centre), k) for k, (box, cat, ev) in enumerate(boxes)
            if cat == category and (event is None or ev == event)]
    near = [(d, k) for d, k in near if d <= margin_m]
    return min(near)[1] if near else None


def truth_report(site, result, engine: str = "learned") -> tuple[list[str], bool]:
    """How the run compares with the sample site's ground truth (the demo knows the answer) in the
    categories its engine knows (compared_categories): report lines, and whether every count is
    within COUNT_TOLERANCE and the event F1 reaches EVENT_F1_TARGET."""
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
    if result.match is None:
        return lines, False
    labels = result.match.labels
    ok = True
    far = far_moves(site.truth_before, site.truth_after, result.params.equipment.max_distance_m)
    boxes = {"before": _boxes(site.truth_before, far, "departed"), "after": _boxes(site.truth_after, far, "arrived")}
    categories = compared_categories({cat for date in boxes for _, cat, _ in boxes[date]}, engine)
    lines.append(f"  counts per category and date, detected/true (target: within {COUNT_TOLERANCE:.0%}; "
                 "on a true object of the category):")
    for date, detections in (("before", result.detections_before), ("after", result.detections_after)):
        for category in categories:
            true_n = sum(cat == category for _, cat, _ in boxes[date])
            mine = [d for d in detections if labels.get(d.class_name, d.class_name) == category]
            on = len({k for k in (_on(boxes[date], d, category) for d in mine) if k is not None})
            good = abs(len(mine) - true_n) <= COUNT_TOLERANCE * true_n
            ok &= good
            lines.append(f"    {date:6s} {category}: {len(mine)}/{true_n} ({on} on one) {'ok' if good else 'OFF'}")
    tp, n_pred, n_true, f1 = event_score(result.match, boxes, categories)
    strict = event_score(result.match, boxes, categories, margin_m=0.0)[3]
    good = f1 >= EVENT_F1_TARGET
    ok &= good
    lines.append(f"  arrivals and departures of these categories: {tp} of {n_true} true events found, "
                 f"{n_pred - tp} wrong; F1 {f1:.2f} (target >= {EVENT_F1_TARGET:.2f}) {'ok' if good else 'OFF'}; "
                 f"F1 {strict:.2f} when the centre must lie inside the object's box")
    return lines, ok


def event_score(match, boxes: dict, categories, margin_m: float = ON_OBJECT_M) -> tuple[int, int, int, float]:
    """(true events found, events reported, true events, F1) of the arrivals and departures in
    `categories`: a reported event is right when it lies on a true object of that event (_on),
    each true object found once."""
    tp = n_pred = 0
    for event, date in (("departed", "before"), ("arrived", "after")):
        hits = set()
        for e in match.by_event(event):
            category = match.labels.get(e.class_name, e.class_name)
            if category in categories:
                n_pred += 1
                k = _on(boxes[date], e.detection, category, event, margin_m)
                if k is not None:
                    hits.add(k)
        tp += len(hits)
    n_true = sum(ev in ("departed", "arrived") and cat in categories
                 for date in boxes for _, cat, ev in boxes[date])
    p, r = tp / max(n_pred, 1), tp / max(n_true, 1)
    return tp, n_pred, n_true, 2 * p * r / max(p + r, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096, help="sample scene size in pixels")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "demo-output"))
    parser.add_argument("--timings", action="store_true", help="log each stage's time (change, engine stages)")
    parser.add_argument("--no-render", action="store_true", help="skip the result map")
    parser.add_argument("--engine", choices=("learned", "exemplar"), default="learned",
                        help="learned: train on the site's reviewed reference captures first (default); "
                             "exemplar: one example box per category, no training")
    parser.add_argument("--retrain", action="store_true", help="train the site's model again")
    parser.add_argument("--check", action="store_true",
                        help="exit non-zero when a count is off by more than 10 %% or the event F1 is under 0.80")
    args = parser.parse_args(argv)
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

    last = [-1]

    def report(fraction: float, message: str) -> bool:
        step = int(fraction * 10)
        if step != last[0]:
            last[0] = step
            print(f"  {fraction * 100:5.1f} %  {message}", flush=True)
        return True

    # stand-in for the analyst's drawn examples: one box per equipment category on the first date
    exemplars = write_example_boxes(site, site_dir / "exemplars.geojson")
    if args.engine == "learned":
        from sitewatch.plugin.core.equipment.onnx_model import model_summary
        from sitewatch.plugin.samplesite.training import TRAINING_STEPS, train_site_model

        print(f"The site's detector: the learned engine trained on the reviewed reference captures "
              f"({TRAINING_STEPS} steps, 20 to 40 min on a 2-core machine; kept for later runs) ...", flush=True)
        trained_at = time.perf_counter()
        model = train_site_model(site_dir, args.size, args.seed, progress=Progress(report), retrain=args.retrain)
        min_score = model_summary(model).det_conf  # chosen in training
        print(f"  model {model} ready in {time.perf_counter() - trained_at:.0f} s; score threshold {min_score:.3f} "
              f"(chosen on the reference capture kept out of training)", flush=True)
        last[0] = -1
        equipment = EquipmentOptions(engine="learned", model_path=str(model), min_score=min_score)
    else:
        equipment = EquipmentOptions(engine="exemplar", exemplars_path=str(exemplars), min_score=EXAMPLE_MIN_SCORE)
    params = AnalysisParameters(
        site_name="Khmeimim (sample)", before_path=str(site.before), after_path=str(site.after),
        output_dir=args.out, before_date=site.before_date.date().isoformat(),
        after_date=site.after_date.date().isoformat(), cloud_mask_after=str(site.cloud_mask), equipment=equipment,
    )

    run_started = time.perf_counter()
    result = run_analysis(params, Progress(report))
    run_seconds = time.perf_counter() - run_started

    png = None
    if not args.no_render:
        from render_demo import render_result_png

        png = render_result_png(result, Path(args.out) / "result_map.png")
    print()
    print("\n".join(result.summary_lines))
    report, on_target = truth_report(site, result, args.engine)
    print("\n".join(report))
    stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings_s.items())
    print(f"\nAnalysis: {run_seconds:.1f} s ({stages}); total with generation and rendering: "
          f"{time.perf_counter() - started:.1f} s")
    print(f"Results: {result.gpkg_path}\nChange score: {result.score_path}\nMap: {png}")
    if not args.no_render and not args.check:  # five-date timeline and the analyst's report
        from demo_timeline import timeline_and_report

        print("\n".join(timeline_and_report(site_dir, args.size, args.seed, result, exemplars, Path(args.out))))
    if not on_target:
        print("The equipment counts or events miss their targets on the sample site (see above).")
    return 1 if args.check and not on_target else 0


if __name__ == "__main__":
    sys.exit(main())
