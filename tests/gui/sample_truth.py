"""Checks of an analysis of the sample site against the site's ground truth (gui tests)."""
from __future__ import annotations

import json
from pathlib import Path

DATES = (("before", "detections_before"), ("after", "detections_after"))


def detections_on_truth(gpkg: Path, site: Path) -> dict[str, dict[str, int]]:
    """Per date, the analysis's detections per category label; asserts that every detection lies
    on a true object of its category on that date."""
    from osgeo import ogr

    from sitewatch.plugin.core.equipment.catalogue import load_catalogue

    catalogue = load_catalogue()
    ds = ogr.Open(str(gpkg))
    out = {}
    for date, layer in DATES:
        truth = json.loads((Path(site) / f"truth_{date}.geojson").read_text())["features"]
        boxes = [(ogr.CreateGeometryFromJson(json.dumps(f["geometry"])), f["properties"]["category"]) for f in truth]
        per_label: dict[str, int] = {}
        for feature in ds.GetLayerByName(layer):
            label = catalogue.category_label(feature.GetField("class"))
            per_label[label] = per_label.get(label, 0) + 1
            centre = feature.GetGeometryRef().Centroid()
            assert any(box.Contains(centre) and cat == label for box, cat in boxes), \
                f"{date}: a {label} detection at {centre.GetX():.1f}, {centre.GetY():.1f} is on no such object"
        out[date] = per_label
    return out


def true_objects(site: Path, categories) -> dict[str, int]:
    """Per date, how many true objects of `categories` the site holds."""
    out = {}
    for date, _ in DATES:
        truth = json.loads((Path(site) / f"truth_{date}.geojson").read_text())["features"]
        out[date] = sum(f["properties"]["category"] in categories for f in truth)
    return out
