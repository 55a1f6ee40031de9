"""The sites file of a batch run: one site per feature (polygon) with its captures.

GeoJSON (a FeatureCollection; its `crs` member or EPSG:4326) or JSON of the same shape:

    {"type": "FeatureCollection",
     "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32636"}},
     "defaults": {"exemplars": "examples.geojson", "min_score": 0.5},       (optional)
     "features": [{"type": "Feature",
                   "geometry": {"type": "Polygon", "coordinates": [...]},
                   "properties": {"name": "Khmeimim", "captures": ["a.tif", "b.tif", "c.tif"],
                                  "workspace": "sites/khmeimim",             (optional)
                                  "engine": "exemplar", "exemplars": "...", "model": "...",
                                  "min_score": ..., "max_distance_m": ..., "change": true}}]}

Relative paths are relative to the sites file. Per-site properties override `defaults`; what
neither gives takes the defaults of core/parameters.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..core.errors import InputError
from ..core.parameters import DEFAULT_ENGINE, DetectionSettings, MatchSettings
from ..store.workspace import slugify


@dataclass
class SiteJob:
    """Everything a worker needs to analyse one site (plain values: it travels to other machines)."""

    name: str
    polygon_wkt: str
    crs_wkt: str
    captures: list[str]
    workspace: str  # folder of the site's workspace
    engine: str = DEFAULT_ENGINE
    model_path: Optional[str] = None
    exemplars_path: Optional[str] = None
    min_score: float = DetectionSettings.min_score
    max_distance_m: float = MatchSettings.max_distance_m
    change: bool = True
    options: dict = field(default_factory=dict)

    @property
    def pairs(self) -> int:
        return max(len(self.captures) - 1, 0)


def _crs_wkt(collection: dict) -> str:
    from osgeo import osr

    name = ((collection.get("crs") or {}).get("properties") or {}).get("name") or "EPSG:4326"
    srs = osr.SpatialReference()
    if srs.SetFromUserInput(name) != 0:
        raise InputError(f"The sites file names an unknown CRS: {name}")
    return srs.ExportToWkt()


def _path(base: Path, value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    p = Path(value)
    return str(p if p.is_absolute() or "://" in value or value.startswith("/vsi") else base / p)


def read_sites(path: str, out_root: Optional[str] = None) -> list[SiteJob]:
    """The sites of a sites file; workspaces default to <out_root>/<site name>."""
    from osgeo import ogr

    file = Path(path)
    try:
        collection = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the sites file {path}: {exc}") from exc
    features = collection.get("features") if isinstance(collection, dict) else None
    if not features:
        raise InputError(f"The sites file {path} holds no site (a FeatureCollection of polygons is expected).")
    crs_wkt = _crs_wkt(collection)
    defaults = collection.get("defaults") or {}
    base = file.resolve().parent
    root = Path(out_root) if out_root else base / "sites"
    jobs, names = [], set()
    for k, feature in enumerate(features, start=1):
        props = {**defaults, **(feature.get("properties") or {})}
        name = str(props.get("name") or f"site {k}")
        if slugify(name) in names:
            raise InputError(f"Two sites of {path} are named '{name}': give each site its own name.")
        names.add(slugify(name))
        try:
            geom = ogr.CreateGeometryFromJson(json.dumps(feature["geometry"])) if feature.get("geometry") else None
        except RuntimeError:  # OGR raises when exceptions are on
            geom = None
        if geom is None or geom.GetGeometryType() not in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
            raise InputError(f"Site '{name}' in {path} has no polygon.")
        captures = [_path(base, c) for c in props.get("captures") or []]
        if len(captures) < 2:
            raise InputError(f"Site '{name}' in {path} needs at least two captures (has {len(captures)}).")
        jobs.append(SiteJob(
            name=name, polygon_wkt=geom.ExportToWkt(), crs_wkt=crs_wkt, captures=captures,
            workspace=_path(base, props.get("workspace")) or str(root / slugify(name)),
            engine=str(props.get("engine", DEFAULT_ENGINE)), model_path=_path(base, props.get("model")),
            exemplars_path=_path(base, props.get("exemplars")), min_score=float(props.get("min_score", DetectionSettings.min_score)),
            max_distance_m=float(props.get("max_distance_m", MatchSettings.max_distance_m)), change=bool(props.get("change", True))))
    return jobs
