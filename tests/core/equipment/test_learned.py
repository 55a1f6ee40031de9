"""Learned engine: a short training on easy synthetic aircraft, then detection with the ONNX model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr

from sitewatch.plugin.core.equipment.detection import Detection
from sitewatch.plugin.core.equipment.geometry import polygon_iou
from sitewatch.plugin.core.errors import Cancelled, InputError
from sitewatch.plugin.core.progress import Progress

gdal.UseExceptions()
SIZE = 256
GSD = 1.0


def synthetic_scene(path: Path, rng: np.random.Generator, n: int = 7) -> list[Detection]:
    """A 256 px GeoTIFF (1 m pixels) with `n` bright cross-shaped aircraft; their boxes as Detections."""
    x = np.linspace(0, 6 * np.pi, SIZE)
    img = 70 + 12 * np.sin(x[None, :] * rng.uniform(0.5, 1.5)) * np.cos(x[:, None] * rng.uniform(0.5, 1.5))
    img = img + rng.normal(0, 6, (SIZE, SIZE))
    boxes: list[tuple[int, int, int, int]] = []
    while len(boxes) < n:
        length = int(rng.integers(14, 24))
        span = int(length * rng.uniform(0.8, 1.0))
        cx, cy = rng.integers(20, SIZE - 20, size=2)
        vertical = rng.random() < 0.5
        w, h = (span, length) if vertical else (length, span)
        box = (int(cx - w // 2), int(cy - h // 2), int(cx - w // 2 + w), int(cy - h // 2 + h))
        if any(not (box[2] + 4 < b[0] or b[2] + 4 < box[0] or box[3] + 4 < b[1] or b[3] + 4 < box[1])
               for b in boxes):
            continue
        boxes.append(box)
        tone = rng.uniform(190, 235)
        x0, y0, x1, y1 = box
        if vertical:  # fuselage along y, wings across at 40 % from the nose
            img[y0:y1, cx - 1:cx + 2] = tone
            wy = y0 + int(0.4 * h)
            img[wy - 1:wy + 2, x0:x1] = tone
            img[y1 - 3:y1, cx - w // 4:cx + w // 4] = tone
        else:
            img[cy - 1:cy + 2, x0:x1] = tone
            wx = x0 + int(0.4 * w)
            img[y0:y1, wx - 1:wx + 2] = tone
            img[cy - h // 4:cy + h // 4, x1 - 3:x1] = tone
    ds = gdal.GetDriverByName("GTiff").Create(str(path), SIZE, SIZE, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, GSD, 0, 4000000.0, 0, -GSD))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    pix = np.clip(img, 0, 255).astype(np.uint8)
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(pix)
    ds = None
    dets = []
    for x0, y0, x1, y1 in boxes:
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
        mx = 500000.0 + corners[:, 0] * GSD
        my = 4000000.0 - corners[:, 1] * GSD
        dets.append(Detection.from_corners(np.column_stack([mx, my]), class_name="aircraft", score=1.0,
                                           engine="user"))
    return dets


def test_training_input_errors(tmp_path):
    from sitewatch.plugin.core.equipment.learned.train import TrainingParameters, train_detector

    pytest.importorskip("torch", reason="training needs torch")
    pytest.importorskip("onnx", reason="training writes ONNX")
    rng = np.random.default_rng(1)
    raster = tmp_path / "a.tif"
    dets = synthetic_scene(raster, rng, 3)
    out = str(tmp_path / "m.onnx")
    with pytest.raises(InputError, match="no annotated object"):
        train_detector(TrainingParameters(output_model=out, examples=[(str(raster), [])]))
    with pytest.raises(InputError, match="No training example of class tank"):
        train_detector(TrainingParameters(output_model=out, examples=[(str(raster), dets)], classes=["tank"]))
    with pytest.raises(InputError, match=".onnx"):
        train_detector(TrainingParameters(output_model=str(tmp_path / "m.pt"), examples=[(str(raster), dets)]))
    with pytest.raises(InputError, match="No training image"):
        train_detector(TrainingParameters(output_model=out))
    calls = []

    def cancel(fraction: float, message: str) -> bool:
        calls.append(message)
        return len(calls) < 3

    with pytest.raises(Cancelled):
        train_detector(TrainingParameters(output_model=out, examples=[(str(raster), dets)], tile_size=128,
                                          crop_size=128, time_budget_min=0.2), Progress(cancel))
    assert not Path(out).exists()


def test_train_then_detect(tmp_path):
    pytest.importorskip("torch", reason="training needs torch")
    pytest.importorskip("onnx", reason="training writes ONNX")
    pytest.importorskip("onnxruntime", reason="detection runs the ONNX model")
    from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment
    from sitewatch.plugin.core.equipment.learned.train import TrainingParameters, train_detector
    from sitewatch.plugin.core.equipment.onnx_model import model_summary

    rng = np.random.default_rng(0)
    examples = []
    for i in range(6):
        path = tmp_path / f"train{i}.tif"
        examples.append((str(path), synthetic_scene(path, rng)))
    model = tmp_path / "aircraft.onnx"
    fractions = []
    result = train_detector(
        TrainingParameters(output_model=str(model), examples=examples, time_budget_min=0.5, gsd_m=GSD,
                           tile_size=128, crop_size=128, batch_size=8),
        Progress(lambda f, m: fractions.append(f)))
    assert model.is_file() and result.class_names == ["aircraft"] and result.steps > 5
    assert result.seconds < 45 and fractions[-1] == 1.0 and fractions == sorted(fractions)

    import onnx

    meta = {p.key: json.loads(p.value) for p in onnx.load(str(model)).metadata_props}
    assert meta["model_type"] == "Detector" and meta["class_names"] == {"0": "aircraft"}
    assert meta["resolution"] == 100.0 and meta["tile_size"] == 128
    assert meta["det_type"] == "YOLO_v5_or_v7_default" and 0 < meta["tiles_overlap"] <= 40
    assert meta["test_time_flips"] is True  # detection sees each tile four ways
    summary = model_summary(model)
    assert summary.input_shape == [1, 3, 128, 128] and summary.gsd_m == pytest.approx(1.0)

    found = truth = 0
    for i in range(2):
        path = tmp_path / f"test{i}.tif"
        gt = synthetic_scene(path, rng)
        dets = detect_equipment(DetectionParameters(raster=str(path), engine="learned", model_path=str(model),
                                                    min_score=0.0)).detections
        assert all(d.engine == "learned" and d.class_name == "aircraft" for d in dets)
        truth += len(gt)
        found += sum(any(polygon_iou(g.polygon, d.polygon) >= 0.5 for d in dets) for g in gt)
        assert len(dets) <= 2 * len(gt)
    assert found / truth >= 0.7, f"recall {found}/{truth}, {result}, {len(dets)} detections"


def test_examples_to_pixels_and_chips(tmp_path):
    from sitewatch.plugin.core.equipment.datasets import AnnotatedImage, LabelBox
    from sitewatch.plugin.core.equipment.learned.data import examples_to_images, load_scaled_images

    rng = np.random.default_rng(2)
    raster = tmp_path / "a.tif"
    dets = synthetic_scene(raster, rng, 3)
    (image,) = examples_to_images([(str(raster), dets)])
    d = dets[0]
    b = image.boxes[0]
    assert ((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2) == (pytest.approx(d.cx - 500000.0),
                                                        pytest.approx(4000000.0 - d.cy))
    # at 2 m the 256 px image is 128 px and boxes halve
    (scaled,) = load_scaled_images(image, {"aircraft": 0}, 2.0)
    assert scaled.pixels.shape == (128, 128, 3) and len(scaled.boxes) == 3
    assert scaled.boxes[0][0] == pytest.approx(b.x0 / 2)
    # a large image with two far-apart boxes is read as two chips, not whole
    big = tmp_path / "big.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(big), 8000, 8000, 1, gdal.GDT_UInt16)
    ds.SetGeoTransform((0, 0.5, 0, 0, 0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).Fill(1000)
    ds = None
    boxes = [LabelBox(100, 100, 140, 130, "aircraft"), LabelBox(7000, 7000, 7040, 7030, "aircraft")]
    chips = load_scaled_images(AnnotatedImage(str(big), boxes), {"aircraft": 0}, 1.0)
    assert len(chips) == 2 and all(c.pixels.shape == (768, 768, 3) for c in chips)
    assert all(len(c.boxes) == 1 for c in chips) and chips[0].pixels.dtype == np.uint8
    with pytest.raises(InputError, match="no georeferencing"):
        plain = tmp_path / "plain.tif"
        gdal.GetDriverByName("GTiff").Create(str(plain), 64, 64, 3, gdal.GDT_Byte)
        load_scaled_images(AnnotatedImage(str(plain), boxes), {"aircraft": 0}, 1.0)


def test_validation_images_are_whole_groups():
    import numpy as np

    from sitewatch.plugin.core.equipment.learned.data import ScaledImage
    from sitewatch.plugin.core.equipment.learned.train import _validation_images

    box = np.zeros((1, 4), np.float32)
    scaled = [ScaledImage(f"im{i}", np.zeros((4, 4, 3), np.uint8), box, np.zeros(1, np.int64)) for i in range(12)]
    group_of = [f"site{i // 3}" for i in range(12)]  # four sites of three images
    for seed in range(5):
        held = _validation_images(scaled, group_of, 0.12, np.random.default_rng(seed))
        assert len(held) == 3 and len({group_of[i] for i in held}) == 1
    assert _validation_images(scaled, ["one"] * 12, 0.12, np.random.default_rng(0)) == set()


def test_class_weights_lift_rare_classes_and_the_floor_keeps_common_ones():
    from sitewatch.plugin.core.equipment.learned.train import class_weights_for

    counts = np.array([300, 30, 3])
    raw = np.sqrt(333 / counts / 3)
    weights = class_weights_for(counts)
    assert weights == pytest.approx(raw / raw.mean()) and weights[0] < weights[1] < 1 < weights[2]
    assert list(class_weights_for(counts, 1.0)) == [1.0, 1.0, pytest.approx(weights[2])]  # none under 1


def test_held_out_examples_choose_the_checkpoint_and_threshold_and_are_never_trained_on(tmp_path, monkeypatch):
    from sitewatch.plugin.core.equipment.learned import train

    pytest.importorskip("torch", reason="training needs torch")
    pytest.importorskip("onnx", reason="training writes ONNX")
    seen_training, seen_validation = set(), set()
    sampler, evaluate = train._Sampler, train.evaluate_f1

    def recording_sampler(images, *args):
        seen_training.update(Path(s.name).name for s in images)
        return sampler(images, *args)

    def recording_evaluate(torch, decoder, images, *args, **kw):
        seen_validation.update(Path(s.name).name for s in images)
        return evaluate(torch, decoder, images, *args, **kw)

    monkeypatch.setattr(train, "_Sampler", recording_sampler)
    monkeypatch.setattr(train, "evaluate_f1", recording_evaluate)
    scenes = []
    for k in range(2):
        raster = tmp_path / f"capture{k}.tif"
        scenes.append((str(raster), synthetic_scene(raster, np.random.default_rng(10 + k), 4)))
    result = train.train_detector(train.TrainingParameters(
        output_model=str(tmp_path / "m.onnx"), examples=scenes[:1], validation_examples=scenes[1:], tile_size=128,
        crop_size=64, batch_size=2, time_budget_min=5.0, max_steps=4))
    assert seen_training == {"capture0.tif"} and seen_validation == {"capture1.tif"}
    assert result.images_validation == 1 and result.validation_f1 is not None
    from sitewatch.plugin.core.equipment.onnx_model import model_summary

    assert model_summary(result.model_path).det_conf == result.det_conf  # the threshold chosen there


def test_validation_finds_an_object_by_a_detection_on_it_whatever_its_boxs_extent():
    from sitewatch.plugin.core.equipment.learned.train import centre_match

    cars = np.array([[10, 10, 14, 12], [20, 10, 24, 12]], float)  # two 4 x 2 px cars
    wide = np.array([[9, 9, 16, 13], [30, 10, 34, 12], [10.5, 10, 13.5, 12]], float)  # IoU 0.4; off; second on car 1
    assert centre_match(wide, np.array([0.9, 0.8, 0.7]), cars).tolist() == [True, False, False]  # one to one
    assert centre_match(wide[2:], np.array([0.7]), cars).tolist() == [True]
    assert centre_match(wide[:0], np.zeros(0), cars).tolist() == [] and not centre_match(wide, np.ones(3), cars[:0]).any()


def test_validation_scores_boxes_over_mirrored_views_as_detection_does():
    """With test-time flips a box scores the mean over four views: one seen at the same place in
    every view keeps its score, one that a view sees elsewhere scores a quarter (OnnxDetector)."""
    torch = pytest.importorskip("torch", reason="validation runs the torch model")
    from sitewatch.plugin.core.equipment.learned.train import _predict_boxes

    pixels = np.zeros((64, 64, 3), np.uint8)

    def decoder_seeing(cx: float, cy: float):  # the same box whatever the image: moves when mirrored
        rows = np.array([[[cx, cy, 8.0, 4.0, 0.8, 1.0]]], np.float32)
        return lambda _x: torch.from_numpy(rows)

    boxes, scores, labels = _predict_boxes(torch, decoder_seeing(32, 32), pixels, 0.1, flips=True)
    assert scores.tolist() == pytest.approx([0.8]) and boxes.tolist() == [[28.0, 30.0, 36.0, 34.0]]
    boxes, scores, _ = _predict_boxes(torch, decoder_seeing(12, 20), pixels, 0.1, flips=True)
    assert scores.tolist() == pytest.approx([0.2] * 4)
    assert sorted(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes.tolist()) == [
        (12, 20), (12, 44), (52, 20), (52, 44)]
    assert _predict_boxes(torch, decoder_seeing(12, 20), pixels, 0.1, flips=False)[1].tolist() == pytest.approx([0.8])


def test_validation_merges_boxes_with_the_models_nms_as_detection_does():
    """Two boxes of one object overlapping at IoU 0.45: the model's NMS (det_iou_thresh 0.4, as
    export writes it) keeps one, so validation counts one as detection does."""
    torch = pytest.importorskip("torch", reason="validation runs the torch model")
    from sitewatch.plugin.core.equipment.learned.train import _predict_boxes

    rows = np.array([[[32, 32, 10.0, 10.0, 0.9, 1.0], [35.8, 32, 10.0, 10.0, 0.7, 1.0]]], np.float32)
    _, scores, _ = _predict_boxes(torch, lambda _x: torch.from_numpy(rows), np.zeros((64, 64, 3), np.uint8),
                                  0.1, flips=False)
    assert scores.tolist() == pytest.approx([0.9])


def test_the_threshold_is_low_on_the_f1_plateau_but_does_not_over_count():
    from sitewatch.plugin.core.equipment.learned.train import choose_threshold

    thresholds = [0.2, 0.25, 0.3, 0.35, 0.4]
    f1 = np.array([0.80, 0.925, 0.93, 0.94, 0.925])
    # the plateau (F1 within 0.02 of 0.94) is 0.25-0.4: its lowest threshold when it does not over-count
    assert choose_threshold(thresholds, f1, np.array([60, 50, 48, 45, 40]), 50) == 0.25
    # 52 found of 50 at 0.25: the lowest that finds no more than there are
    assert choose_threshold(thresholds, f1, np.array([60, 52, 50, 45, 40]), 50) == 0.3
    # over-counting all along the plateau: its highest threshold
    assert choose_threshold(thresholds, f1, np.array([70, 60, 58, 56, 54]), 50) == 0.4


def test_a_step_budget_trains_that_many_steps(tmp_path):
    from sitewatch.plugin.core.equipment.learned.train import TrainingParameters, train_detector

    pytest.importorskip("torch", reason="training needs torch")
    pytest.importorskip("onnx", reason="training writes ONNX")
    raster = tmp_path / "a.tif"
    dets = synthetic_scene(raster, np.random.default_rng(2), 3)
    result = train_detector(TrainingParameters(output_model=str(tmp_path / "m.onnx"), examples=[(str(raster), dets)],
                                               tile_size=128, crop_size=64, batch_size=2, time_budget_min=5.0,
                                               max_steps=10, det_conf=0.42))
    assert result.steps == 10 and result.seconds < 120 and Path(result.model_path).exists()
    # validated at fixed steps (a fifth of the budget), not at times that depend on the machine's load
    assert [h["step"] for h in result.history] == [2, 4, 6, 8, 10]
    from sitewatch.plugin.core.equipment.onnx_model import model_summary

    assert result.det_conf == 0.42 and model_summary(result.model_path).det_conf == 0.42  # the threshold given


def test_random_crops_reach_past_the_edge_and_the_padding_stays_zero():
    """Detection pads the tiles at a raster's edge with zeros: training shows such padding too,
    and keeps it at exactly 0 through the photometric changes, as detection sees it."""
    torch = pytest.importorskip("torch", reason="training needs torch")
    from sitewatch.plugin.core.equipment.learned.data import ScaledImage
    from sitewatch.plugin.core.equipment.learned.network import SIZE_REF_PX, STRIDE
    from sitewatch.plugin.core.equipment.learned.train import _Sampler

    image = ScaledImage("flat", np.full((300, 300, 3), 180, np.uint8), np.zeros((0, 4), np.float32),
                        np.zeros(0, np.int64))
    sampler = _Sampler([image], 1, 64, np.random.default_rng(3))
    padded = 0
    for _ in range(300):
        img = sampler.sample(torch, STRIDE, SIZE_REF_PX)[0]
        zero = (img == 0).all(axis=0)
        band = 64 // 4 + 1  # a quarter of the crop at most (and a resampled pixel)
        assert not zero[band:-band, band:-band].any()  # the image's own pixels keep their values
        assert zero.all(axis=1).sum() <= band and zero.all(axis=0).sum() <= band
        padded += bool(zero.all(axis=1).any() or zero.all(axis=0).any())  # whole padded rows or columns
    assert 10 < padded < 150  # some crops overhang the image, most do not


def test_the_exported_weights_average_the_trained_ones():
    torch = pytest.importorskip("torch", reason="training needs torch")
    from sitewatch.plugin.core.equipment.learned.network import CenterNetLite
    from sitewatch.plugin.core.equipment.learned.train import _ema_update

    torch.manual_seed(0)
    a, b = CenterNetLite(2, 4), CenterNetLite(2, 4)
    before = {k: v.clone() for k, v in a.state_dict().items()}
    _ema_update(torch, a, b, 0.75)
    for k, v in a.state_dict().items():
        want = 0.75 * before[k] + 0.25 * b.state_dict()[k] if v.dtype.is_floating_point else b.state_dict()[k]
        assert torch.allclose(v, want.to(v.dtype)), k


def test_a_step_budget_sets_the_learning_rate_by_steps_not_by_time():
    from sitewatch.plugin.core.equipment.learned.train import schedule_fraction

    assert schedule_fraction(50, 200, 0.9) == 0.25  # a busy machine: the time runs ahead, the schedule does not
    assert schedule_fraction(50, 200, 0.1) == 0.25
    assert schedule_fraction(50, None, 0.6) == 0.6  # a time budget alone


def test_a_small_objects_peak_spreads_over_its_neighbouring_cells_as_asked():
    """A 5 x 2 px car at stride 4: the heatmap peak is 1 on its cell; the neighbouring cells get
    exp(-1 / (2 sigma^2)) of it, sigma at least `min_sigma` cells (0.5: 0.14, 1.0: 0.61)."""
    from sitewatch.plugin.core.equipment.learned.data import build_targets

    car = np.array([[30.0, 33.0, 35.0, 35.0]], np.float32)  # centre (32.5, 34): cell (8, 8)
    for min_sigma, beside in ((0.5, np.exp(-2.0)), (1.0, np.exp(-0.5))):
        heat, reg, mask = build_targets(car, np.array([0]), 64, 1, 4, 16.0, min_sigma)
        assert heat[0, 8, 8] == 1.0 and mask[8, 8] == 1.0 and mask.sum() == 1.0
        assert heat[0, 8, 9] == pytest.approx(beside, rel=1e-4) and heat[0, 9, 8] == pytest.approx(beside, rel=1e-4)
    big = np.array([[0.0, 0.0, 64.0, 64.0]], np.float32)  # 0.12 x 64 / 4 = 1.92 cells: its own spread
    assert build_targets(big, np.array([0]), 64, 1, 4, 16.0, 1.0)[0][0, 8, 9] == pytest.approx(
        np.exp(-1 / (2 * 1.92 ** 2)), rel=1e-4)
