"""Running a user's ONNX detection model: metadata, validation, pre- and post-processing.

Metadata: ONNX `metadata_props` whose values are JSON (the Deepness QGIS plugin convention),
or a sidecar `<model>.json` beside the file with the same keys (plain JSON values; the
sidecar wins where both give a key).

  model_type       "Detector"
  class_names      {"0": "aircraft", "1": "helicopter"}   (required; `names` also read)
  resolution       model GSD in cm per pixel (e.g. 100); missing: the raster's own GSD
  tile_size        input side in pixels (default: the input's fixed size, else 640)
  tiles_overlap    overlap between tiles in percent of tile_size (default 15)
  det_type         output layout: "YOLO_v5_or_v7_default" [1, N, 5+nc] (cx, cy, w, h, obj, cls...),
                   "YOLO_v6" [1, N, 5+nc] (score = best class), "YOLO_Ultralytics" [1, 4+nc, N]
                   (YOLOv8/v11), "YOLO_Ultralytics_obb" [1, 4+nc+1, N] (last row: angle, radians);
                   missing: recognised from the output shape
  det_conf         default score threshold (0.3)
  det_iou_thresh   NMS IoU threshold (0.45)
  input_max        raw value mapped to 1.0 (default 255); input_min (default 0) maps to 0.0
  input_stretch    "auto" (default: Byte rasters scaled by input_min/max, other types by a
                   per-raster percentile stretch), "percentile" (always stretch), "none" (always
                   input_min/max)
  input_percentiles  [low, high] for the stretch (default [2, 98])
  input_bands      1-based raster bands fed to the model (default: first 3; 1 band is repeated)
  test_time_flips  true: run each tile mirrored three ways as well and average (default false;
                   SiteWatch's training writes true)

The model input is float32 NCHW RGB scaled to 0..1 (as Deepness feeds it); standardisation,
if any, is the model's business (inside the graph).
"""
from __future__ import annotations

import ast
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..deps import require
from ..errors import ModelError

LOG = logging.getLogger(__name__)

DET_V5 = "YOLO_v5_or_v7_default"
DET_V6 = "YOLO_v6"
DET_ULTRA = "YOLO_Ultralytics"
DET_OBB = "YOLO_Ultralytics_obb"
DET_TYPES = (DET_V5, DET_V6, DET_ULTRA, DET_OBB)
GSD_RATIO_WARN = 4.0  # warn when the raster's GSD and the model's differ more than this
LAYOUT_HELP = ("SiteWatch reads YOLO-style detection outputs: [1, N, 5+nc] (YOLOv5/v7, YOLOv6), "
               "[1, 4+nc, N] (YOLOv8/v11) or [1, 4+nc+1, N] (YOLO OBB, angle last)")


@dataclass
class ModelMetadata:
    class_names: list[str]
    gsd_m: Optional[float]
    tile_size: int
    tiles_overlap_pct: float
    det_type: str
    det_conf: float
    det_iou_thresh: float
    input_min: float = 0.0
    input_max: float = 255.0
    input_stretch: str = "auto"
    input_percentiles: tuple[float, float] = (2.0, 98.0)
    input_bands: Optional[list[int]] = None
    raw: dict = field(default_factory=dict)


@dataclass
class ModelSummary:
    """What the dock shows about a model file."""

    class_names: list[str]
    gsd_m: Optional[float]
    tile_size: int
    det_type: str
    providers: list[str]
    input_shape: list
    det_conf: float = 0.3
    path: str = ""

    @property
    def device(self) -> str:
        return "GPU" if any(p in self.providers for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider",
                                                         "DmlExecutionProvider", "CoreMLExecutionProvider",
                                                         "ROCMExecutionProvider")) else "CPU"


@dataclass
class ModelBox:
    """A box in the model input's pixels: centre, size along x/y, angle (degrees, clockwise
    from the x axis, image y down), score and class index."""

    cx: float
    cy: float
    w: float
    h: float
    angle_deg: float
    score: float
    class_id: int


