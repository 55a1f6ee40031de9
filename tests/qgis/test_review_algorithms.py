"""sitewatch:exportannotations and sitewatch:importannotations: parameters, a round trip, bad input."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from processing_helpers import run_algorithm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "review"))
from review_helpers import registered  # noqa: E402


@pytest.fixture()
def reviewed_workspace(review_sample_root, tmp_path):
    """A site workspace whose sample analysis has 8 accepted objects, one relabelled and one rejected."""
    from review_sample import ANALYSIS_ID

    from sitewatch.plugin.store.review_session import ReviewSession

    shutil.copytree(review_sample_root, tmp_path / "sample")
    site = tmp_path / "sample" / "site"
    analysis = tmp_path / "sample" / "analyses" / ANALYSIS_ID
    store, analysis_id, gpkg = registered(analysis, type("S", (), {"before": site / "before.tif",
                                                                   "after": site / "after.tif"})())
    session = ReviewSession(store, analysis_id, gpkg)
    detections = session.state.detections()
    for s in detections[:8]:
        session.accept(s.object_id)
    session.relabel(detections[8].object_id, "truck")
    session.reject(detections[9].object_id)
    return store.path


def test_formats_are_offered_in_the_documented_order(provider):
    from qgis.core import QgsApplication

    for alg_id in ("sitewatch:exportannotations", "sitewatch:importannotations"):
        alg = QgsApplication.processingRegistry().createAlgorithmById(alg_id)
        assert alg.parameterDefinition("FORMAT").options() == ["COCO", "YOLO", "YOLO oriented", "DOTA", "GeoJSON"]
        assert all(p.help() for p in alg.parameterDefinitions())
    export = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:exportannotations")
    assert [p.name() for p in export.parameterDefinitions()] == ["WORKSPACE", "FORMAT", "OUTPUT_FOLDER"]
    imp = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:importannotations")
    assert [p.name() for p in imp.parameterDefinitions()] == ["INPUT", "FORMAT", "IMAGES", "WORKSPACE"]


@pytest.mark.parametrize("fmt, source", [(0, "annotations.json"), (2, "")])  # COCO, YOLO oriented
def test_export_then_import_through_the_toolbox(provider, reviewed_workspace, tmp_path, fmt, source):
    from sitewatch.plugin.store.review import ReviewStore
    from sitewatch.plugin.store.review_training import reviewed_examples

    out = tmp_path / "export"
    results, _context, _alg = run_algorithm("sitewatch:exportannotations", {
        "WORKSPACE": reviewed_workspace, "FORMAT": fmt, "OUTPUT_FOLDER": str(out)})
    assert results == {"OUTPUT_FOLDER": str(out), "OBJECTS": 9, "IMAGES": results["IMAGES"]} and results["IMAGES"] >= 1
    target = tmp_path / "elsewhere" / "workspace.gpkg"
    results, _context, _alg = run_algorithm("sitewatch:importannotations", {
        "INPUT": str(out / source) if source else str(out), "FORMAT": fmt, "IMAGES": None, "WORKSPACE": str(target)})
    assert results["OBJECTS"] == 9 and results["IMPORT_ID"].startswith("import_")
    imported = reviewed_examples(ReviewStore(str(target)))
    assert sum(len(dets) for _r, dets in imported) == 9
    assert "truck" in {d.class_name for _r, dets in imported for d in dets}


def test_a_damaged_workspace_is_a_clear_error(provider, tmp_path):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

    bad = tmp_path / "workspace.gpkg"
    bad.write_bytes(b"not a geopackage" * 100)
    alg = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:exportannotations")
    with pytest.raises(QgsProcessingException, match="damaged"):
        alg.processAlgorithm({"WORKSPACE": str(bad), "FORMAT": 0, "OUTPUT_FOLDER": str(tmp_path / "out")},
                             QgsProcessingContext(), QgsProcessingFeedback())
