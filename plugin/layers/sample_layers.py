"""The sample site's layers: its two captures, the example boxes and the cloud to leave out,
in one group."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsLayerTreeGroup, QgsMapLayer, QgsProject, QgsRasterLayer, QgsVectorLayer

from ..resources import style_path
from .analysis_layers import style_left_out

SAMPLE_GROUP = "SiteWatch sample site"
ROLE_PROPERTY = "sitewatch/sample"


def _find(project: QgsProject, source: str) -> Optional[QgsMapLayer]:
    wanted = str(Path(source).resolve())
    for layer in project.mapLayers().values():
        if str(Path(layer.source().split("|")[0]).resolve()) == wanted:
            return layer
    return None


def add_sample_site_layers(site, examples_path: str, project: Optional[QgsProject] = None) -> dict[str, QgsMapLayer]:
    """Add (or find, when already loaded) the before and after captures, the examples layer and,
    when the site has a cloud, its outline; returns {"before", "after", "examples"[, "clouds"]}."""
    from ..samplesite.clouds import CLOUDS_FILE

    project = project or QgsProject.instance()
    root = project.layerTreeRoot()
    group: Optional[QgsLayerTreeGroup] = root.findGroup(SAMPLE_GROUP)
    clouds = Path(site.root) / CLOUDS_FILE
    wanted = (
        *((("clouds", str(clouds), f"Cloud ({site.after_date:%Y-%m-%d}), left out"),) if clouds.exists() else ()),
        ("examples", str(examples_path), f"Example boxes ({site.before_date:%Y-%m-%d})"),
        ("after", str(site.after), f"Khmeimim {site.after_date:%Y-%m-%d} (sample, after)"),
        ("before", str(site.before), f"Khmeimim {site.before_date:%Y-%m-%d} (sample, before)"),
    )
    out: dict[str, QgsMapLayer] = {}
    for role, source, name in wanted:
        layer = _find(project, source)
        if layer is None:
            if role == "examples":
                layer = QgsVectorLayer(source, name, "ogr")
                layer.loadNamedStyle(style_path("examples.qml"))
            elif role == "clouds":
                layer = QgsVectorLayer(source, name, "ogr")
                style_left_out(layer)
            else:
                layer = QgsRasterLayer(source, name)
            if not layer.isValid():
                raise ValueError(f"The sample site file {source} could not be opened.")
            layer.setCustomProperty(ROLE_PROPERTY, role)
            if group is None:
                group = root.insertGroup(0, SAMPLE_GROUP)
            project.addMapLayer(layer, False)
            group.addLayer(layer)
        out[role] = layer
    return out
