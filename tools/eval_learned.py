"""Learned engine on airbus-aircraft: train on some sites, evaluate on unseen sites.

Split by site: every image of a same-site series (sites.json) is in the test part, the
single-site images train the model, so no site straddles the split. Scores: precision,
recall, F1 at IoU 0.5 (polygon IoU), median per-image count error (percent of the true
count), and arrival/departure event F1 on consecutive dates of each series: detections are
matched across dates with `match_detections`; the truth events come from the annotations
matched the same way; an event is found when one of the same kind lies within 10 m.

    .venv/bin/python tools/eval_learned.py [--budget MIN] [--model eval-output/learned_airbus.onnx]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import evalkit as ek  # noqa: E402

from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment  # noqa: E402
from sitewatch.plugin.core.equipment.detection import Detection  # noqa: E402

OUT_DIR = TOOLS.parent / "eval-output"
TARGETS = {"f1": 0.85, "count_error_pct": 10.0, "event_f1": 0.80}
EVENT_RADIUS_M = 10.0


def split_by_site(sites: dict, annotated: set) -> tuple[list[str], list[list[str]]]:
    """(training images, test series): singles train, every same-site series tests."""
    series_images = {im for s in sites["same_site_series"] for im in s}
    train = [im for im in sites["single_images"] if im in annotated and im not in series_images]
    series = [[im for im in s if im in annotated] for s in sites["same_site_series"]]
    return train, [s for s in series if s]


def gt_detections(polys_map, capture: str) -> list[Detection]:
    return [Detection.from_corners(p, class_name="aircraft", score=1.0, engine="truth", capture=capture)
            for p in polys_map]


def events_of(before: list[Detection], after: list[Detection]) -> list[tuple[str, float, float]]:
    from sitewatch.plugin.core.equipment.matching import match_detections

    result = match_detections(before, after, max_distance_m=20.0)
    out = []
    for e in result.events:
        if e.event in ("arrived", "departed"):
            d = e.detection
            out.append((e.event, d.cx, d.cy))
    return out


def match_events(pred: list[tuple], truth: list[tuple], radius: float = EVENT_RADIUS_M) -> tuple[int, int, int]:
    used = [False] * len(truth)
    tp = 0
    for kind, x, y in pred:
        best, best_d = -1, radius
        for j, (tk, tx, ty) in enumerate(truth):
            d = ((x - tx) ** 2 + (y - ty) ** 2) ** 0.5
            if not used[j] and tk == kind and d <= best_d:
                best, best_d = j, d
        if best >= 0:
            used[best] = True
            tp += 1
    return tp, len(pred) - tp, len(truth) - tp


def train(train_images: list[str], vrts: dict, annotations: dict, budget_min: float, out_path: Path,
          threads: int) -> object:
    from sitewatch.plugin.core.equipment.learned.train import TrainingParameters, train_detector
    from sitewatch.plugin.core.progress import Progress

    gt_tf = ek.airbus_geotransform()
    examples = [(vrts[im], gt_detections(ek.pixel_boxes_to_map([r for r, _ in annotations[im]], gt_tf), im))
                for im in train_images]
    last = [0.0]

    def report(fraction: float, message: str) -> bool:
        if fraction - last[0] >= 0.1:
            last[0] = fraction
            print(f"  {fraction * 100:3.0f} % {message}", flush=True)
        return True

    params = TrainingParameters(output_model=str(out_path), examples=examples, time_budget_min=budget_min,
                                threads=threads)
    return train_detector(params, Progress(report))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=20.0, help="training time budget in minutes")
    ap.add_argument("--model", default="", help="evaluate this model instead of training one")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    args, _ = ap.parse_known_args(argv if argv is not None else sys.argv[1:])
    data = ek.airbus_dir()
    if data is None:
        print(f"SKIP: airbus-aircraft data not found at {ek.AIRBUS_DIR}")
        return 0
    from sitewatch.plugin.core.deps import is_available

    missing = [m for m in ("onnxruntime",) + (() if args.model else ("torch", "onnx")) if not is_available(m)]
    if missing:
        print(f"SKIP: learned engine needs {', '.join(missing)}")
        return 0
    annotations = ek.load_airbus_annotations(data)
    train_images, series = split_by_site(ek.airbus_sites(data), set(annotations))
    test_images = [im for s in series for im in s]
    gt_tf = ek.airbus_geotransform()
    with tempfile.TemporaryDirectory() as tmp:
        vrts = {im: ek.georeferenced_vrt(data / "images" / im, tmp) for im in train_images + test_images}
        if args.model:
            model = Path(args.model)
        else:
            OUT_DIR.mkdir(exist_ok=True)
            model = OUT_DIR / "learned_airbus.onnx"
            print(f"training on {len(train_images)} single-site images, {args.budget:g} min budget, "
                  f"{args.threads} threads")
            t0 = time.monotonic()
            res = train(train_images, vrts, annotations, args.budget, model, args.threads)
            print(f"  trained in {time.monotonic() - t0:.0f} s ({res.steps} steps), validation F1 "
                  f"{res.validation_f1}, det_conf {res.det_conf:.2f}, {res.threads} torch thread(s) -> {model}")
        tp = fp = fn = 0
        count_err = []
        preds: dict[str, list[Detection]] = {}
        truth: dict[str, list[Detection]] = {}
        seconds = 0.0
        for im in test_images:
            r = detect_equipment(DetectionParameters(raster=vrts[im], engine="learned", model_path=str(model),
                                                     min_score=0.0, capture=im))
            seconds += r.seconds
            gt = ek.pixel_boxes_to_map([ring for ring, _ in annotations[im]], gt_tf)
            t, f, m = ek.match_at_iou([d.polygon for d in r.detections], gt, 0.5, [d.score for d in r.detections])
            tp, fp, fn = tp + t, fp + f, fn + m
            count_err.append(100.0 * abs(len(r.detections) - len(gt)) / max(len(gt), 1))
            preds[im], truth[im] = r.detections, gt_detections(gt, im)
            if args.verbose:
                print(f"  {im[:8]} gt {len(gt):3d} pred {len(r.detections):3d} tp {t:3d} fp {f:3d} fn {m:3d}")
    ev_tp = ev_fp = ev_fn = 0
    pairs = 0
    for s in series:
        for a, b in zip(s[:-1], s[1:]):
            t, f, m = match_events(events_of(preds[a], preds[b]), events_of(truth[a], truth[b]))
            ev_tp, ev_fp, ev_fn = ev_tp + t, ev_fp + f, ev_fn + m
            pairs += 1
    p, r, f1 = ek.prf(tp, fp, fn)
    ep, er, ef1 = ek.prf(ev_tp, ev_fp, ev_fn)
    med = statistics.median(count_err) if count_err else 0.0
    print(f"learned engine on {len(test_images)} images of {len(series)} unseen sites, IoU 0.5")
    print(f"  TP {tp}  FP {fp}  FN {fn}  precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f} "
          f"(target >= {TARGETS['f1']})")
    print(f"  median per-image count error {med:.1f} % (target <= {TARGETS['count_error_pct']} %)")
    print(f"  events (arrived/departed) over {pairs} date pairs: TP {ev_tp} FP {ev_fp} FN {ev_fn}  "
          f"P {ep:.3f} R {er:.3f} F1 {ef1:.3f} (target >= {TARGETS['event_f1']})")
    print(f"  detection {seconds:.1f} s for {len(test_images)} images of 2560 x 2560 px")
    ok = f1 >= TARGETS["f1"] and med <= TARGETS["count_error_pct"] and ef1 >= TARGETS["event_f1"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
