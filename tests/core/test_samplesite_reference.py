"""The sample site's reviewed reference captures and the site model trained on them."""
from __future__ import annotations

import json
import math

import pytest
from osgeo import gdal

from sitewatch.plugin.core.captures import capture_date, capture_sun
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.samplesite import generate_sample_site
from sitewatch.plugin.samplesite.reference import (
    REFERENCE_CAPTURES, generate_reference_capture, generate_reference_captures, load_reference_capture)

SIZE = 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return generate_sample_site(tmp_path_factory.mktemp("ref") / "site", SIZE, seed=7)


def _objects(path) -> list[dict]:
    return [f["properties"] for f in json.loads(path.read_text())["features"]]


def test_earlier_captures_of_the_same_airfield_with_their_own_population(site):
    refs = generate_reference_captures(site.root, SIZE, 7)
    assert len(refs) == REFERENCE_CAPTURES and [r.date for r in refs] == sorted((r.date for r in refs), reverse=True)
    first, second = (_objects(r.truth) for r in refs[:2])
    assert [(o["cx"], o["cy"]) for o in first] != [(o["cx"], o["cy"]) for o in second]
    ref = refs[0]
    ds = gdal.Open(str(ref.raster))
    before = gdal.Open(str(site.before))
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (SIZE, SIZE, 4)
    assert ds.GetGeoTransform() == before.GetGeoTransform()
    assert capture_date(str(ref.raster)).date < capture_date(str(site.before)).date
    objects = _objects(ref.truth)
    assert sum(ref.counts.values()) == len(objects) > 10
    assert {"fighters and bombers", "air-defence launchers and radars"} <= set(ref.counts)
    assert all(o["event"] == "reviewed" and o["date"] == ref.date for o in objects)
    # other airframes at other spots: most objects of date 1 have nothing of their class within 2 m
    date1 = _objects(site.truth_before)
    same_spot = sum(any(o["class"] == p["class"] and math.dist((o["cx"], o["cy"]), (p["cx"], p["cy"])) < 2.0
                        for o in objects) for p in date1)
    assert same_spot < 0.3 * len(date1)


def test_the_history_holds_recent_weeks_and_the_same_season_a_year_before(site):
    refs = generate_reference_captures(site.root, SIZE, 7)
    date1 = capture_date(str(site.before)).date
    weeks = [round((date1 - capture_date(str(r.raster)).date).days / 7) for r in refs]
    assert weeks == [3, 6, 9, 52, 55]
    # a year before, the sun stands as it does on date 1 (shadows as long); the recent weeks' is higher
    sun1 = capture_sun(str(site.before))[1]
    elevations = [capture_sun(str(r.raster))[1] for r in refs]
    assert abs(elevations[3] - sun1) < 3.0 and min(elevations[:3]) > sun1 + 3.0


def test_the_history_shows_empty_berms_and_an_absent_radar(site):
    refs = generate_reference_captures(site.root, SIZE, 7)
    date1 = [o["class"] for o in _objects(site.truth_before)]
    berms, radars = date1.count("s400_launcher"), date1.count("s400_radar")  # every berm is full on date 1
    for k, ref in enumerate(refs, start=1):
        classes = [o["class"] for o in _objects(ref.truth)]
        assert 1 <= classes.count("s400_launcher") < berms
        assert classes.count("s400_radar") == (radars if k % 2 else 0)


def test_generation_is_deterministic_and_kept(site, tmp_path):
    ref = generate_reference_capture(site.root, SIZE, 7)
    again = generate_sample_site(tmp_path / "again", SIZE, seed=7)
    other = generate_reference_capture(again.root, SIZE, 7)
    assert gdal.Open(str(other.raster)).ReadRaster() == gdal.Open(str(ref.raster)).ReadRaster()
    assert other.truth.read_text() == ref.truth.read_text()
    stamp = ref.raster.stat().st_mtime_ns
    assert generate_reference_capture(site.root, SIZE, 7).raster.stat().st_mtime_ns == stamp
    assert load_reference_capture(tmp_path / "nowhere") is None


def test_a_kept_reference_of_another_date_is_drawn_again(site, tmp_path):
    """An earlier version drew reference 4 twelve weeks before date 1; kept, it would train a model
    on another history than this version's."""
    again = generate_sample_site(tmp_path / "again", SIZE, seed=7)
    ref = generate_reference_capture(again.root, SIZE, 7, 4)
    ref.truth.write_text(ref.truth.read_text().replace(f'"date": "{ref.date}"', '"date": "2024-09-16"'))
    assert load_reference_capture(again.root, 4).date == "2024-09-16"
    redrawn = generate_reference_capture(again.root, SIZE, 7, 4)
    assert redrawn.date == ref.date and capture_date(str(redrawn.raster)).date.date().isoformat() == ref.date


