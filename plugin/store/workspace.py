"""A site's workspace: one GeoPackage holding its polygon, user-entered capture dates and
the history of its analyses. Every write is one transaction (all or nothing).

QGIS-free (OGR only) so batch scripts can read a site's history too.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from osgeo import ogr, osr

from ..core.gdal_scope import gdal_exceptions
from ..core.parameters import ChangeSettings
from .models import learned_model_path

WORKSPACE_NAME = "workspace.gpkg"
LAYER_SITE = "site"
LAYER_DATES = "capture_dates"
LAYER_ANALYSES = "analyses"


class WorkspaceError(Exception):
    """The workspace file cannot be created, read or written."""


@dataclass
class AnalysisRecord:
    """One analysis of the site, enough to reopen its layers later."""

    id: str
    time: str  # ISO 8601, UTC
    title: str
    before_path: str
    after_path: str
    before_date: str
    after_date: str
    gpkg_path: str
    score_path: str = ""
    summary: list[str] = field(default_factory=list)
    threshold: float = ChangeSettings.sensitivity  # change-score display threshold of the run

    @property
    def label(self) -> str:
        when = self.time[:16].replace("T", " ")
        return f"{self.before_date or '?'} -> {self.after_date or '?'}  (run {when})"


def slugify(name: str) -> str:
    """A file-system safe folder name for a site name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
    return slug or "site"


def new_analysis_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "_" + uuid.uuid4().hex[:6]


