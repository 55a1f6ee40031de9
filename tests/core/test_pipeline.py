"""The two-date analysis on a tiny generated sample site: outputs, counts, cancel, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from osgeo import gdal, ogr

from sitewatch.plugin.core.errors import Cancelled, InputError
from sitewatch.plugin.core.pipeline import (
    LAYER_AFTER, LAYER_BEFORE, LAYER_COUNTS, LAYER_LEFT_OUT, LAYER_REGIONS, AnalysisParameters, EquipmentOptions, describe_run,
    run_analysis,
)
from sitewatch.plugin.core.progress import Progress


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory):
    from sitewatch.plugin.samplesite import generate_sample_site

    return generate_sample_site(tmp_path_factory.mktemp("site"), size_px=768, seed=3)


def _exemplars(site, tmp_path: Path) -> str:
    truth = json.loads(Path(site.truth_before).read_text())
    seen, keep = set(), []
    for feature in truth["features"]:
        if feature["properties"]["class"] not in seen:
            seen.add(feature["properties"]["class"])
            keep.append({"type": "Feature", "geometry": feature["geometry"],
                         "properties": {"class": feature["properties"]["class"]}})
    truth["features"] = keep
    path = tmp_path / "exemplars.geojson"
    path.write_text(json.dumps(truth))
    return str(path)


def _params(site, out: Path, exemplars: str) -> AnalysisParameters:
    return AnalysisParameters(
        site_name="tiny", before_path=str(site.before), after_path=str(site.after), output_dir=str(out),
        before_date="2024-12-09", after_date="2024-12-13",
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=exemplars),
    )


def test_run_writes_every_layer_and_counts_add_up(tiny_site, tmp_path):
    out = tmp_path / "analysis"
    result = run_analysis(_params(tiny_site, out, _exemplars(tiny_site, tmp_path)))
    assert Path(result.gpkg_path) == out / "analysis.gpkg" and out.is_dir()
    assert not (tmp_path / "analysis.partial").exists()
    ds = ogr.Open(result.gpkg_path)
    names = {ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())}
    assert {LAYER_REGIONS, LAYER_BEFORE, LAYER_AFTER, LAYER_COUNTS} <= names
    assert ds.GetLayerByName(LAYER_REGIONS).GetFeatureCount() == result.change.n_regions > 0
    # one copy of each output, and the change result points at the final folder
    assert not (out / "change_regions.gpkg").exists()
    assert result.change.regions_path == result.gpkg_path and result.change.regions_layer == LAYER_REGIONS
    assert Path(result.change.score_path) == out / "change_score.tif" and Path(result.change.mask_path).exists()
    score = gdal.Open(result.score_path)
    assert score.GetRasterBand(1).DataType == gdal.GDT_Float32
    counts = {f.GetField("class"): f for f in ds.GetLayerByName(LAYER_COUNTS)}
    assert counts, "no equipment counted"
    total = dict.fromkeys(("before", "after", "stayed", "moved", "arrived", "departed"), 0)
    for feature in counts.values():
        assert feature.GetField("delta") == feature.GetField("after") - feature.GetField("before")
        # a pair whose fine classes differ (su24 -> su34) counts under its after class
        assert feature.GetField("after") == feature.GetField("stayed") + feature.GetField("moved") + feature.GetField("arrived")
        for key in total:
            total[key] += feature.GetField(key)
    assert total["before"] == total["stayed"] + total["moved"] + total["departed"]
    n_before = ds.GetLayerByName(LAYER_BEFORE).GetFeatureCount()
    assert total["before"] == n_before == len(result.detections_before)
    events = {f.GetField("event") for f in ds.GetLayerByName(LAYER_AFTER)}
    assert events <= {"stayed", "moved", "arrived"} and events
    assert any("->" in line for line in result.summary_lines)
    assert (out / "summary.txt").read_text().startswith("SiteWatch: tiny 2024-12-09 -> 2024-12-13")


def test_boxes_of_each_date_sit_on_that_capture(tiny_site, tmp_path):
    """Detections are matched on the ground, but each date's boxes are kept where its capture
    shows the objects (the after capture is misregistered by the site's shift)."""
    import numpy as np

    assert np.hypot(*tiny_site.shift_px) > 2  # the sample site's after capture is displaced
    result = run_analysis(_params(tiny_site, tmp_path / "analysis", _exemplars(tiny_site, tmp_path)))
    for detections, truth_path in ((result.detections_before, tiny_site.truth_before),
                                   (result.detections_after, tiny_site.truth_after)):
        truth = np.array([np.array(f["geometry"]["coordinates"][0][:-1]).mean(axis=0)
                          for f in json.loads(Path(truth_path).read_text())["features"]])
        found = np.array([(d.cx, d.cy) for d in detections])
        nearest = np.hypot(*(found[:, None, :] - truth[None]).transpose(2, 0, 1)).min(axis=1)
        on_objects = nearest[nearest < 8.0]  # the true detections (false ones lie far from any object)
        assert len(on_objects) >= 5 and np.median(on_objects) < 1.0  # metres; the shift is over 1 m
    # the events were decided on the ground: the stayed aircraft matched as stayed, not moved
    stayed = sum(c.stayed for c in result.match.counts)
    assert stayed >= sum(c.moved for c in result.match.counts)


def test_cancel_leaves_no_output(tiny_site, tmp_path):
    out = tmp_path / "cancelled"
    calls = []

    def cancel_after_a_few(fraction, message):
        calls.append(fraction)
        return len(calls) < 3

    with pytest.raises(Cancelled):
        run_analysis(_params(tiny_site, out, _exemplars(tiny_site, tmp_path)), Progress(cancel_after_a_few))
    assert not out.exists() and not (tmp_path / "cancelled.partial").exists()


def test_a_folder_of_other_files_is_never_replaced(tiny_site, tmp_path):
    folder = tmp_path / "my documents"
    folder.mkdir()
    (folder / "notes.txt").write_text("an analyst's notes")
    params = _params(tiny_site, folder, _exemplars(tiny_site, tmp_path))
    with pytest.raises(InputError, match="holds other files"):
        run_analysis(params)
    assert (folder / "notes.txt").read_text() == "an analyst's notes"
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="is a file"):
        run_analysis(_params(tiny_site, folder / "notes.txt", _exemplars(tiny_site, tmp_path)))
    assert (folder / "notes.txt").read_text() == "an analyst's notes"