def test_a_site_of_another_size_is_refused(site, tmp_path):
    small = generate_sample_site(tmp_path / "small", 512, seed=7)
    with pytest.raises(InputError, match="not 1024 px"):
        generate_reference_capture(small.root, SIZE, 7)


def test_the_site_model_learns_categories_and_is_kept(site):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from sitewatch.plugin.core.equipment.onnx_model import OnnxDetector
    from sitewatch.plugin.samplesite.training import train_site_model

    model = train_site_model(site.root, SIZE, 7, minutes=0.25)
    classes = OnnxDetector(str(model)).metadata.class_names
    assert "helicopters" in classes and "fighters and bombers" in classes and "mi8" not in classes
    # air-defence equipment by class (launcher, radar, Pantsir), counted by category
    assert "s400_launcher" in classes and "air-defence launchers and radars" not in classes
    stamp = model.stat().st_mtime_ns
    assert train_site_model(site.root, SIZE, 7, minutes=0.25).stat().st_mtime_ns == stamp  # kept


def test_a_kept_site_model_of_other_classes_is_trained_again(site, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from sitewatch.plugin.core.equipment.onnx_model import OnnxDetector
    from sitewatch.plugin.samplesite import training

    monkeypatch.setattr(training, "BY_CLASS_CATEGORIES", ())  # as an earlier version trained it
    model = training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3)
    assert "air-defence launchers and radars" in OnnxDetector(str(model)).metadata.class_names
    monkeypatch.setattr(training, "BY_CLASS_CATEGORIES", ("air_defence",))
    model = training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3)
    assert "s400_launcher" in OnnxDetector(str(model)).metadata.class_names


@pytest.mark.parametrize("setting, key, before, now", [
    ("SITE_MIN_HEAT_SIGMA", "min_heat_sigma", 0.5, 1.0),  # a tighter heatmap peak
    ("SITE_MIN_CLASS_WEIGHT", "min_class_weight", 0.0, 1.0),  # common classes weighted down
])
def test_a_kept_site_model_of_an_earlier_recipe_is_trained_again(site, monkeypatch, setting, key, before, now):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from sitewatch.plugin.core.equipment.onnx_model import OnnxDetector
    from sitewatch.plugin.samplesite import training

    def recorded(model) -> float:
        return OnnxDetector(str(model)).metadata.raw["training"][key]

    monkeypatch.setattr(training, setting, before)  # as an earlier version trained it
    assert recorded(training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3, retrain=True)) == before
    monkeypatch.setattr(training, setting, now)
    model = training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3)
    assert recorded(model) == now
    stamp = model.stat().st_mtime_ns
    assert training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3).stat().st_mtime_ns == stamp  # kept


def test_a_kept_site_model_whose_threshold_an_earlier_rule_chose_is_trained_again(site, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from sitewatch.plugin.core.equipment.learned import train
    from sitewatch.plugin.core.equipment.onnx_model import OnnxDetector
    from sitewatch.plugin.samplesite import training

    def rule(model) -> str:
        return OnnxDetector(str(model)).metadata.raw["training"]["threshold_rule"]

    rule_now = train.THRESHOLD_RULE
    monkeypatch.setattr(train, "THRESHOLD_RULE", "lowest near the best F1")  # as an earlier version chose it
    assert rule(training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3, retrain=True)) != rule_now
    monkeypatch.setattr(train, "THRESHOLD_RULE", rule_now)
    model = training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3)
    assert rule(model) == rule_now
    stamp = model.stat().st_mtime_ns
    assert training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3).stat().st_mtime_ns == stamp  # kept


def test_the_site_models_threshold_is_chosen_on_a_reviewed_capture_it_never_trained_on(site, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from sitewatch.plugin.core.equipment.learned import train
    from sitewatch.plugin.core.equipment.onnx_model import OnnxDetector
    from sitewatch.plugin.samplesite import training

    given = []
    real = train.train_detector
    monkeypatch.setattr(train, "train_detector", lambda params, progress=None: given.append(params) or real(
        params, progress))
    model = training.train_site_model(site.root, SIZE, 7, minutes=0.2, steps=3, retrain=True)
    (params,) = given
    trained_on = {raster for raster, _ in params.examples}
    (held_out, truth), = params.validation_examples
    assert held_out == str(site.root / f"reference_{training.VALIDATION_CAPTURE}.tif") and held_out not in trained_on
    assert len(trained_on) == REFERENCE_CAPTURES and len(truth) > 10 and params.det_conf is None  # chosen, not given
    meta = OnnxDetector(str(model)).metadata
    assert meta.raw["training"]["validation_images"] == 1 and meta.raw["training"]["images"] == REFERENCE_CAPTURES
