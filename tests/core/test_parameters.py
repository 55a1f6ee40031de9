"""The one parameters contract: defaults and choice lists defined once, validated once."""
from __future__ import annotations

import dataclasses

import pytest

from sitewatch.plugin.core import parameters as p
from sitewatch.plugin.core.errors import InputError


def test_operation_parameters_carry_the_settings_defaults():
    change = p.ChangeParameters("before.tif", "after.tif", "out")  # positional inputs keep their order
    assert (change.before, change.after, change.output_dir) == ("before.tif", "after.tif", "out")
    for name in (f.name for f in dataclasses.fields(p.ChangeSettings)):
        assert getattr(change, name) == getattr(p.ChangeOptions(), name) == getattr(p.ChangeSettings, name)
    detection = p.DetectionParameters(raster="x.tif")
    for name in (f.name for f in dataclasses.fields(p.DetectionSettings)):
        assert getattr(detection, name) == getattr(p.EquipmentOptions(), name)
    assert p.EquipmentOptions().max_distance_m == p.MatchSettings().max_distance_m
    assert change.method == next(iter(p.METHODS)) and detection.engine == next(iter(p.ENGINES))


def test_the_old_import_paths_give_the_same_classes():
    from sitewatch.plugin.core import pipeline
    from sitewatch.plugin.core.change import METHODS, ChangeParameters
    from sitewatch.plugin.core.equipment.api import DetectionParameters

    assert ChangeParameters is p.ChangeParameters and DetectionParameters is p.DetectionParameters
    assert METHODS is p.METHODS
    assert pipeline.AnalysisParameters is p.AnalysisParameters and pipeline.ChangeOptions is p.ChangeOptions


def test_engine_choices_are_the_implemented_engines():
    from sitewatch.plugin.core.equipment.engines import ENGINES as IMPLEMENTED

    assert list(p.ENGINES) == list(IMPLEMENTED)


def test_every_method_has_an_implementation():
    from sitewatch.plugin.core.change.methods import make_method

    for method in p.METHODS:
        assert make_method(method) is not None


def test_settings_of_copies_exactly_the_settings_fields():
    options = p.EquipmentOptions(engine="learned", min_score=0.6, max_distance_m=7.0, exemplars_path="x.gpkg")
    assert p.settings_of(p.DetectionSettings, options) == {
        "engine": "learned", "model_path": None, "classes": None, "min_score": 0.6}
    assert p.settings_of(p.MatchSettings, options) == {"max_distance_m": 7.0, "stay_tolerance_m": 3.0}


@pytest.mark.parametrize("settings, message", [
    (p.ChangeSettings(method="magic"), "Unknown change method 'magic'. Known methods: structure"),
    (p.ChangeSettings(sensitivity=1.5), "Sensitivity must be between 0 and 1 (got 1.5)"),
    (p.ChangeSettings(min_area_m2=-1), "minimum area cannot be negative"),
    (p.ChangeParameters("a", "b", resolution="coarsest"), "Unknown resolution rule 'coarsest'"),
    (p.DetectionSettings(engine="magic"), "Known engines: exemplar, learned, model"),
    (p.DetectionSettings(min_score=-0.1), "minimum score must be between 0 and 1"),
    (p.DetectionSettings(engine="model"), "needs an ONNX model file"),
    (p.MatchSettings(max_distance_m=0), "maximum distance for a match must be above 0 m"),
    (p.EquipmentOptions(exemplars_capture="both", exemplars_path="x"), "Known captures: before, after, each"),
    (p.EquipmentOptions(engine="exemplar"), "needs a layer of example boxes"),
])
def test_validation_says_what_is_wrong(settings, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings.validate()


def test_analysis_validation(tmp_path):
    before, after = tmp_path / "b.tif", tmp_path / "a.tif"
    before.write_bytes(b"")
    after.write_bytes(b"")
    params = p.AnalysisParameters("site", str(before), str(after), str(tmp_path / "out"),
                                  equipment=p.EquipmentOptions(enabled=False))
    params.validate()  # nothing wrong
    with pytest.raises(InputError, match="Capture not found"):
        dataclasses.replace(params, after_path=str(tmp_path / "missing.tif")).validate()
    with pytest.raises(InputError, match="change detection, equipment counts, or both"):
        dataclasses.replace(params, change=p.ChangeOptions(enabled=False)).validate()
    with pytest.raises(InputError, match="Sensitivity"):
        dataclasses.replace(params, change=p.ChangeOptions(sensitivity=2.0)).validate()
    # a step that does not run is not validated
    dataclasses.replace(params, change=p.ChangeOptions(enabled=False), equipment=p.EquipmentOptions(
        engine="learned")).validate()


def test_the_cloud_masks_former_names_still_work(tmp_path):
    params = p.AnalysisParameters("site", "b.tif", "a.tif", str(tmp_path), after_cloud_mask="clouds.tif")
    assert (params.cloud_mask_before, params.cloud_mask_after) == (None, "clouds.tif")
    copy = dataclasses.replace(params, site_name="other")
    assert copy.cloud_mask_after == "clouds.tif" and "after_cloud_mask" not in dataclasses.asdict(copy)