def test_missing_capture_is_reported(tiny_site, tmp_path):
    params = _params(tiny_site, tmp_path / "x", _exemplars(tiny_site, tmp_path))
    params.after_path = str(tmp_path / "nope.tif")
    with pytest.raises(InputError, match="nope.tif"):
        run_analysis(params)


def test_describe_run_names_engine_and_estimate(tiny_site, tmp_path):
    estimate = describe_run(_params(tiny_site, tmp_path / "x", _exemplars(tiny_site, tmp_path)))
    text = "\n".join(estimate.lines)
    assert "768 x 768 px" in text and "exemplar engine" in text and "Estimated time" in text
    assert estimate.seconds > 0 and "Left out" not in text
    params = _params(tiny_site, tmp_path / "x", _exemplars(tiny_site, tmp_path))
    params.left_out_wkt = _left_half(tiny_site)
    half = ogr.CreateGeometryFromWkt(params.left_out_wkt).GetArea()
    assert f"Left out on both dates: {half:,.0f} m² of the site" in describe_run(params).lines


def test_estimate_counts_the_examples_and_assumes_three_before_they_are_saved(tiny_site, tmp_path):
    """The panel asks before the examples layer is saved: the estimate must not shrink then."""
    import dataclasses

    params = _params(tiny_site, tmp_path / "x", _exemplars(tiny_site, tmp_path))
    n = len(json.loads(Path(params.equipment.exemplars_path).read_text())["features"])
    with_file = describe_run(params).seconds
    unsaved = dataclasses.replace(params, equipment=dataclasses.replace(params.equipment, exemplars_path=None))
    without_file = describe_run(unsaved).seconds
    change_only = describe_run(dataclasses.replace(params, equipment=dataclasses.replace(
        params.equipment, enabled=False))).seconds
    assert without_file - change_only == pytest.approx((with_file - change_only) * 3 / n, rel=1e-6)


def test_summary_says_how_many_moved_shadows_were_left_out():
    from types import SimpleNamespace

    from sitewatch.plugin.core.pipeline import summary_lines

    change = SimpleNamespace(changed_area_m2=1500.0, n_regions=4, method="structure", shift=None, shadow_moves_dropped=2)
    lines = summary_lines(SimpleNamespace(title="SiteWatch: s a -> b", change=change, match=None, left_out_m2=0.0))
    assert lines[1] == "Change: 1,500 m² in 4 regions (method structure)"
    assert lines[2] == "  2 more regions left out: shadows moved by the sun"
    change.shadow_moves_dropped = 0
    assert len(summary_lines(SimpleNamespace(title="t", change=change, match=None, left_out_m2=0.0))) == 2


def test_summary_tells_the_analyst_how_to_score_faster_only_when_there_is_something_to_do():
    from types import SimpleNamespace

    from sitewatch.plugin.core.pipeline import summary_lines

    change = SimpleNamespace(changed_area_m2=10.0, n_regions=1, method="structure", shift=None,
                             scoring="Change scoring: compiled kernels (numba 0.58.1).", scoring_advice="")
    result = SimpleNamespace(title="t", change=change, match=None, left_out_m2=0.0)
    assert not any("scoring" in line or "numba" in line for line in summary_lines(result))  # the log says which path
    change.scoring_advice = "Change detection runs about 1.5x faster with numba: pip install numba."
    assert summary_lines(result)[2] == "  Change detection runs about 1.5x faster with numba: pip install numba."


