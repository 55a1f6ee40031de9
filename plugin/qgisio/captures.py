"""The project's raster layers seen as captures of a site: date, sensor, GSD, coverage.

Files and VRTs are read with the core catalogue; layers without a file (WMS/XYZ tiles)
take their date from a date the user entered (kept as a layer custom property) or from
the layer name.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
)

from ..core.captures import CaptureDate, capture_info, date_from_name, parse_date_text

DATE_PROPERTY = "sitewatch/capture_date"


@dataclass
class LayerCapture:
    """One raster layer of the project as a capture of the chosen site."""

    layer_id: str
    name: str
    path: Optional[str]  # local file (GeoTIFF, VRT, ...) or None for web layers
    date: Optional[CaptureDate]
    sensor: str
    gsd_m: Optional[float]
    coverage: float  # fraction of the site inside the layer's extent, 0..1

    @property
    def date_text(self) -> str:
        return self.date.iso_date if self.date else "no date"

    @property
    def label(self) -> str:
        """What the pickers show: date, sensor, GSD, coverage, layer name."""
        parts = [self.date_text]
        if self.sensor:
            parts.append(self.sensor)
        parts.append(f"{self.gsd_m:.2f} m" if self.gsd_m else "GSD ?")
        parts.append(f"{self.coverage:.0%} of site")
        return f"{'  ·  '.join(parts)}  —  {self.name}"

    @property
    def key(self) -> str:
        """Identifies the capture in the site workspace (file path, else layer id)."""
        return self.path or self.layer_id


def layer_file_path(layer: QgsRasterLayer) -> Optional[str]:
    """The local file behind a raster layer, or None for web/service layers."""
    if layer is None or layer.providerType() != "gdal":
        return None
    parts = QgsProviderRegistry.instance().decodeUri("gdal", layer.source())
    path = parts.get("path") or layer.source()
    if path and Path(path).exists():
        return str(path)
    return None


def user_date(layer: QgsRasterLayer) -> Optional[CaptureDate]:
    value = layer.customProperty(DATE_PROPERTY, "")
    parsed = parse_date_text(str(value)) if value else None
    return CaptureDate(parsed, "entered by user") if parsed else None


def set_user_date(layer: QgsRasterLayer, date_iso: Optional[str]) -> None:
    """Remember (or clear with None/"") the capture date the user entered for a layer."""
    if date_iso:
        if parse_date_text(date_iso) is None:
            raise ValueError(f"{date_iso!r} is not a date (use YYYY-MM-DD).")
        layer.setCustomProperty(DATE_PROPERTY, date_iso)
    else:
        layer.removeCustomProperty(DATE_PROPERTY)


def coverage_fraction(
    layer: QgsRasterLayer, site: QgsGeometry, site_crs: QgsCoordinateReferenceSystem, project: QgsProject
) -> float:
    """Share of the site's area inside the layer's extent (0 when they do not meet)."""
    if site is None or site.isEmpty():
        return 0.0
    area = site.area()
    if area <= 0:
        return 0.0
    try:
        xform = QgsCoordinateTransform(layer.crs(), site_crs, project.transformContext())
        extent = xform.transformBoundingBox(layer.extent()) if layer.crs() != site_crs else layer.extent()
    except Exception:  # noqa: BLE001 (an extent that cannot be transformed covers nothing)
        return 0.0
    inter = site.intersection(QgsGeometry.fromRect(extent))
    if inter is None or inter.isEmpty():
        return 0.0
    return max(0.0, min(1.0, inter.area() / area))


def layer_capture(
    layer: QgsRasterLayer,
    site: Optional[QgsGeometry] = None,
    site_crs: Optional[QgsCoordinateReferenceSystem] = None,
    project: Optional[QgsProject] = None,
    remembered: Optional[dict[str, str]] = None,
) -> LayerCapture:
    """Describe one raster layer as a capture; `remembered` maps keys to workspace dates."""
    project = project or QgsProject.instance()
    path = layer_file_path(layer)
    date = user_date(layer)
    sensor = ""
    gsd = None
    if path:
        info = capture_info(path)
        sensor = info.sensor
        gsd = info.gsd_m
        date = date or info.date
    key = path or layer.id()
    if date is None and remembered and remembered.get(key):
        parsed = parse_date_text(remembered[key])
        date = CaptureDate(parsed, "entered by user") if parsed else None
    if date is None:
        date = date_from_name(layer.name())
        if date is not None:
            date = CaptureDate(date.date, "layer name")
    coverage = coverage_fraction(layer, site, site_crs or layer.crs(), project) if site is not None else 1.0
    return LayerCapture(layer.id(), layer.name(), path, date, sensor, gsd, coverage)


def site_captures(
    site: Optional[QgsGeometry],
    site_crs: Optional[QgsCoordinateReferenceSystem],
    project: Optional[QgsProject] = None,
    remembered: Optional[dict[str, str]] = None,
    min_coverage: float = 0.0,
) -> list[LayerCapture]:
    """Every raster layer of the project that covers the site, sorted by date (undated last)."""
    project = project or QgsProject.instance()
    captures = []
    for layer in project.mapLayers().values():
        if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
            continue
        if layer.customProperty("sitewatch/output", False):
            continue  # change scores and other results are not captures
        cap = layer_capture(layer, site, site_crs, project, remembered)
        if site is not None and cap.coverage <= min_coverage:
            continue
        captures.append(cap)
    far_future = datetime.max.replace(tzinfo=timezone.utc)
    captures.sort(key=lambda c: (c.date.date if c.date else far_future, c.name))
    return captures
