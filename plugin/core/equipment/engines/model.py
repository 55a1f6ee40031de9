"""Model engine: a user's ONNX detector (YOLO-style outputs) run tile by tile at the model's GSD."""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Optional

import numpy as np

from ...errors import InputError, ModelError
from ...progress import Progress
from ...raster import open_raster, raster_info
from ...tiling import Tile, read_tile
from ..onnx_model import (GSD_RATIO_WARN, OnnxDetector, model_box_to_oriented, percentile_ranges,
                          scale_to_unit, scaling_for)
from ..tiled import PixelBox, aoi_window, boxes_to_detections, run_tiled

if TYPE_CHECKING:
    from ..api import DetectionParameters
    from ..detection import Detection

LOG = logging.getLogger(__name__)


def run_onnx_detector(params: "DetectionParameters", detector: OnnxDetector, engine_name: str,
                      progress: Optional[Progress] = None) -> "list[Detection]":
    """Detections of an ONNX model over params.raster (inside the AOI window), map coordinates.

    The raster is read at the model's GSD (any CRS: geographic GSD is converted to metres);
    the score threshold is `params.options["det_conf"]`, else the model's det_conf; test-time flips
    (`OnnxDetector.predict`) when `params.options["flips"]`, else when the model asks for them
    (metadata `test_time_flips`, written by SiteWatch's training when asked).
    """
    meta = detector.metadata
    ds = open_raster(params.raster)
    info = raster_info(ds)
    model_gsd = meta.gsd_m or info.gsd_m
    if not meta.gsd_m:
        LOG.warning("Model %s gives no resolution: running it at the raster's %.2f m", detector.path.name,
                    info.gsd_m)
    if not info.gsd_m or info.gsd_m <= 0:
        raise InputError(f"{params.raster} has no usable pixel size.")
    out_scale = info.gsd_m / model_gsd  # model pixels per source pixel
    ratio = max(out_scale, 1.0 / out_scale)
    if ratio > GSD_RATIO_WARN:
        LOG.warning("Model %s was made for %.2f m pixels; %s has %.2f m pixels (x%.1f resampling): "
                    "expect poorer detections", detector.path.name, model_gsd, params.raster, info.gsd_m, ratio)
    t = detector.tile_size
    tile_src = int(math.floor(t / out_scale))
    overlap_src = int(round(tile_src * min(max(meta.tiles_overlap_pct, 0.0), 60.0) / 100.0))
    if tile_src < 8:
        raise ModelError(f"The model's {t} px tiles at {model_gsd:.2f} m cover under 8 pixels of {params.raster}.")
    bands = meta.input_bands or list(range(1, min(info.band_count, 3) + 1))
    if max(bands) > info.band_count:
        raise InputError(f"The model reads band {max(bands)} but {params.raster} has {info.band_count} band(s).")
    window = aoi_window(ds, params.aoi_wkt)
    mode = scaling_for(meta, info.dtype)
    if mode == "percentile":
        step = max(window.width, window.height) / 1024.0
        sample = read_tile(ds, Tile(window.x0, window.y0, window.width, window.height, 0, 0, 0, 0),
                           bands=bands, out_scale=min(1.0, 1.0 / max(step, 1e-9)))
        ranges = percentile_ranges(sample, meta.input_percentiles, info.nodata)
    else:
        ranges = [(meta.input_min, meta.input_max)]
    opts = params.options or {}
    threshold = float(opts.get("det_conf", meta.det_conf))
    flips = bool(opts.get("flips", meta.raw.get("test_time_flips", False)))
    names = meta.class_names

    def detect_tile(array: np.ndarray, tile: Tile) -> list[PixelBox]:
        image = scale_to_unit(array, ranges)
        out = []
        for b in detector.predict(image, threshold, flips):
            length, width, angle = model_box_to_oriented(b)
            out.append(PixelBox(b.cx, b.cy, length, width, angle, names[b.class_id] if b.class_id < len(names)
                                else str(b.class_id), b.score))
        return out

    boxes = run_tiled(ds, detect_tile, tile_size=tile_src, overlap=overlap_src, bands=bands, out_scale=out_scale,
                      window=window, progress=progress, nms_iou=meta.det_iou_thresh)
    return boxes_to_detections(boxes, info.geotransform, engine_name, info.crs_wkt, params.capture)


class ModelEngine:
    """Runs the ONNX model given in params.model_path."""

    name = "model"

    def detect(self, params: "DetectionParameters", progress: Optional[Progress]) -> "list[Detection]":
        if not params.model_path:
            raise InputError("The 'model' engine needs an ONNX model file.")
        return run_onnx_detector(params, OnnxDetector(params.model_path), self.name, progress)
