"""The site timeline against the sample series' truth: counts per class per date, events, skipped captures."""
from __future__ import annotations

import csv
import json
import shutil

import pytest
from osgeo import gdal, ogr

from sitewatch.plugin.core.equipment.io import read_detections
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.core.timeline import (
    TimelineParameters, rasters_in_folder, run_timeline, write_timeline,
)
from sitewatch.plugin.samplesite import generate_site_series
from sitewatch.plugin.samplesite.examples import EXAMPLE_MIN_SCORE, write_example_boxes

SIZE = 1024


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return generate_site_series(tmp_path_factory.mktemp("tl") / "site", n_dates=5, size_px=SIZE, seed=7)


def _aoi(series) -> str:
    ds = ogr.Open(str(series.site.aoi))
    feature = ds.GetLayer(0).GetNextFeature()
    return feature.GetGeometryRef().ExportToWkt()


def _truth_source(series):
    truth = {str(c.raster): c.truth for c in series.captures}
    return lambda path, date: read_detections(str(truth[path])) if path in truth else None


def test_reviewed_captures_give_the_true_counts_and_events(series, tmp_path):
    shuffled = [str(c.raster) for c in reversed(series.captures)]
    result = run_timeline(TimelineParameters("Khmeimim", shuffled, max_distance_m=20.0,
                                             reviewed=_truth_source(series)))
    assert [c.date for c in result.captures] == [c.when.strftime("%Y-%m-%d") for c in series.captures]
    for got, want in zip(result.captures, series.captures):
        assert got.reviewed
        for category, n in want.counts.items():
            assert abs(got.counts.get(category, 0) - n) <= 0.1 * n, (got.date, category)
    arrivals = {}
    for _date_from, date_to, label, event, _ in result.event_rows():
        if event in ("arrived", "departed"):
            arrivals[(date_to, label, event)] = arrivals.get((date_to, label, event), 0) + 1
    for e in series.events:  # objects that stay put are matched; those that come or go are events
        if e["category"] in ("helicopters", "heavy transport"):
            assert arrivals.get((e["date_to"], e["category"], "arrived"), 0) == e["arrived"]
            assert arrivals.get((e["date_to"], e["category"], "departed"), 0) == e["departed"]
    files = write_timeline(result, str(tmp_path / "out"))
    rows = list(csv.DictReader(open(files.counts_csv)))
    assert len(rows) == 5 * len(result.classes) and all(r["reviewed"] == "1" for r in rows)
    svg = open(files.svg).read()
    assert svg.count('class="reviewed"') == 5
    page = open(files.html).read()
    assert "<script" in page and "http" not in page.replace('http://www.w3.org/2000/svg', "")
    data = json.loads(page.split('id="timeline-data">')[1].split("</script>")[0])
    assert data["dates"] == [c.date for c in result.captures]
    ds = ogr.Open(files.events)
    assert ds.GetLayerByName("events").GetFeatureCount() == len(result.event_rows())


def test_folder_with_the_engine_skips_undated_and_distant_captures(series, tmp_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    for c in series.captures[1:4]:
        shutil.copy(c.raster, folder / c.raster.name)
        shutil.copy(c.raster.with_suffix(".IMD"), folder / c.raster.with_suffix(".IMD").name)
    shutil.copy(series.site.cloud_mask, folder / "cloud_mask.tif")  # no date
    far = gdal.Translate(str(folder / "far_2024-12-30.tif"), str(series.site.before),
                         outputBounds=None, srcWin=[0, 0, 64, 64])
    gt = list(far.GetGeoTransform())
    gt[0] += 50_000.0
    far.SetGeoTransform(gt)
    far = None
    examples = write_example_boxes(series.site, tmp_path / "examples.geojson")
    result = run_timeline(TimelineParameters(
        "Khmeimim", rasters_in_folder(str(folder)), aoi_wkt=_aoi(series), engine="exemplar",
        exemplars_path=str(examples), exemplars_raster=str(series.site.before), min_score=EXAMPLE_MIN_SCORE))
    assert len(result.captures) == 3 and not any(c.reviewed for c in result.captures)
    reasons = {s.path.split("/")[-1]: s.reason for s in result.skipped}
    assert set(reasons) == {"cloud_mask.tif", "far_2024-12-30.tif"}
    assert "no capture date" in reasons["cloud_mask.tif"] and "area of interest" in reasons["far_2024-12-30.tif"]
    assert any("skipped far_2024-12-30.tif" in line for line in result.summary_lines())
    for a, b, step in zip(result.captures, result.captures[1:], result.steps):
        for c in step.match.counts:  # each pair's events account for the change in numbers
            assert c.after - c.before == c.arrived - c.departed
        assert sum(a.counts.values()) == sum(c.before for c in step.match.counts)
        assert sum(b.counts.values()) == sum(c.after for c in step.match.counts)
    assert sum(sum(c.counts.values()) for c in result.captures) > 0


def test_no_usable_capture_is_a_clear_error(series, tmp_path):
    with pytest.raises(InputError, match="can be used"):
        run_timeline(TimelineParameters("Khmeimim", [str(series.site.change_mask)]))


def test_an_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="No captures of Khmeimim were given: the folder holds no raster files"):
        run_timeline(TimelineParameters("Khmeimim", rasters_in_folder(str(tmp_path)), engine="model",
                                        model_path=str(tmp_path / "m.onnx")))


def test_consecutive_captures_are_matched_with_their_misregistration_removed(series, tmp_path):
    """A later capture whose content sits 10 m east: without co-registration every object 'moved'."""
    import dataclasses

    shifted = tmp_path / "shifted.tif"
    ds = gdal.Translate(str(shifted), str(series.site.before),
                        metadataOptions=["TIFFTAG_DATETIME=2024:12:30 09:00:00", "ACQUISITION_DATE=2024-12-30",
                                         "ACQUISITION_DATETIME=2024-12-30T09:00:00.000000Z"])
    gt = list(ds.GetGeoTransform())
    gt[0] += 10.0  # the same pixels, 10 m further east on the map
    ds.SetGeoTransform(gt)
    ds = None
    truth = read_detections(str(series.site.truth_before))
    moved = [dataclasses.replace(d, cx=d.cx + 10.0) for d in truth]

    def source(path, _date):
        return truth if path == str(series.site.before) else moved

    paths = [str(series.site.before), str(shifted)]
    aligned = run_timeline(TimelineParameters("Khmeimim", paths, reviewed=source))
    raw = run_timeline(TimelineParameters("Khmeimim", paths, reviewed=source, coregister=False))
    assert [c.date for c in aligned.captures] == ["2024-12-09", "2024-12-30"]
    assert {e.event for e in aligned.steps[0].match.events} == {"stayed"}
    assert {e.event for e in raw.steps[0].match.events} == {"moved"}
