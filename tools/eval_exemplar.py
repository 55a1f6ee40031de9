"""Exemplar engine on airbus-aircraft: 3 exemplars per image, P/R/F1 at IoU 0.5, count error.

Exemplars are the first three `Airplane` annotations of each image (file order); images with
fewer than four aircraft are skipped. Predictions overlapping an exemplar are not scored (the
exemplars are given, not found); the per-image count error compares all predictions with all
annotations (exemplars included). GT boxes are axis-aligned, predictions oriented: polygon IoU.

    .venv/bin/python tools/eval_exemplar.py [--limit N] [--min-score S] [--verbose]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import evalkit as ek  # noqa: E402

from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment  # noqa: E402
from sitewatch.plugin.core.equipment.detection import Detection  # noqa: E402

TARGET_F1 = 0.60


def evaluate(limit: int = 0, min_score: float = 0.3, verbose: bool = False, options: dict | None = None) -> dict:
    data = ek.airbus_dir()
    annotations = ek.load_airbus_annotations(data)
    images = sorted(i for i, items in annotations.items() if sum(c == "Airplane" for _, c in items) >= 3
                    and len(items) >= 4)
    if limit:
        images = images[:limit]
    tp = fp = fn = 0
    pairs = []
    seconds = megapixels = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n, image in enumerate(images):
            vrt = ek.georeferenced_vrt(data / "images" / image, tmp)
            gt_tf = ek.airbus_geotransform()
            items = annotations[image]
            ex_idx = [k for k, (_, c) in enumerate(items) if c == "Airplane"][:3]
            polys = ek.pixel_boxes_to_map([r for r, _ in items], gt_tf)
            exemplars = [Detection.from_corners(polys[k], class_name="aircraft", score=1.0, engine="user")
                         for k in ex_idx]
            gt_polys = [p for k, p in enumerate(polys) if k not in ex_idx]
            params = DetectionParameters(raster=vrt, engine="exemplar", exemplars=exemplars, min_score=min_score,
                                         options=dict(options or {}))
            result = detect_equipment(params)
            seconds += result.seconds
            megapixels += result.megapixels
            preds = [d.polygon for d in result.detections]
            t, f, m = ek.match_at_iou(preds, gt_polys, 0.5, scores=[d.score for d in result.detections],
                                      ignore_polys=[polys[k] for k in ex_idx])
            tp, fp, fn = tp + t, fp + f, fn + m
            pairs.append((len(result.detections), len(items)))
            if verbose:
                p, r, f1 = ek.prf(t, f, m)
                print(f"{n + 1:3d} {image[:8]} gt={len(items):3d} pred={len(preds):3d} tp={t:3d} fp={f:3d} "
                      f"fn={m:3d} F1={f1:.2f} {result.seconds:.1f}s", flush=True)
    p, r, f1 = ek.prf(tp, fp, fn)
    return {"images": len(images), "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1,
            "median_count_error": ek.median_count_error(pairs), "seconds": seconds,
            "mp_per_s": megapixels / seconds if seconds else 0.0}


def evaluate_pair(data: Path, first: str, second: str, tmp: str | Path, n_exemplars: int = 3,
                  min_score: float = 0.3) -> dict:
    """Exemplars drawn on one image of a site (the first `Airplane` annotations of `first`),
    aircraft found on another image of the same site (`second`, another date on the same grid):
    the plugin's use. Scored at IoU 0.5 on every annotation of `second`."""
    annotations = ek.load_airbus_annotations(data)
    gt_tf = ek.airbus_geotransform()
    polys = ek.pixel_boxes_to_map([r for r, c in annotations[first] if c == "Airplane"][:n_exemplars], gt_tf)
    exemplars = [Detection.from_corners(p, class_name="aircraft", score=1.0, engine="user") for p in polys]
    vrt_first = ek.georeferenced_vrt(data / "images" / first, Path(tmp) / "first")
    vrt_second = ek.georeferenced_vrt(data / "images" / second, Path(tmp) / "second")
    result = detect_equipment(DetectionParameters(raster=vrt_second, engine="exemplar", exemplars=exemplars,
                                                  exemplar_raster=vrt_first, min_score=min_score))
    gt = ek.pixel_boxes_to_map([r for r, _ in annotations[second]], gt_tf)
    tp, fp, fn = ek.match_at_iou([d.polygon for d in result.detections], gt, 0.5,
                                 scores=[d.score for d in result.detections])
    p, r, f1 = ek.prf(tp, fp, fn)
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1, "found": len(result.detections),
            "true": len(gt), "seconds": result.seconds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N images")
    ap.add_argument("--min-score", type=float, default=0.3)
    ap.add_argument("--verbose", action="store_true")
    args, _ = ap.parse_known_args(argv if argv is not None else sys.argv[1:])
    if ek.airbus_dir() is None:
        print(f"SKIP: airbus-aircraft data not found at {ek.AIRBUS_DIR}")
        return 0
    r = evaluate(args.limit, args.min_score, args.verbose)
    print(f"exemplar engine, 3 exemplars/image, {r['images']} images, IoU 0.5, min_score {args.min_score}")
    print(f"  TP {r['tp']}  FP {r['fp']}  FN {r['fn']}")
    print(f"  precision {r['precision']:.3f}  recall {r['recall']:.3f}  F1 {r['f1']:.3f} (target >= {TARGET_F1})")
    print(f"  median |count error| per image {r['median_count_error']:.1f}")
    print(f"  {r['seconds']:.1f} s total, {r['mp_per_s']:.2f} MP/s")
    return 0 if r["f1"] >= TARGET_F1 else 1


if __name__ == "__main__":
    sys.exit(main())