def _parse_value(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text


def sidecar_path(model_path: str | Path) -> Path:
    return Path(model_path).with_suffix(".json")


def _read_sidecar(model_path: Path) -> dict:
    side = sidecar_path(model_path)
    if not side.exists():
        return {}
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"The model description {side.name} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelError(f"The model description {side.name} must be a JSON object of metadata keys.")
    return doc


def _class_names(raw: dict, path: Path) -> list[str]:
    value = raw.get("class_names", raw.get("names"))
    if value is None:
        raise ModelError(
            f"The model {path.name} names no classes: add the metadata key 'class_names' "
            '(e.g. {"0": "aircraft"}) to the ONNX file or to a sidecar file ' f"{sidecar_path(path).name}.")
    if isinstance(value, list):
        return [str(v) for v in value]
    if not isinstance(value, dict) or not value:
        raise ModelError(f"The model's 'class_names' must be a JSON object like {{\"0\": \"aircraft\"}}, "
                         f"not {value!r}.")
    try:
        items = sorted(((int(k), str(v)) for k, v in value.items()))
    except ValueError as exc:
        raise ModelError(f"The model's 'class_names' keys must be class numbers 0, 1, ...: {exc}") from exc
    if [k for k, _ in items] != list(range(len(items))):
        raise ModelError("The model's 'class_names' are not numbered 0, 1, 2, ... without gaps.")
    return [v for _, v in items]


def parse_metadata(raw: dict, path: Path, input_hw: Sequence) -> ModelMetadata:
    """Validated metadata from a dict of (already JSON-decoded) values."""
    names = _class_names(raw, path)

    def num(key: str, default: Optional[float]) -> Optional[float]:
        v = raw.get(key, default)
        if v is None:
            return None
        try:
            return float(v)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"The model metadata '{key}' must be a number, not {v!r}.") from exc

    res_cm = num("resolution", None)
    if res_cm is not None and res_cm <= 0:
        raise ModelError(f"The model metadata 'resolution' must be positive cm per pixel, not {res_cm}.")
    fixed = [int(d) for d in input_hw if isinstance(d, int) and d > 0]
    tile = int(num("tile_size", fixed[0] if len(fixed) == 2 else 640))
    if len(fixed) == 2 and tile != fixed[0]:
        LOG.warning("Model %s: tile_size %d differs from its fixed input %s; using the input size",
                    path.name, tile, fixed)
        tile = fixed[0]
    det_type = raw.get("det_type")
    if det_type is not None:
        match = {t.lower(): t for t in DET_TYPES}.get(str(det_type).lower())
        if match is None:
            raise ModelError(f"Unknown det_type '{det_type}' in the model; known: {', '.join(DET_TYPES)}.")
        det_type = match
    stretch = str(raw.get("input_stretch", "auto")).lower()
    if stretch not in ("auto", "percentile", "none"):
        raise ModelError(f"input_stretch must be 'auto', 'percentile' or 'none', not {stretch!r}.")
    pct = raw.get("input_percentiles", [2.0, 98.0])
    bands = raw.get("input_bands")
    return ModelMetadata(
        class_names=names, gsd_m=res_cm / 100.0 if res_cm else None, tile_size=tile,
        tiles_overlap_pct=float(num("tiles_overlap", 15.0)), det_type=det_type or "",
        det_conf=float(num("det_conf", 0.3)), det_iou_thresh=float(num("det_iou_thresh", 0.45)),
        input_min=float(num("input_min", 0.0)), input_max=float(num("input_max", 255.0)),
        input_stretch=stretch, input_percentiles=(float(pct[0]), float(pct[1])),
        input_bands=[int(b) for b in bands] if bands else None, raw=raw)


def infer_layout(shape: Sequence, nc: int) -> str:
    """The det_type that an output shape [1, A, B] fits for nc classes ('' when none does)."""
    if len(shape) != 3:
        return ""
    a, b = shape[1], shape[2]
    if b == 5 + nc and a != 5 + nc:
        return DET_V5
    if a == 4 + nc:
        return DET_ULTRA
    if a == 5 + nc:
        return DET_OBB
    if b == 5 + nc:
        return DET_V5
    return ""


