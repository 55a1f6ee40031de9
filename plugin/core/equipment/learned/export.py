"""Write a trained detector as an ONNX file that describes itself (metadata keys: onnx_model.py)."""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Sequence

from ... import scratch
from ...deps import require
from ...errors import ModelError

NMS_IOU = 0.4  # written into the model as det_iou_thresh; training validates with it too


def export_onnx(decoder, path: Path, class_names: Sequence[str], gsd_m: float, tile_size: int,
                det_conf: float, max_object_px: float, training_info: dict, test_time_flips: bool = False) -> None:
    """Export `decoder` (DecodedDetector) with a fixed [1, 3, tile, tile] input; atomic write.
    `test_time_flips`: the model asks to be run on mirrored views as well (OnnxDetector.predict)."""
    torch = require("torch")
    onnx = require("onnx")
    tile = int(tile_size)
    overlap_pct = int(min(40, max(10, math.ceil(100.0 * (max_object_px * 1.25 + 8) / tile))))
    meta = {
        "model_type": "Detector",
        "class_names": {str(i): n for i, n in enumerate(class_names)},
        "resolution": round(gsd_m * 100.0, 3),
        "tile_size": tile,
        "tiles_overlap": overlap_pct,
        "det_type": "YOLO_v5_or_v7_default",
        "det_conf": round(float(det_conf), 3),
        "det_iou_thresh": NMS_IOU,
        "det_remove_overlap": True,
        "input_stretch": "auto",
        "box_type": "axis_aligned",
        "max_object_px": round(float(max_object_px), 1),
        "sitewatch_engine": "learned",
        "test_time_flips": bool(test_time_flips),
        "training": training_info,
    }
    tmp = Path(scratch.run_folder(str(path.parent))) / (path.name + ".part")
    dummy = torch.zeros(1, 3, tile, tile)
    decoder.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about shape inference
            torch.onnx.export(decoder, dummy, str(tmp), input_names=["images"], output_names=["output0"],
                              opset_version=13, do_constant_folding=True)
        model = onnx.load(str(tmp))
        del model.metadata_props[:]
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, json.dumps(value)
        model.producer_name = "SiteWatch"
        onnx.save(model, str(tmp))
        os.replace(tmp, path)
        scratch.release(str(tmp))
    except Exception as exc:  # keep no half-written model
        if tmp.exists():
            tmp.unlink()
        scratch.release(str(tmp))
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"Could not write the ONNX model {path}: {exc}") from exc
