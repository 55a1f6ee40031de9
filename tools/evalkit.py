"""Shared evaluation helpers: airbus-aircraft annotations, georeferencing, IoU matching, P/R/F1.

Used by tools/eval_*.py of the equipment engines. Pixel polygons are (N, 2) arrays of x, y with
the origin at the top-left corner; map polygons are in the CRS of `georeferenced_vrt`.
"""
from __future__ import annotations

import ast
import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import pkgpath  # noqa: E402,F401  (the tree imports as `sitewatch`)

from sitewatch.plugin.core.equipment.geometry import polygon_iou  # noqa: E402

SHARED_DATA = TOOLS.parents[1] / "shared" / "data"
AIRBUS_DIR = SHARED_DATA / "airbus-aircraft"
AIRBUS_CLASSES = ("Airplane", "Truncated_Airplane")
# Top-left corner given to every airbus image (UTM 36N metres); same-site series share the grid.
AIRBUS_ORIGIN = (500000.0, 3500000.0)


def airbus_dir(data_dir: Optional[str | Path] = None) -> Optional[Path]:
    """The airbus-aircraft folder, or None when it is absent (callers skip with a reason)."""
    path = Path(data_dir) if data_dir else AIRBUS_DIR
    return path if (path / "annotations.csv").is_file() and (path / "images").is_dir() else None