class SiteWorkspace:
    """Read and write one site's workspace GeoPackage (created on first use)."""

    def __init__(self, path: str):
        self.path = str(path)

    @property
    def folder(self) -> Path:
        return Path(self.path).parent

    def analyses_dir(self) -> Path:
        return self.folder / "analyses"

    def learned_model_path(self) -> Path:
        """Where this site's trained detector lives (it may not exist yet)."""
        return learned_model_path(self.path)

    # ------------------------------------------------------------ creation
    @classmethod
    @gdal_exceptions()
    def create(cls, folder: str, name: str, polygon_wkt: str, crs_wkt: str) -> "SiteWorkspace":
        """Create (or overwrite the polygon of) the workspace in `folder`."""
        Path(folder).mkdir(parents=True, exist_ok=True)
        ws = cls(str(Path(folder) / WORKSPACE_NAME))
        ws.set_site(name, polygon_wkt, crs_wkt)
        return ws

    def _open(self, update: bool = True) -> ogr.DataSource:
        path = Path(self.path)
        try:
            if path.exists():
                ds = ogr.Open(self.path, 1 if update else 0)
            elif update:
                path.parent.mkdir(parents=True, exist_ok=True)
                ds = ogr.GetDriverByName("GPKG").CreateDataSource(self.path)
            else:
                return None
        except RuntimeError as exc:
            raise WorkspaceError(f"The site workspace {self.path} cannot be opened: {exc}") from exc
        if ds is None:
            raise WorkspaceError(f"The site workspace {self.path} cannot be opened.")
        return ds

    @staticmethod
    def _table(ds: ogr.DataSource, name: str, fields: list[tuple[str, int]], geom_type=ogr.wkbNone, srs=None):
        layer = ds.GetLayerByName(name)
        if layer is not None:
            return layer
        layer = ds.CreateLayer(name, srs=srs, geom_type=geom_type)
        for fname, ftype in fields:
            layer.CreateField(ogr.FieldDefn(fname, ftype))
        return layer

    def _transaction(self, ds, work) -> None:
        ds.StartTransaction()
        try:
            work()
        except Exception:
            ds.RollbackTransaction()
            raise
        ds.CommitTransaction()

    # ------------------------------------------------------------ site polygon
    @gdal_exceptions()
    def set_site(self, name: str, polygon_wkt: str, crs_wkt: str) -> None:
        geom = ogr.CreateGeometryFromWkt(polygon_wkt)
        if geom is None or geom.IsEmpty():
            raise WorkspaceError("The site polygon is empty.")
        srs = osr.SpatialReference()
        if crs_wkt:
            srs.ImportFromWkt(crs_wkt)
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        ds = self._open()
        if ds.GetLayerByName(LAYER_SITE) is not None:
            ds.DeleteLayer(LAYER_SITE)
        layer = self._table(
            ds, LAYER_SITE, [("name", ogr.OFTString), ("crs_wkt", ogr.OFTString)], ogr.wkbMultiPolygon, srs if crs_wkt else None
        )

        def work():
            feat = ogr.Feature(layer.GetLayerDefn())
            feat.SetField("name", name)
            feat.SetField("crs_wkt", crs_wkt)
            feat.SetGeometry(ogr.ForceToMultiPolygon(geom))
            layer.CreateFeature(feat)

        self._transaction(ds, work)
        ds = None

    @gdal_exceptions()
    def site(self) -> Optional[tuple[str, str, str]]:
        """(name, polygon WKT, CRS WKT) or None."""
        ds = self._open(update=False)
        if ds is None or ds.GetLayerByName(LAYER_SITE) is None:
            return None
        feat = ds.GetLayerByName(LAYER_SITE).GetNextFeature()
        if feat is None:
            return None
        return feat.GetField("name"), feat.GetGeometryRef().ExportToWkt(), feat.GetField("crs_wkt") or ""

    # ------------------------------------------------------------ capture dates
    @gdal_exceptions()
    def set_capture_date(self, key: str, layer_name: str, date_iso: str) -> None:
        """Remember a date the user entered for a capture (key: file path or layer source)."""
        ds = self._open()
        layer = self._table(
            ds, LAYER_DATES, [("key", ogr.OFTString), ("layer_name", ogr.OFTString), ("date", ogr.OFTString), ("entered", ogr.OFTString)]
        )

        def work():
            layer.SetAttributeFilter(f"key = '{_sql(key)}'")
            fids = [f.GetFID() for f in layer]
            layer.SetAttributeFilter(None)
            for fid in fids:
                layer.DeleteFeature(fid)
            if date_iso:
                feat = ogr.Feature(layer.GetLayerDefn())
                feat.SetField("key", key)
                feat.SetField("layer_name", layer_name)
                feat.SetField("date", date_iso)
                feat.SetField("entered", datetime.now(timezone.utc).isoformat(timespec="seconds"))
                layer.CreateFeature(feat)

        self._transaction(ds, work)
        ds = None

    @gdal_exceptions()
    def capture_dates(self) -> dict[str, str]:
        """key -> ISO date entered by the user."""
        ds = self._open(update=False)
        if ds is None or ds.GetLayerByName(LAYER_DATES) is None:
            return {}
        return {f.GetField("key"): f.GetField("date") for f in ds.GetLayerByName(LAYER_DATES)}

    # ------------------------------------------------------------ analyses
    @gdal_exceptions()
    def add_analysis(self, record: AnalysisRecord) -> None:
        ds = self._open()
        fields = [
            ("analysis_id", ogr.OFTString),
            ("time", ogr.OFTString),
            ("title", ogr.OFTString),
            ("before_path", ogr.OFTString),
            ("after_path", ogr.OFTString),
            ("before_date", ogr.OFTString),
            ("after_date", ogr.OFTString),
            ("gpkg_path", ogr.OFTString),
            ("score_path", ogr.OFTString),
            ("summary", ogr.OFTString),
            ("threshold", ogr.OFTReal),
        ]
        layer = self._table(ds, LAYER_ANALYSES, fields)

        def work():
            feat = ogr.Feature(layer.GetLayerDefn())
            feat.SetField("analysis_id", record.id)
            feat.SetField("time", record.time)
            feat.SetField("title", record.title)
            feat.SetField("before_path", record.before_path)
            feat.SetField("after_path", record.after_path)
            feat.SetField("before_date", record.before_date)
            feat.SetField("after_date", record.after_date)
            feat.SetField("gpkg_path", record.gpkg_path)
            feat.SetField("score_path", record.score_path or "")
            feat.SetField("summary", json.dumps(list(record.summary)))
            feat.SetField("threshold", float(record.threshold))
            layer.CreateFeature(feat)

        self._transaction(ds, work)
        ds = None

    @gdal_exceptions()
    def analyses(self) -> list[AnalysisRecord]:
        """The site's analyses, newest first."""
        ds = self._open(update=False)
        if ds is None or ds.GetLayerByName(LAYER_ANALYSES) is None:
            return []
        records = []
        for f in ds.GetLayerByName(LAYER_ANALYSES):
            try:
                summary = json.loads(f.GetField("summary") or "[]")
            except ValueError:
                summary = []
            records.append(
                AnalysisRecord(
                    id=f.GetField("analysis_id"),
                    time=f.GetField("time"),
                    title=f.GetField("title") or "",
                    before_path=f.GetField("before_path") or "",
                    after_path=f.GetField("after_path") or "",
                    before_date=f.GetField("before_date") or "",
                    after_date=f.GetField("after_date") or "",
                    gpkg_path=f.GetField("gpkg_path") or "",
                    score_path=f.GetField("score_path") or "",
                    summary=summary,
                    threshold=float(f.GetField("threshold")) if f.GetField("threshold") is not None else ChangeSettings.sensitivity,
                )
            )
        records.sort(key=lambda r: r.time, reverse=True)
        return records

    @gdal_exceptions()
    def remove_analysis(self, analysis_id: str) -> None:
        ds = self._open()
        layer = ds.GetLayerByName(LAYER_ANALYSES)
        if layer is None:
            return

        def work():
            layer.SetAttributeFilter(f"analysis_id = '{_sql(analysis_id)}'")
            fids = [f.GetFID() for f in layer]
            layer.SetAttributeFilter(None)
            for fid in fids:
                layer.DeleteFeature(fid)

        self._transaction(ds, work)
        ds = None


def _sql(value: str) -> str:
    return str(value).replace("'", "''")