class OnnxDetector:
    """An ONNX detection model with validated metadata, ready to run on 0..1 RGB tiles."""

    def __init__(self, path: str | Path, providers: Optional[Sequence[str]] = None):
        ort = require("onnxruntime")
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"The model file {self.path} does not exist.")
        available = ort.get_available_providers()
        wanted = list(providers) if providers else [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                                                    if p in available]
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{self.path.name} is not a usable ONNX model: {str(exc).splitlines()[0][:300]}") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"The model {self.path.name} must take one image input [1, channels, height, width]; "
                             f"it takes {[(i.name, i.shape) for i in inputs]}.")
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)
        channels = self.input_shape[1]
        self.channels = channels if isinstance(channels, int) else 3
        if self.channels not in (1, 3, 4):
            raise ModelError(f"The model {self.path.name} takes {self.channels} input channels; "
                             "SiteWatch feeds 1, 3 or 4 bands.")
        raw = {k: _parse_value(v) for k, v in self.session.get_modelmeta().custom_metadata_map.items()}
        raw.update(_read_sidecar(self.path))
        self.metadata = parse_metadata(raw, self.path, self.input_shape[2:])
        outputs = self.session.get_outputs()
        out_shape = list(outputs[0].shape) if outputs else []
        nc = len(self.metadata.class_names)
        dims_ok = len(out_shape) == 3 and out_shape[0] in (1, None) or (len(out_shape) == 3 and isinstance(out_shape[0], str))
        if not outputs or not dims_ok:
            raise ModelError(f"Unexpected outputs in {self.path.name}: "
                             f"{[(o.name, o.shape) for o in outputs]}. {LAYOUT_HELP}.")
        layout = self.metadata.det_type or infer_layout(out_shape, nc)
        if not layout:
            raise ModelError(f"Unexpected output shape {out_shape} in {self.path.name} for {nc} class(es) "
                             f"{self.metadata.class_names}. {LAYOUT_HELP}.")
        self._check_layout(layout, out_shape, nc)
        self.layout = layout
        self.output_name = outputs[0].name

    def _check_layout(self, layout: str, shape: list, nc: int) -> None:
        want = {DET_V5: (2, 5 + nc), DET_V6: (2, 5 + nc), DET_ULTRA: (1, 4 + nc), DET_OBB: (1, 5 + nc)}[layout]
        dim = shape[want[0]]
        if isinstance(dim, int) and dim != want[1]:
            raise ModelError(
                f"The model {self.path.name} says det_type {layout} with {nc} class(es), so its output axis "
                f"{want[0]} should be {want[1]}, but the output shape is {shape}. {LAYOUT_HELP}.")

    @property
    def tile_size(self) -> int:
        return self.metadata.tile_size

    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def summary(self) -> ModelSummary:
        m = self.metadata
        return ModelSummary(class_names=list(m.class_names), gsd_m=m.gsd_m, tile_size=m.tile_size,
                            det_type=self.layout, providers=self.providers(), input_shape=self.input_shape,
                            det_conf=m.det_conf, path=str(self.path))

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Raw first output for a (1, C, T, T) float32 batch."""
        out = self.session.run([self.output_name], {self.input_name: batch.astype(np.float32, copy=False)})[0]
        if out.ndim != 3:
            raise ModelError(f"The model {self.path.name} returned shape {out.shape}. {LAYOUT_HELP}.")
        return out

    def predict(self, image: np.ndarray, min_score: float, flips: bool = False) -> list[ModelBox]:
        """Boxes for a (C, H, W) image scaled to 0..1 with H, W <= tile size (padded here).
        `flips`: the image is also seen mirrored left-right, up-down and both, and each box
        scores the mean over the four views (merge_views)."""
        t = self.tile_size
        c, h, w = image.shape
        if h > t or w > t:
            raise ModelError(f"A tile of {w} x {h} px exceeds the model's input of {t} px.")

        def detect_view(view: np.ndarray, floor: float) -> list[ModelBox]:
            batch = np.zeros((1, self.channels, t, t), np.float32)
            batch[0, :, :h, :w] = view
            return nms_model_boxes(parse_output(self.run(batch), self.layout, len(self.metadata.class_names), floor),
                                   self.metadata.det_iou_thresh)

        return views_merged(detect_view, fit_channels(image, self.channels), min_score, flips,
                            self.metadata.det_iou_thresh)


FLIP_VIEWS = ((), (2,), (1,), (1, 2))  # axes of a (C, H, W) image mirrored: 2 left-right, 1 up-down
VIEW_SCORE_FLOOR = 0.5  # with flips, each view keeps boxes down to this share of the threshold


def views_merged(detect_view: Callable[[np.ndarray, float], list[ModelBox]], image: np.ndarray, min_score: float,
                 flips: bool, iou_threshold: float) -> list[ModelBox]:
    """The boxes of a (C, H, W) image as detection scores them: its one view, or with `flips` the
    image mirrored three ways as well and each box scored the mean over the four views
    (merge_views). detect_view(view, floor) gives one view's boxes down to `floor`, NMS done.
    Training's validation scores this way too, so the threshold it chooses is the one detection needs."""
    c, h, w = image.shape
    floor = min_score * VIEW_SCORE_FLOOR if flips else min_score
    seen = [[_unflip(b, axes, w, h) for b in detect_view(np.flip(image, axes) if axes else image, floor)]
            for axes in (FLIP_VIEWS if flips else ((),))]
    keep = seen[0] if not flips else nms_model_boxes(
        [b for b in merge_views(seen) if b.score >= min_score], iou_threshold)
    return [b for b in keep if 0 <= b.cx < w and 0 <= b.cy < h]


