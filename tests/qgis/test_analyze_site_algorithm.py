"""sitewatch:analyzesite: the whole two-date analysis as one algorithm (checked, then run)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from osgeo import ogr

from processing_helpers import run_algorithm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
from analysis_fixtures import BEFORE_BOXES, capture_pair, site_wkt, srs, write_examples  # noqa: E402

ALG = "sitewatch:analyzesite"
RESULT_KEYS = {
    "OUTPUT_FOLDER", "OUTPUT_GPKG", "OUTPUT_SCORE", "OUTPUT_REGIONS", "OUTPUT_DETECTIONS_BEFORE",
    "OUTPUT_DETECTIONS_AFTER", "OUTPUT_COUNTS", "N_REGIONS", "CHANGED_AREA_M2", "N_BEFORE", "N_AFTER",
    "ARRIVED", "DEPARTED", "STAYED", "MOVED", "SUMMARY",
}


@pytest.fixture()
def inputs(tmp_path):
    before, after = capture_pair(tmp_path / "captures")
    examples = write_examples(tmp_path / "examples.gpkg", BEFORE_BOXES[:2])
    aoi = tmp_path / "aoi.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(aoi))
    layer = ds.CreateLayer("site", srs=srs(), geom_type=ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.CreateGeometryFromWkt(site_wkt()))
    layer.CreateFeature(feature)
    ds = None
    return {"BEFORE": str(before), "AFTER": str(after), "AOI": f"{aoi}|layername=site",
            "EXEMPLARS": f"{examples}|layername=examples", "MIN_AREA": 10.0,  # the vehicles cover 32 m²
            "SENSITIVITY": 0.8}


def _features(uri: str) -> list[dict]:
    path, layer = uri.split("|layername=")
    ds = ogr.Open(path)
    return [dict(f.items(), wkt=f.GetGeometryRef().ExportToWkt() if f.GetGeometryRef() else "")
            for f in ds.GetLayerByName(layer)]


def test_analyze_site_runs_the_whole_analysis(provider, inputs, tmp_path):
    out = tmp_path / "out"
    results, _context, _alg = run_algorithm(ALG, {**inputs, "OUTPUT_FOLDER": str(out)})
    gpkg = out / "analysis.gpkg"
    regions = _features(f"{gpkg}|layername=change_regions")
    before, after = _features(f"{gpkg}|layername=detections_before"), _features(f"{gpkg}|layername=detections_after")
    counts = {row["class"]: row for row in _features(f"{gpkg}|layername=counts")}
    assert set(counts) == {"vehicle"}
    row = counts["vehicle"]
    assert results == {
        "OUTPUT_FOLDER": str(out),
        "OUTPUT_GPKG": str(gpkg),
        "OUTPUT_SCORE": str(out / "change_score.tif"),
        "OUTPUT_REGIONS": f"{gpkg}|layername=change_regions",
        "OUTPUT_DETECTIONS_BEFORE": f"{gpkg}|layername=detections_before",
        "OUTPUT_DETECTIONS_AFTER": f"{gpkg}|layername=detections_after",
        "OUTPUT_COUNTS": f"{gpkg}|layername=counts",
        "N_REGIONS": len(regions),
        "CHANGED_AREA_M2": pytest.approx(sum(r["area_m2"] for r in regions), rel=1e-6),
        "N_BEFORE": len(before),
        "N_AFTER": len(after),
        **{k: row[k.lower()] for k in ("STAYED", "MOVED", "DEPARTED", "ARRIVED")},
        "SUMMARY": (out / "summary.txt").read_text(encoding="utf-8").rstrip("\n"),
    }
    assert set(results) == RESULT_KEYS and Path(results["OUTPUT_SCORE"]).is_file() and regions
    assert (row["before"], row["after"]) == (len(before), len(after))
    assert row["stayed"] + row["moved"] + row["departed"] == row["before"]
    assert row["stayed"] + row["moved"] + row["arrived"] == row["after"]
    # the fixture's bright vehicles: three before, four after, two of them parked on both dates
    assert row["before"] >= 3 and row["after"] >= 4 and row["stayed"] >= 2 and row["arrived"] >= 2
    # dates from the captures' metadata, the site's name from the AOI layer
    assert results["SUMMARY"].splitlines()[0] == "SiteWatch: aoi 2024-01-05 -> 2024-03-07"


def test_analyze_site_checks_its_parameters(provider, inputs, tmp_path):
    from qgis.core import QgsApplication, QgsProcessingContext

    alg = QgsApplication.processingRegistry().createAlgorithmById(ALG)
    context = QgsProcessingContext()
    out = str(tmp_path / "out")
    cases = [
        ({**inputs}, "OUTPUT_FOLDER"),
        ({**inputs, "OUTPUT_FOLDER": out, "EXEMPLARS": None}, "EXEMPLARS"),
        ({**inputs, "OUTPUT_FOLDER": out, "ENGINE": 2}, "ONNX"),
        ({**inputs, "OUTPUT_FOLDER": out, "DETECT_CHANGES": False, "COUNT_EQUIPMENT": False}, "or both"),
        ({**inputs, "OUTPUT_FOLDER": out, "MAX_DISTANCE": 0.0}, "MAX_DISTANCE"),
    ]
    for parameters, expected in cases:
        ok, message = alg.checkParameterValues(parameters, context)
        assert not ok and expected.lower() in message.lower(), (parameters, message)
    # a step that does not run is not checked
    ok, message = alg.checkParameterValues({**inputs, "OUTPUT_FOLDER": out, "COUNT_EQUIPMENT": False,
                                            "EXEMPLARS": None}, context)
    assert ok, message


def test_analyze_site_into_a_site_workspace_in_batch(provider, inputs, tmp_path):
    """With a workspace: its outline is the AOI, the run joins the site's history; one algorithm
    object runs row after row as batch mode does."""
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    from sitewatch.plugin.store.workspace import SiteWorkspace

    workspace = SiteWorkspace.create(str(tmp_path / "site"), "Base", site_wkt(), srs().ExportToWkt())
    alg = QgsApplication.processingRegistry().createAlgorithmById(ALG)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    rows = [
        {**inputs, "AOI": None, "WORKSPACE": workspace.path, "COUNT_EQUIPMENT": False},
        {**inputs, "AOI": None, "WORKSPACE": workspace.path, "DETECT_CHANGES": False, "BEFORE_DATE": "2024-01-01"},
    ]
    outputs = []
    for row in rows:
        ok, message = alg.checkParameterValues(row, context)
        assert ok, message
        results, ok = alg.run(row, context, QgsProcessingFeedback())
        assert ok
        outputs.append(results)
    assert [Path(r["OUTPUT_FOLDER"]).parent for r in outputs] == [workspace.analyses_dir()] * 2
    assert outputs[0]["N_REGIONS"] > 0 and outputs[0]["OUTPUT_DETECTIONS_BEFORE"] == ""
    assert outputs[1]["OUTPUT_REGIONS"] == "" and outputs[1]["N_AFTER"] == 4
    records = workspace.analyses()  # newest first
    assert [r.title for r in records] == ["SiteWatch: Base 2024-01-01 -> 2024-03-07",
                                          "SiteWatch: Base 2024-01-05 -> 2024-03-07"]
    assert {r.gpkg_path for r in records} == {r["OUTPUT_GPKG"] for r in outputs}


def test_output_folder_of_other_files_is_never_replaced(provider, inputs, tmp_path):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    results, _context, _alg = run_algorithm(ALG, {**inputs, "OUTPUT_FOLDER": str(out), "COUNT_EQUIPMENT": False})
    assert (out / "notes.txt").read_text() == "keep me"
    assert Path(results["OUTPUT_FOLDER"]).parent == out and Path(results["OUTPUT_GPKG"]).is_file()
