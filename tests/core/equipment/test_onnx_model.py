"""ONNX model reading and running: every output layout, metadata, sidecar, bad models."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is needed to build test models")
pytest.importorskip("onnxruntime", reason="onnxruntime runs ONNX models")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from osgeo import gdal, osr  # noqa: E402

from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment  # noqa: E402
from sitewatch.plugin.core.equipment.onnx_model import (  # noqa: E402
    DET_OBB, DET_ULTRA, DET_V5, OnnxDetector, infer_layout, model_box_to_oriented, model_summary,
    percentile_ranges, scale_to_unit, scaling_for)
from sitewatch.plugin.core.errors import ModelError  # noqa: E402

gdal.UseExceptions()


def make_model(path: Path, output: np.ndarray, metadata: dict | None = None, size: int = 64) -> Path:
    """A model whose output is the constant `output` (plus 0 x the input's mean)."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["const", "z"], ["output0"]),
    ]
    inits = [numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
             numpy_helper.from_array(output.astype(np.float32), "const")]
    graph = helper.make_graph(nodes, "fixed", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        e = model.metadata_props.add()
        e.key, e.value = k, json.dumps(v)
    onnx.save(model, str(path))
    return path


META = {"model_type": "Detector", "class_names": {"0": "aircraft", "1": "vehicle"}, "resolution": 100,
        "tile_size": 64, "tiles_overlap": 20, "det_conf": 0.3, "det_iou_thresh": 0.45}


def v5_rows() -> np.ndarray:
    rows = np.zeros((1, 3, 7), np.float32)
    rows[0, 0] = [32, 20, 10, 6, 0.9, 0.1, 0.95]  # vehicle, score 0.9 * 0.95
    rows[0, 1] = [32.5, 20.5, 10, 6, 0.5, 0.1, 0.9]  # duplicate of the first: removed by NMS
    rows[0, 2] = [10, 10, 8, 8, 0.2, 1.0, 0.0]  # below det_conf
    return rows


def test_yolov5_layout(tmp_path):
    det = OnnxDetector(make_model(tmp_path / "v5.onnx", v5_rows(), dict(META, det_type=DET_V5)))
    assert det.layout == DET_V5 and det.tile_size == 64
    boxes = det.predict(np.zeros((3, 64, 64), np.float32), 0.3)
    assert len(boxes) == 1
    b = boxes[0]
    assert (b.cx, b.cy, b.w, b.h, b.class_id) == (32, 20, 10, 6, 1)
    assert b.score == pytest.approx(0.9 * 0.95)


def test_ultralytics_layout_inferred_from_shape(tmp_path):
    rows = np.zeros((1, 6, 4), np.float32)  # [1, 4 + nc, N]
    rows[0, :, 0] = [40, 12, 20, 10, 0.8, 0.1]
    rows[0, :, 1] = [5, 5, 4, 4, 0.1, 0.2]
    det = OnnxDetector(make_model(tmp_path / "v8.onnx", rows, META))
    assert det.layout == DET_ULTRA
    boxes = det.predict(np.zeros((3, 64, 64), np.float32), 0.3)
    assert [(b.cx, b.cy, b.class_id) for b in boxes] == [(40, 12, 0)]
    assert boxes[0].score == pytest.approx(0.8)


def test_obb_layout_angle(tmp_path):
    rows = np.zeros((1, 7, 2), np.float32)  # [1, 4 + nc + 1, N], angle (radians) last
    rows[0, :, 0] = [30, 30, 20, 6, 0.9, 0.0, math.pi / 2]
    det = OnnxDetector(make_model(tmp_path / "obb.onnx", rows, dict(META, det_type="yolo_ultralytics_obb")))
    assert det.layout == DET_OBB
    (b,) = det.predict(np.zeros((3, 64, 64), np.float32), 0.3)
    assert b.angle_deg == pytest.approx(90.0)
    length, width, heading = model_box_to_oriented(b)
    # long side rotated from the x axis to the y axis: the box points up-down (heading 0)
    assert (length, width) == (20, 6) and heading == pytest.approx(0.0, abs=1e-6)


def test_infer_layout():
    assert infer_layout([1, 8400, 7], 2) == DET_V5
    assert infer_layout([1, 6, 8400], 2) == DET_ULTRA
    assert infer_layout([1, 7, 8400], 2) == DET_OBB
    assert infer_layout([1, 9, 9], 2) == ""


def test_sidecar_metadata(tmp_path):
    path = make_model(tmp_path / "plain.onnx", v5_rows())  # no metadata at all
    with pytest.raises(ModelError, match="class_names"):
        OnnxDetector(path)
    (tmp_path / "plain.json").write_text(json.dumps(dict(META, resolution=50, class_names=["a", "b"])))
    summary = model_summary(path)
    assert summary.class_names == ["a", "b"] and summary.gsd_m == pytest.approx(0.5)
    assert summary.det_type == DET_V5 and summary.input_shape == [1, 3, 64, 64]
    assert "CPUExecutionProvider" in summary.providers and summary.device in ("CPU", "GPU")


def test_unexpected_outputs(tmp_path):
    with pytest.raises(ModelError, match="Unexpected output"):
        OnnxDetector(make_model(tmp_path / "bad.onnx", np.zeros((1, 10, 10), np.float32), META))
    with pytest.raises(ModelError, match="Unexpected outputs"):
        OnnxDetector(make_model(tmp_path / "bad2.onnx", np.zeros((1, 10), np.float32), META))
    with pytest.raises(ModelError, match="should be 7"):
        OnnxDetector(make_model(tmp_path / "bad3.onnx", np.zeros((1, 5, 6), np.float32),
                                dict(META, det_type=DET_V5)))


def test_bad_metadata_and_files(tmp_path):
    with pytest.raises(ModelError, match="not numbered"):
        OnnxDetector(make_model(tmp_path / "gap.onnx", v5_rows(), dict(META, class_names={"0": "a", "2": "b"})))
    with pytest.raises(ModelError, match="Unknown det_type"):
        OnnxDetector(make_model(tmp_path / "dt.onnx", v5_rows(), dict(META, det_type="SSD")))
    junk = tmp_path / "junk.onnx"
    junk.write_text("this is not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        OnnxDetector(junk)
    with pytest.raises(ModelError, match="does not exist"):
        OnnxDetector(tmp_path / "missing.onnx")


def write_raster(path: Path, size: int, gt: tuple, epsg: int, dtype=gdal.GDT_Byte, value=100) -> str:
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 3, dtype)
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(3):
        ds.GetRasterBand(b + 1).Fill(value)
    ds = None
    return str(path)


def test_model_engine_resamples_to_model_gsd(tmp_path):
    model = make_model(tmp_path / "m.onnx", v5_rows(), dict(META, det_type=DET_V5))
    # 128 px at 0.5 m = one 64 px tile at the model's 1 m
    raster = write_raster(tmp_path / "r.tif", 128, (1000.0, 0.5, 0, 2000.0, 0, -0.5), 32633)
    result = detect_equipment(DetectionParameters(raster=raster, engine="model", model_path=str(model),
                                                  min_score=0.0))
    (d,) = result.detections
    assert d.class_name == "vehicle" and d.engine == "model"
    assert (d.cx, d.cy) == (pytest.approx(1032.0), pytest.approx(1980.0))
    assert (d.length_m, d.width_m) == (pytest.approx(10.0), pytest.approx(6.0))
    assert d.heading_deg == pytest.approx(90.0)


def test_model_engine_geographic_crs_and_gsd_warning(tmp_path, caplog):
    model = make_model(tmp_path / "m.onnx", v5_rows(), dict(META, det_type=DET_V5))
    deg = 0.5 / 111320.0  # about 0.5 m at the equator
    raster = write_raster(tmp_path / "geo.tif", 128, (30.0, deg, 0, 0.001, 0, -deg), 4326)
    result = detect_equipment(DetectionParameters(raster=raster, engine="model", model_path=str(model)))
    (d,) = result.detections  # measured in the local UTM zone (36N at 30 E): metres, not degrees
    from osgeo import osr

    utm = osr.SpatialReference(wkt=result.crs_wkt)
    assert utm.GetUTMZone() == 36 and d.crs_wkt == result.crs_wkt
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lon, _lat, _ = osr.CoordinateTransformation(utm, wgs84).TransformPoint(d.cx, d.cy)
    assert lon == pytest.approx(30.0 + 32.0 / 111320.0, abs=2e-6)
    assert (d.length_m, d.width_m) == (pytest.approx(10.0, rel=0.05), pytest.approx(6.0, rel=0.05))
    fine = write_raster(tmp_path / "fine.tif", 640, (0.0, 0.1, 0, 0.0, 0, -0.1), 32633)
    with caplog.at_level(logging.WARNING):
        detect_equipment(DetectionParameters(raster=fine, engine="model", model_path=str(model)))
    assert "expect poorer detections" in caplog.text


def test_input_scaling_rules():
    from sitewatch.plugin.core.equipment.onnx_model import parse_metadata

    meta = parse_metadata({"class_names": {"0": "a"}}, Path("m.onnx"), [64, 64])
    assert scaling_for(meta, "uint8") == "minmax" and scaling_for(meta, "uint16") == "percentile"
    meta16 = parse_metadata({"class_names": {"0": "a"}, "input_max": 4095}, Path("m.onnx"), [64, 64])
    assert scaling_for(meta16, "uint16") == "minmax" and meta16.input_max == 4095
    sample = np.stack([np.arange(1, 101, dtype=np.float32).reshape(10, 10)] * 3)
    ranges = percentile_ranges(sample, (2.0, 98.0))
    assert ranges[0][0] == pytest.approx(2.98, abs=0.01) and ranges[0][1] == pytest.approx(98.02, abs=0.01)
    unit = scale_to_unit(sample, ranges)
    assert unit.min() == 0.0 and unit.max() == 1.0


def test_second_peaks_on_a_large_objects_body_are_dropped():
    from sitewatch.plugin.core.equipment.onnx_model import ModelBox, nms_model_boxes

    transport = ModelBox(100.0, 100.0, 70.0, 60.0, 0.0, 0.95, 0)
    second_peak = ModelBox(100.0, 114.0, 40.0, 36.0, 0.0, 0.5, 0)  # on its fuselage: IoU only 0.34
    truck_under_wing = ModelBox(100.0, 114.0, 8.0, 3.0, 0.0, 0.6, 1)  # another class: kept
    neighbour = ModelBox(175.0, 100.0, 70.0, 60.0, 0.0, 0.9, 0)  # wing tip to wing tip: kept
    kept = nms_model_boxes([second_peak, truck_under_wing, transport, neighbour], 0.45)
    assert kept == [transport, neighbour, truck_under_wing]


def test_a_wider_box_on_the_same_object_and_its_shadow_is_dropped():
    # a launcher seen twice (scores 0.37, 0.33): the weaker box is wider, taking in the shadow;
    # its centre lies off the better box's body, the better box's centre on the wider one's
    from sitewatch.plugin.core.equipment.onnx_model import ModelBox, nms_model_boxes

    launcher = ModelBox(100.0, 100.0, 10.6, 5.0, 0.0, 0.37, 2)
    with_shadow = ModelBox(99.3, 97.2, 12.2, 7.6, 0.0, 0.33, 2)
    assert nms_model_boxes([with_shadow, launcher], 0.4) == [launcher]
    # two launchers parked side by side, as wide as each other, are two objects
    beside = ModelBox(100.0, 106.0, 12.2, 7.6, 0.0, 0.33, 2)
    assert nms_model_boxes([beside, launcher], 0.4) == [launcher, beside]


def test_flipped_views_are_mirrored_back_and_scores_averaged(tmp_path):
    # the stand-in model answers the same box whatever it sees: mirrored back, the box lands at
    # (32, 20) in the plain and left-right views, at (32, 44) in the up-down ones
    det = OnnxDetector(make_model(tmp_path / "v5.onnx", v5_rows(), dict(META, det_type=DET_V5)))
    s = 0.9 * 0.95
    boxes = sorted(det.predict(np.zeros((3, 64, 64), np.float32), 0.3, flips=True), key=lambda b: b.cy)
    assert [(b.cx, b.cy, b.class_id) for b in boxes] == [(32, 20, 1), (32, 44, 1)]
    assert [b.score for b in boxes] == [pytest.approx(s / 2), pytest.approx(s / 2)]
    # a box seen by half of the views only keeps half its score: under a threshold above that, gone
    assert det.predict(np.zeros((3, 64, 64), np.float32), 0.5, flips=True) == []


def test_views_of_one_object_merge_into_one_box():
    from sitewatch.plugin.core.equipment.onnx_model import ModelBox, merge_views

    plain = [ModelBox(100.0, 100.0, 20.0, 10.0, 0.0, 0.8, 0), ModelBox(300.0, 300.0, 8.0, 4.0, 0.0, 0.4, 1)]
    mirrored = [ModelBox(102.0, 100.0, 20.0, 10.0, 0.0, 0.6, 0)]
    other = [ModelBox(101.0, 101.0, 20.0, 10.0, 0.0, 0.7, 0), ModelBox(100.0, 100.0, 20.0, 10.0, 0.0, 0.9, 1)]
    merged = merge_views([plain, mirrored, other, []])
    by_class = sorted(merged, key=lambda b: (b.class_id, -b.score))
    aircraft = by_class[0]
    assert aircraft.score == pytest.approx((0.8 + 0.6 + 0.7) / 4)
    assert aircraft.cx == pytest.approx((100 * 0.8 + 102 * 0.6 + 101 * 0.7) / 2.1)
    # another class on the same spot and a box seen once stay apart, each with its own mean
    assert sorted(round(b.score, 3) for b in by_class[1:]) == [0.1, 0.225]