def _unflip(b: ModelBox, axes: tuple, w: int, h: int) -> ModelBox:
    """A box seen in a mirrored image, in the image's own pixels."""
    if not axes:
        return b
    cx = w - b.cx if 2 in axes else b.cx
    cy = h - b.cy if 1 in axes else b.cy
    angle = b.angle_deg if len(axes) == 2 else -b.angle_deg  # one mirror reverses the turn
    return ModelBox(cx, cy, b.w, b.h, angle, b.score, b.class_id)


def merge_views(views: list[list[ModelBox]], iou_min: float = 0.5) -> list[ModelBox]:
    """One box per object seen in several views: boxes of the same class overlapping the best one
    (hull IoU >= iou_min, one per view) are averaged, weighted by score; the score is the sum over
    the views divided by their number (a view that missed the object adds 0)."""
    pool = [(b, k) for k, boxes in enumerate(views) for b in boxes]
    if not pool:
        return []
    hull = np.array([_hull(b) for b, _ in pool])
    area = (hull[:, 2] - hull[:, 0]) * (hull[:, 3] - hull[:, 1])
    used = np.zeros(len(pool), bool)
    merged = []
    for i in np.argsort([-b.score for b, _ in pool]):
        if used[i]:
            continue
        best, _ = pool[i]
        iou = _hull_iou(hull, area, i, slice(None))
        members, views_taken = [], set()
        for j in np.argsort(-iou):
            b, k = pool[j]
            if iou[j] < iou_min:
                break
            if not used[j] and b.class_id == best.class_id and k not in views_taken:
                members.append(b)
                views_taken.add(k)
                used[j] = True
        wsum = sum(b.score for b in members)
        merged.append(ModelBox(sum(b.cx * b.score for b in members) / wsum, sum(b.cy * b.score for b in members) / wsum,
                               sum(b.w * b.score for b in members) / wsum, sum(b.h * b.score for b in members) / wsum,
                               best.angle_deg, wsum / len(views), best.class_id))
    return merged


def fit_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """(C, H, W) -> (channels, H, W): repeat a grey band, drop extra bands, mean for 1-channel models."""
    if image.shape[0] == channels:
        return image
    if channels == 1:
        return image[:3].mean(axis=0, keepdims=True)
    if image.shape[0] == 1:
        return np.repeat(image, channels, axis=0)
    if image.shape[0] > channels:
        return image[:channels]
    return np.concatenate([image, np.repeat(image[-1:], channels - image.shape[0], axis=0)])


def parse_output(out: np.ndarray, layout: str, nc: int, min_score: float) -> list[ModelBox]:
    """Decode a raw YOLO-style output (batch 1) into boxes above min_score (before NMS)."""
    a = out[0]
    if layout in (DET_ULTRA, DET_OBB):
        a = a.T  # -> (N, 4+nc[+1])
    if layout == DET_V5:
        cls = a[:, 5:5 + nc]
        scores = a[:, 4] * (cls.max(axis=1) if nc > 1 else (cls[:, 0] if cls.shape[1] else 1.0))
        ids = cls.argmax(axis=1) if cls.shape[1] else np.zeros(len(a), int)
    elif layout == DET_V6:
        cls = a[:, 5:5 + nc]
        scores, ids = cls.max(axis=1), cls.argmax(axis=1)
    else:
        cls = a[:, 4:4 + nc]
        scores, ids = cls.max(axis=1), cls.argmax(axis=1)
    sel = np.where(scores >= min_score)[0]
    if len(sel) > 5000:
        sel = sel[np.argsort(-scores[sel])[:5000]]
    angles = np.degrees(a[sel, 4 + nc]) if layout == DET_OBB else np.zeros(len(sel))
    return [ModelBox(float(a[i, 0]), float(a[i, 1]), float(a[i, 2]), float(a[i, 3]), float(ang),
                     float(scores[i]), int(ids[i])) for i, ang in zip(sel, angles)]


# two boxes of the same class whose centres lie within this share of the larger box's
# half-extents are one object: a second peak on a large object's body, or one box on the object
# and a wider one on the object and its shadow; the weaker is dropped
CENTRE_ON_BODY = 0.75


