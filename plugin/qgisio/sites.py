"""Named sites (AOIs) of a QGIS project, remembered in the project file.

Each site keeps its polygon, CRS and the path of its workspace GeoPackage; the list is
written to the project with writeEntry so it comes back when the project is reopened.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsProject,
    QgsVectorLayer,
)

from ..store.workspace import SiteWorkspace, slugify

SCOPE = "SiteWatch"
KEY_SITES = "sites"
KEY_CURRENT = "current_site"


@dataclass
class Site:
    name: str
    polygon_wkt: str
    crs_wkt: str
    workspace_path: str

    def geometry(self) -> QgsGeometry:
        return QgsGeometry.fromWkt(self.polygon_wkt)

    def crs(self) -> QgsCoordinateReferenceSystem:
        return QgsCoordinateReferenceSystem.fromWkt(self.crs_wkt)

    def workspace(self) -> SiteWorkspace:
        return SiteWorkspace(self.workspace_path)

    def area_m2(self) -> float:
        from qgis.core import QgsDistanceArea

        da = QgsDistanceArea()
        da.setSourceCrs(self.crs(), QgsProject.instance().transformContext())
        da.setEllipsoid(self.crs().ellipsoidAcronym() or "EPSG:7030")
        return float(da.measureArea(self.geometry()))


def workspaces_root(project: Optional[QgsProject] = None) -> Path:
    """Beside the project file when saved, else in the QGIS profile folder."""
    project = project or QgsProject.instance()
    home = project.homePath()
    if project.fileName() and home:
        return Path(home) / "sitewatch"
    return Path(QgsApplication.qgisSettingsDirPath()) / "sitewatch" / "unsaved-project"


def load_sites(project: Optional[QgsProject] = None) -> list[Site]:
    project = project or QgsProject.instance()
    text, ok = project.readEntry(SCOPE, KEY_SITES, "")
    if not ok or not text:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        return []
    sites = []
    for item in items:
        try:
            sites.append(Site(**{k: item[k] for k in ("name", "polygon_wkt", "crs_wkt", "workspace_path")}))
        except (KeyError, TypeError):
            continue
    return sites


def save_sites(sites: list[Site], project: Optional[QgsProject] = None) -> None:
    project = project or QgsProject.instance()
    project.writeEntry(SCOPE, KEY_SITES, json.dumps([asdict(s) for s in sites]))


def current_site_name(project: Optional[QgsProject] = None) -> str:
    project = project or QgsProject.instance()
    text, _ok = project.readEntry(SCOPE, KEY_CURRENT, "")
    return text


def set_current_site_name(name: str, project: Optional[QgsProject] = None) -> None:
    (project or QgsProject.instance()).writeEntry(SCOPE, KEY_CURRENT, name)


def unique_name(name: str, existing: list[Site]) -> str:
    names = {s.name for s in existing}
    if name not in names:
        return name
    i = 2
    while f"{name} ({i})" in names:
        i += 1
    return f"{name} ({i})"


def create_site(
    name: str, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem, project: Optional[QgsProject] = None
) -> Site:
    """Make a site with its workspace GeoPackage and add it to the project's list."""
    project = project or QgsProject.instance()
    if geometry is None or geometry.isEmpty() or geometry.area() <= 0:
        raise ValueError("The site needs a polygon with an area.")
    sites = load_sites(project)
    name = unique_name(name.strip() or "Site", sites)
    folder = workspaces_root(project) / slugify(name)
    ws = SiteWorkspace.create(str(folder), name, geometry.asWkt(), crs.toWkt())
    site = Site(name, geometry.asWkt(), crs.toWkt(), ws.path)
    sites.append(site)
    save_sites(sites, project)
    return site


def remove_site(name: str, project: Optional[QgsProject] = None) -> None:
    """Forget the site in the project (its workspace files stay on disk)."""
    project = project or QgsProject.instance()
    save_sites([s for s in load_sites(project) if s.name != name], project)


def selected_polygon(layer: QgsVectorLayer) -> tuple[QgsGeometry, str]:
    """The union of a layer's selected polygons and a name for the site (from a name field)."""
    if layer is None or not isinstance(layer, QgsVectorLayer):
        raise ValueError("Select a polygon layer in the Layers panel first.")
    from qgis.core import QgsWkbTypes

    if layer.geometryType() != QgsWkbTypes.GeometryType.PolygonGeometry:
        raise ValueError(f"The layer {layer.name()} holds no polygons.")
    feats: list[QgsFeature] = list(layer.getSelectedFeatures())
    if not feats:
        raise ValueError(f"Select one polygon of {layer.name()} on the map first.")
    geom = QgsGeometry.unaryUnion([f.geometry() for f in feats]) if len(feats) > 1 else QgsGeometry(feats[0].geometry())
    name = ""
    for field_name in ("name", "NAME", "Name", "site", "label"):
        idx = layer.fields().indexOf(field_name)
        if idx >= 0 and feats[0][idx]:
            name = str(feats[0][idx])
            break
    return geom, name or f"{layer.name()} {feats[0].id()}"


def to_crs(geometry: QgsGeometry, src: QgsCoordinateReferenceSystem, dst: QgsCoordinateReferenceSystem) -> QgsGeometry:
    g = QgsGeometry(geometry)
    if src != dst:
        g.transform(QgsCoordinateTransform(src, dst, QgsProject.instance().transformContext()))
    return g
