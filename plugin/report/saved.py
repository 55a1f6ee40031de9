"""A finished analysis read back from its folder (analysis.gpkg, parameters.json, rasters), with
what the report needs: the parameters, the counts and events per class, the change summary.

Lets the panel write the report of any analysis in a site's history, not only of the last run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

from ..core.errors import InputError


@dataclass
class SavedChange:
    """The change summary the report shows (read back from the regions layer)."""

    changed_area_m2: float
    n_regions: int
    method: str
    shift: Optional[object] = None


def _parameters(folder: Path):
    from ..core.pipeline import AnalysisParameters, ChangeOptions, EquipmentOptions

    try:
        raw = json.loads((folder / "parameters.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{folder} holds no readable analysis parameters ({exc}).") from exc

    def build(cls, values: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    params = build(AnalysisParameters, raw)
    params.change = build(ChangeOptions, raw.get("change") or {})
    params.equipment = build(EquipmentOptions, raw.get("equipment") or {})
    return params


def _match(gpkg: str):
    from osgeo import ogr

    from ..core.equipment.catalogue import load_catalogue
    from ..core.equipment.matching import ClassCount, MatchResult
    from ..core.pipeline import LAYER_COUNTS

    ds = ogr.Open(gpkg)
    layer = ds.GetLayerByName(LAYER_COUNTS) if ds is not None else None
    if layer is None:
        return None
    counts = []
    for feature in layer:
        c = ClassCount(feature.GetField("class"))
        for name in ("before", "after", "arrived", "departed", "stayed", "moved"):
            setattr(c, name, int(feature.GetField(name) or 0))
        counts.append(c)
    catalogue = load_catalogue()
    return MatchResult(events=[], counts=counts, labels={c.class_name: catalogue.category_label(c.class_name)
                                                         for c in counts})


def _change(gpkg: str, method: str) -> Optional[SavedChange]:
    from osgeo import ogr

    from ..core.pipeline import LAYER_REGIONS

    ds = ogr.Open(gpkg)
    layer = ds.GetLayerByName(LAYER_REGIONS) if ds is not None else None
    if layer is None:
        return None
    areas = [f.GetGeometryRef().GetArea() for f in layer if f.GetGeometryRef() is not None]
    return SavedChange(float(sum(areas)), len(areas), method or "default")


def saved_result(folder: str):
    """The AnalysisResult of a finished analysis folder, for write_report (detections read back)."""
    from ..core.equipment.io import read_detections
    from ..core.pipeline import GPKG_NAME, LAYER_AFTER, LAYER_BEFORE, AnalysisResult

    root = Path(folder)
    gpkg = root / GPKG_NAME
    if not gpkg.exists():
        raise InputError(f"No analysis in {folder} (its {GPKG_NAME} is gone).")
    params = _parameters(root)
    result = AnalysisResult(params=params, output_dir=str(root), gpkg_path=str(gpkg))
    score, mask = root / "change_score.tif", root / "change_mask.tif"
    result.score_path = str(score) if score.exists() else None
    result.mask_path = str(mask) if mask.exists() else None
    result.change = _change(str(gpkg), params.change.method)
    result.match = _match(str(gpkg))
    if result.match is not None:
        result.detections_before = read_detections(str(gpkg), LAYER_BEFORE)
        result.detections_after = read_detections(str(gpkg), LAYER_AFTER)
    summary = root / "summary.txt"
    result.summary_lines = summary.read_text(encoding="utf-8").splitlines() if summary.exists() else []
    return result