def nms_model_boxes(boxes: list[ModelBox], iou_threshold: float) -> list[ModelBox]:
    """Class-agnostic NMS on the boxes' axis-aligned hulls (rotated NMS runs later, across tiles);
    a weaker box of the same class centred on the larger box's body (CENTRE_ON_BODY) is dropped
    as well."""
    if not boxes:
        return []
    hull = np.array([_hull(b) for b in boxes])
    scores = np.array([b.score for b in boxes])
    classes = np.array([b.class_id for b in boxes])
    centre = (hull[:, :2] + hull[:, 2:]) / 2.0
    half = (hull[:, 2:] - hull[:, :2]) / 2.0
    order = np.argsort(-scores)
    keep = []
    area = (hull[:, 2] - hull[:, 0]) * (hull[:, 3] - hull[:, 1])
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iou = _hull_iou(hull, area, i, rest)
        larger_half = np.where((area[rest] > area[i])[:, None], half[rest], half[i])
        on_body = (classes[rest] == classes[i]) & np.all(
            np.abs(centre[rest] - centre[i]) <= CENTRE_ON_BODY * larger_half, axis=1)
        order = rest[(iou <= iou_threshold) & ~on_body]
    return [boxes[i] for i in keep]


def _hull_iou(hull: np.ndarray, area: np.ndarray, i: int, others) -> np.ndarray:
    """IoU of hull i (x0, y0, x1, y1) with the hulls `others` (indices or a slice)."""
    ix = np.clip(np.minimum(hull[i, 2], hull[others, 2]) - np.maximum(hull[i, 0], hull[others, 0]), 0, None)
    iy = np.clip(np.minimum(hull[i, 3], hull[others, 3]) - np.maximum(hull[i, 1], hull[others, 1]), 0, None)
    return ix * iy / np.maximum(area[i] + area[others] - ix * iy, 1e-9)


def _hull(b: ModelBox) -> tuple[float, float, float, float]:
    t = math.radians(b.angle_deg)
    hw = 0.5 * (abs(b.w * math.cos(t)) + abs(b.h * math.sin(t)))
    hh = 0.5 * (abs(b.w * math.sin(t)) + abs(b.h * math.cos(t)))
    return b.cx - hw, b.cy - hh, b.cx + hw, b.cy + hh


def model_box_to_oriented(b: ModelBox) -> tuple[float, float, float]:
    """(length, width, angle clockwise from image up in degrees 0..180) of a model box."""
    # side w lies along angle_deg from the x axis (clockwise, y down); "up" is -y
    if b.w >= b.h:
        length, width, along = b.w, b.h, b.angle_deg
    else:
        length, width, along = b.h, b.w, b.angle_deg + 90.0
    return length, width, (along + 90.0) % 180.0


def load_detector(path: str | Path) -> OnnxDetector:
    return OnnxDetector(path)


def model_summary(path: str | Path) -> ModelSummary:
    """Classes, GSD, tile size, output layout, execution providers (CPU/GPU) and input shape."""
    return OnnxDetector(path).summary()


def scaling_for(meta: ModelMetadata, dtype_name: str) -> str:
    """'minmax' or 'percentile' for a raster of this numpy dtype."""
    if meta.input_stretch == "none":
        return "minmax"
    if meta.input_stretch == "percentile":
        return "percentile"
    return "minmax" if dtype_name == "uint8" else ("minmax" if "input_max" in meta.raw else "percentile")


def percentile_ranges(sample: np.ndarray, percentiles: tuple[float, float],
                      nodata: Optional[float] = None) -> list[tuple[float, float]]:
    """Per band (low, high) values of a (C, H, W) sample, ignoring nodata and zeros."""
    out = []
    for band in sample:
        v = band[np.isfinite(band)]
        if nodata is not None:
            v = v[v != nodata]
        v = v[v != 0]
        if v.size == 0:
            out.append((0.0, 1.0))
            continue
        lo, hi = np.percentile(v, percentiles)
        out.append((float(lo), float(hi if hi > lo else lo + 1.0)))
    return out


def scale_to_unit(array: np.ndarray, ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """(C, H, W) raw values -> 0..1 with a (low, high) per band."""
    out = np.empty(array.shape, np.float32)
    for k in range(array.shape[0]):
        lo, hi = ranges[min(k, len(ranges) - 1)]
        out[k] = np.clip((array[k] - lo) / (hi - lo), 0.0, 1.0)
    return out