def _left_half(site) -> str:
    from sitewatch.plugin.core.polygons import footprint_wkt

    ring = ogr.CreateGeometryFromWkt(footprint_wkt(str(site.before))[0])
    minx, maxx, miny, maxy = ring.GetEnvelope()
    half = (minx + maxx) / 2
    return f"POLYGON (({minx} {miny}, {half} {miny}, {half} {maxy}, {minx} {maxy}, {minx} {miny}))"


def test_areas_left_out_get_no_change_and_no_counts(tiny_site, tmp_path):
    exemplars = _exemplars(tiny_site, tmp_path)
    left = ogr.CreateGeometryFromWkt(_left_half(tiny_site))

    def inside(x, y):
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(float(x), float(y))
        return left.Contains(point)

    whole = run_analysis(_params(tiny_site, tmp_path / "whole", exemplars))
    params = _params(tiny_site, tmp_path / "part", exemplars)
    params.left_out_wkt = _left_half(tiny_site)
    part = run_analysis(params)
    # the left half had changes and equipment; with it left out, nothing is reported there
    assert any(inside(r.centroid_x, r.centroid_y) for r in whole.change.regions)
    assert any(inside(d.cx, d.cy) for d in whole.detections_before + whole.detections_after)
    assert part.change.regions and not any(inside(r.centroid_x, r.centroid_y) for r in part.change.regions)
    kept = part.detections_before + part.detections_after
    assert kept and not any(inside(d.cx, d.cy) for d in kept)
    mask = gdal.Open(part.mask_path)  # the grid shrinks to what is left: the right half
    minx, maxx = left.GetEnvelope()[:2]
    assert mask.GetGeoTransform()[0] == pytest.approx(maxx, abs=mask.GetGeoTransform()[1])
    assert (mask.ReadAsArray() != 255).mean() > 0.9
    area = left.GetArea()
    assert part.left_out_m2 == pytest.approx(area, rel=0.01)
    # what was left out is kept with the results
    kept_ds = ogr.Open(part.gpkg_path)
    kept_layer = kept_ds.GetLayerByName(LAYER_LEFT_OUT)
    kept_feature = kept_layer.GetNextFeature()
    assert kept_layer.GetFeatureCount() == 1 and kept_feature.GetGeometryRef().GetArea() == pytest.approx(area)
    assert "32636" in kept_layer.GetSpatialRef().ExportToWkt() or "UTM zone 36N" in kept_layer.GetSpatialRef().ExportToWkt()
    assert ogr.Open(whole.gpkg_path).GetLayerByName(LAYER_LEFT_OUT) is None
    assert any(line.startswith("Left out on both dates") for line in part.summary_lines)
    # leaving out everything is refused before any output is made
    params = _params(tiny_site, tmp_path / "none", exemplars)
    params.left_out_wkt = left.Buffer(1e4).ExportToWkt()
    with pytest.raises(InputError, match="cover the whole site"):
        run_analysis(params)
    assert not (tmp_path / "none").exists() and not (tmp_path / "none.partial").exists()


def test_known_objects_give_exact_counts_and_events(tmp_path):
    """Captures built with known vehicles (three before, four after: two stay, one leaves, two
    arrive), two of them given as examples: the counts and events are exactly those."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
    from analysis_fixtures import AFTER_BOXES, BEFORE_BOXES, GSD, ORIGIN, capture_pair, write_examples

    before, after = capture_pair(tmp_path / "captures")
    examples = write_examples(tmp_path / "examples.gpkg", BEFORE_BOXES[:2])
    params = AnalysisParameters(
        site_name="known", before_path=str(before), after_path=str(after), output_dir=str(tmp_path / "out"),
        before_date="2024-01-05", after_date="2024-03-07",
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(examples), exemplars_layer="examples"))
    result = run_analysis(params)
    counts = {c.class_name: (c.before, c.after, c.stayed, c.moved, c.arrived, c.departed) for c in result.match.counts}
    assert counts == {"vehicle": (3, 4, 2, 0, 2, 1)}

    def pixel_centre(d) -> tuple:
        return round((d.cx - ORIGIN[0]) / GSD), round((ORIGIN[1] - d.cy) / GSD)

    def box_centre(b) -> tuple:
        return round((b[0] + b[2]) / 2), round((b[1] + b[3]) / 2)

    events = {}
    for e in result.match.events:
        events.setdefault(e.event, []).append(pixel_centre(e.detection))
    near = 2  # pixels
    for event, boxes in (("stayed", BEFORE_BOXES[:2]), ("departed", BEFORE_BOXES[2:]), ("arrived", AFTER_BOXES[2:])):
        assert len(events[event]) == len(boxes)
        for b in boxes:
            assert any(abs(x - box_centre(b)[0]) <= near and abs(y - box_centre(b)[1]) <= near
                       for x, y in events[event]), (event, b, events[event])
