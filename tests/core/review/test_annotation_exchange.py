"""Reviewed objects exported in every format and imported back: same class, box within a pixel."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal
from review_helpers import registered

from sitewatch.plugin.core.annotations.boxes import box_from_three_points, corners_to_wkt, wkt_to_corners
from sitewatch.plugin.core.annotations.formats import FORMAT_NAMES, ORIENTED
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.store.review import ReviewStore
from sitewatch.plugin.store.review_exchange import export_reviewed, import_annotations
from sitewatch.plugin.store.review_session import ReviewSession
from sitewatch.plugin.store.review_state import derive


def _reviewed_sample(site, analysis):
    store, analysis_id, gpkg = registered(analysis, site)
    session = ReviewSession(store, analysis_id, gpkg)
    detections = session.state.detections()
    for s in detections[:10]:
        session.accept(s.object_id)
    session.reject(detections[10].object_id)
    session.relabel(detections[11].object_id, "truck")
    c = wkt_to_corners(detections[12].wkt)
    session.edit_geometry(detections[12].object_id, corners_to_wkt(c + np.array([0.8, -0.4])))
    centre = c.mean(axis=0) + np.array([60.0, 0.0])
    box = box_from_three_points(centre, centre + [7.0, 3.0], centre + [6.0, 5.5])  # oriented, 7.6 m x 2.6 m
    session.add("after", "car", corners_to_wkt(box))
    return store, session


def _objects(store: ReviewStore) -> list[tuple[str, np.ndarray]]:
    out = []
    for entry in store.analyses():
        for s in derive(store, entry.analysis_id).objects:
            if s.obj.kind == "detection" and s.status == "accepted":
                out.append((s.class_name, wkt_to_corners(s.wkt)))
    return out


def _envelope(c: np.ndarray) -> np.ndarray:
    x0, y0 = c.min(axis=0)
    x1, y1 = c.max(axis=0)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def _same_box(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """Every corner of a has a corner of b within tolerance (the corners' order is free)."""
    d = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    return bool((d.min(axis=1) <= tolerance).all() and (d.min(axis=0) <= tolerance).all())


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_every_format_round_trips(analysed_site, analysis_copy, tmp_path, fmt):
    site, _ = analysed_site
    store, _session = _reviewed_sample(site, analysis_copy)
    exported = _objects(store)
    assert len(exported) == 13 and {c for c, _ in exported} >= {"truck", "car"}
    out = tmp_path / f"export {fmt}"
    result = export_reviewed(store, str(out), fmt)
    assert result.objects == 13 and result.images >= 1
    chips = sorted((out / "images").glob("*.png"))
    assert len(chips) == result.images
    chip = gdal.Open(str(chips[0]))
    assert chip.RasterCount == 3 and chip.GetProjection() and chip.GetGeoTransform()[1] > 0  # georeferenced
    other = ReviewStore(str(tmp_path / "other" / "workspace.gpkg"))
    source = {"COCO": out / "annotations.json", "GeoJSON": out / "annotations.geojson"}.get(fmt, out)
    back = import_annotations(other, str(source), fmt)
    assert back.objects == 13
    imported = _objects(other)
    pixel = abs(gdal.Open(str(site.after)).GetGeoTransform()[1])
    assert sorted(c for c, _ in imported) == sorted(c for c, _ in exported)
    for cls, corners in exported:
        want = corners if fmt in ORIENTED else _envelope(corners)
        assert any(c == cls and _same_box(want, got, pixel) for c, got in imported), (fmt, cls, corners)
    history = other.decisions()
    assert {d.action for d in history} == {"add"} and all("imported from" in d.note for d in history)


def test_coco_holds_the_oriented_box_and_yolo_its_envelope(analysed_site, analysis_copy, tmp_path):
    site, _ = analysed_site
    store, _session = _reviewed_sample(site, analysis_copy)
    export_reviewed(store, str(tmp_path / "coco"), "COCO")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert {c["name"] for c in doc["categories"]} >= {"car", "truck"}
    assert all(len(a["segmentation"][0]) == 8 for a in doc["annotations"])
    export_reviewed(store, str(tmp_path / "yolo"), "YOLO oriented")
    lines = [line.split() for f in (tmp_path / "yolo" / "labels").glob("*.txt") for line in f.read_text().splitlines()]
    assert lines and all(len(parts) == 9 for parts in lines)
    assert "names:" in (tmp_path / "yolo" / "data.yaml").read_text()


def test_nothing_reviewed_or_nothing_to_read_says_so(analysed_site, analysis_copy, tmp_path):
    site, _ = analysed_site
    store, _, _ = registered(analysis_copy, site)
    with pytest.raises(InputError, match="no reviewed object"):
        export_reviewed(store, str(tmp_path / "out"), "COCO")
    with pytest.raises(InputError, match="Unknown annotation format"):
        export_reviewed(store, str(tmp_path / "out"), "Pascal VOC")
    with pytest.raises(InputError, match="not found"):
        import_annotations(store, str(tmp_path / "missing.json"), "COCO")