def load_airbus_annotations(data_dir: str | Path = AIRBUS_DIR) -> dict[str, list[tuple[np.ndarray, str]]]:
    """image_id -> [(corners_px (4, 2), class), ...] in file order, both classes."""
    out: dict[str, list[tuple[np.ndarray, str]]] = {}
    with open(Path(data_dir) / "annotations.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ring = np.array(ast.literal_eval(row["geometry"]), dtype=float)
            if len(ring) > 1 and np.allclose(ring[0], ring[-1]):
                ring = ring[:-1]
            out.setdefault(row["image_id"], []).append((ring, row["class"]))
    return out


def load_airbus(data_dir: str | Path = AIRBUS_DIR,
                classes: Sequence[str] = AIRBUS_CLASSES) -> dict[str, list[np.ndarray]]:
    """image_id -> list of corner arrays (pixels) of the annotated aircraft of `classes`."""
    return {image: [ring for ring, cls in items if cls in classes]
            for image, items in load_airbus_annotations(data_dir).items()}


def airbus_sites(data_dir: str | Path = AIRBUS_DIR) -> dict:
    """sites.json: {'sites': [[image, ...], ...] (every image, grouped by footprint), 'same_site_series',
    'single_images', 'unlabeled'}. Splits use `sites` only."""
    return json.loads((Path(data_dir) / "sites.json").read_text(encoding="utf-8"))


def site_groups(data_dir: str | Path, annotated: Iterable[str]) -> list[list[str]]:
    """The annotated images of each site (sites.json key `sites`), sites without one left out."""
    annotated = set(annotated)
    groups = [[im for im in site if im in annotated] for site in airbus_sites(data_dir)["sites"]]
    return [g for g in groups if g]


def site_folds(groups: Sequence[Sequence[str]], k: int, weight=len) -> list[list[list[str]]]:
    """Group k-fold: every site goes whole into one of k folds, heaviest site first into the
    lightest fold (`weight`: a site's size, e.g. its aircraft count), so folds are about equal."""
    if not 2 <= k <= len(groups):
        raise ValueError(f"{k} folds need 2 to {len(groups)} sites")
    folds: list[list[list[str]]] = [[] for _ in range(k)]
    load = [0.0] * k
    for g in sorted(groups, key=lambda g: (-weight(g), g[0])):
        i = min(range(k), key=lambda j: (load[j], j))
        folds[i].append(list(g))
        load[i] += weight(g)
    return folds


def date_pairs(groups: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """Consecutive images of each site seen more than once: the two-date pairs of the site."""
    return [(a, b) for g in groups for a, b in zip(g[:-1], g[1:])]


def spread(values: Sequence[float]) -> str:
    """'mean 0.812 (min 0.780, max 0.850)' over folds."""
    return f"mean {statistics.fmean(values):.3f} (min {min(values):.3f}, max {max(values):.3f})"


def airbus_geotransform(gsd: float = 0.5, origin: tuple[float, float] = AIRBUS_ORIGIN) -> tuple:
    return (origin[0], gsd, 0.0, origin[1], 0.0, -gsd)


def georeferenced_vrt(jpeg_path: str | Path, out_dir: str | Path, gsd: float = 0.5, epsg: int = 32636,
                      origin: tuple[float, float] = AIRBUS_ORIGIN) -> str:
    """A VRT over an image with `gsd` metre pixels in EPSG:`epsg`; returns its path."""
    from osgeo import gdal

    gdal.UseExceptions()
    jpeg_path = Path(jpeg_path).resolve()
    out = Path(out_dir) / (jpeg_path.stem + ".vrt")
    out.parent.mkdir(parents=True, exist_ok=True)
    src = gdal.Open(str(jpeg_path))
    w, h = src.RasterXSize, src.RasterYSize
    src = None
    x0, y0 = origin
    gdal.Translate(str(out), str(jpeg_path), format="VRT", outputSRS=f"EPSG:{epsg}",
                   outputBounds=[x0, y0, x0 + w * gsd, y0 - h * gsd])
    return str(out)


def pixel_boxes_to_map(polys_px: Iterable[np.ndarray], geotransform: Sequence[float]) -> list[np.ndarray]:
    """Pixel polygons -> map polygons through a (north-up or rotated) geotransform."""
    gt = geotransform
    out = []
    for p in polys_px:
        p = np.asarray(p, dtype=float)
        out.append(np.column_stack([gt[0] + p[:, 0] * gt[1] + p[:, 1] * gt[2],
                                    gt[3] + p[:, 0] * gt[4] + p[:, 1] * gt[5]]))
    return out


def map_boxes_to_pixel(polys_map: Iterable[np.ndarray], geotransform: Sequence[float]) -> list[np.ndarray]:
    """Map polygons -> pixel polygons (inverse of pixel_boxes_to_map)."""
    gt = geotransform
    det = gt[1] * gt[5] - gt[2] * gt[4]
    out = []
    for p in polys_map:
        p = np.asarray(p, dtype=float)
        dx, dy = p[:, 0] - gt[0], p[:, 1] - gt[3]
        out.append(np.column_stack([(gt[5] * dx - gt[2] * dy) / det, (-gt[4] * dx + gt[1] * dy) / det]))
    return out


def _iou_matrix(pred: Sequence[np.ndarray], gt: Sequence[np.ndarray]) -> np.ndarray:
    m = np.zeros((len(pred), len(gt)))
    for i, p in enumerate(pred):
        for j, g in enumerate(gt):
            m[i, j] = polygon_iou(np.asarray(p, float), np.asarray(g, float))
    return m


def match_at_iou(pred_polys: Sequence[np.ndarray], gt_polys: Sequence[np.ndarray], iou: float = 0.5,
                 scores: Optional[Sequence[float]] = None,
                 ignore_polys: Sequence[np.ndarray] = ()) -> tuple[int, int, int]:
    """Greedy one-to-one matching (best score first) -> (tp, fp, fn).

    Predictions that overlap an `ignore_polys` box at >= iou (e.g. the exemplars given to the
    engine) count neither as true nor false positives; ignored boxes must not be in gt_polys.
    """
    order = np.argsort(-np.asarray(scores, float)) if scores is not None else np.arange(len(pred_polys))
    pred = [pred_polys[i] for i in order]
    ious = _iou_matrix(pred, gt_polys)
    ign = _iou_matrix(pred, ignore_polys) if len(ignore_polys) else np.zeros((len(pred), 0))
    used_gt = np.zeros(len(gt_polys), dtype=bool)
    used_ign = np.zeros(len(ignore_polys), dtype=bool)
    tp = fp = 0
    for i in range(len(pred)):
        cand = np.where(~used_gt & (ious[i] >= iou))[0] if len(gt_polys) else []
        if len(cand):
            used_gt[cand[np.argmax(ious[i, cand])]] = True
            tp += 1
            continue
        icand = np.where(~used_ign & (ign[i] >= iou))[0] if len(ignore_polys) else []
        if len(icand):
            used_ign[icand[0]] = True
            continue
        fp += 1
    return tp, fp, int((~used_gt).sum())


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1


def count_errors(pairs: Iterable[tuple[int, int]]) -> list[int]:
    """|predicted - true| per image from (predicted, true) pairs."""
    return [abs(int(p) - int(t)) for p, t in pairs]


def median_count_error(pairs: Iterable[tuple[int, int]]) -> float:
    errs = count_errors(pairs)
    return float(statistics.median(errs)) if errs else 0.0
