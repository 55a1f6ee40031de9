"""What the panel puts on the map canvas (not layers: nothing to save or remove): the current
site's outline, the tool that draws a new site, the swipe between the two dates."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsRubberBand
from qgis.PyQt.QtCore import QObject, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

from ..layers.analysis_layers import ROLE_BEFORE_CAPTURE, ROLE_DETECTIONS_BEFORE, group_layers, set_capture_visible
from ..qgisio import sites as site_store
from .map_tools import PolygonMapTool
from .swipe import SwipeItem


class SiteOutline:
    """A dashed outline of the current site on the map."""

    def __init__(self, canvas: QgsMapCanvas):
        self.canvas = canvas
        self.band: Optional[QgsRubberBand] = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PolygonGeometry)
        self.band.setFillColor(QColor(0, 0, 0, 0))
        self.band.setStrokeColor(QColor(255, 200, 0, 220))
        self.band.setLineStyle(Qt.PenStyle.DashLine)
        self.band.setWidth(2)

    def show(self, site: Optional[site_store.Site]) -> None:
        if self.band is None:
            return
        self.band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        if site is not None:
            self.band.setToGeometry(site.geometry(), site.crs())

    def remove(self) -> None:
        if self.band is not None:
            self.band.reset()
            self.canvas.scene().removeItem(self.band)
            self.band = None


def zoom_to_site(canvas: QgsMapCanvas, site: site_store.Site) -> None:
    """Show the whole site with a small margin."""
    geometry = site_store.to_crs(site.geometry(), site.crs(), canvas.mapSettings().destinationCrs())
    extent = geometry.boundingBox()
    extent.grow(max(extent.width(), extent.height()) * 0.05)
    canvas.setExtent(extent)
    canvas.refresh()


class SiteDrawing(QObject):
    """The map tool that draws a site; the canvas's previous tool comes back afterwards.

    `drawn(geometry)` when a polygon is finished; `active(bool)` when drawing starts or stops
    (another tool chosen counts as stopping)."""

    drawn = pyqtSignal(object)
    active = pyqtSignal(bool)

    def __init__(self, canvas: QgsMapCanvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.tool: Optional[PolygonMapTool] = None
        self._previous = None
        canvas.mapToolSet.connect(self._on_map_tool_set)

    def start(self) -> None:
        if self.tool is None:
            self.tool = PolygonMapTool(self.canvas)
            self.tool.polygonDrawn.connect(self._on_drawn)
            self.tool.cancelled.connect(self.stop)
        if self.canvas.mapTool() is not self.tool:
            self._previous = self.canvas.mapTool()
            self.canvas.setMapTool(self.tool)
        self.active.emit(True)

    def stop(self) -> None:
        if self.tool is not None and self.canvas.mapTool() is self.tool:
            if self._previous is not None:
                self.canvas.setMapTool(self._previous)
            else:
                self.canvas.unsetMapTool(self.tool)
        self._previous = None
        self.active.emit(False)

    def _on_drawn(self, geometry) -> None:
        self.stop()
        self.drawn.emit(geometry)

    def _on_map_tool_set(self, new_tool, _old_tool=None) -> None:
        if self.tool is None or new_tool is not self.tool:
            self.active.emit(False)

    def shutdown(self) -> None:
        try:
            self.canvas.mapToolSet.disconnect(self._on_map_tool_set)
        except (TypeError, RuntimeError):
            pass
        self.stop()
        if self.tool is not None:
            self.tool.clean()
            self.tool = None


class DateSwipe:
    """After left of a line across the map, Before right of it (the analysis group's layers)."""

    def __init__(self, canvas: QgsMapCanvas):
        self.canvas = canvas
        self.item: Optional[SwipeItem] = None

    def move(self, group, position: float) -> bool:
        """Put the line at `position` (0..1 across the map); False when it cannot swipe
        (no group or no before capture, or position 1: the caller ends the swipe)."""
        layers = group_layers(group) if group is not None else {}
        if position >= 1.0 or ROLE_BEFORE_CAPTURE not in layers:
            return False
        if self.item is None:
            set_capture_visible(group, "after")
            ids = [layers[role].id() for role in (ROLE_DETECTIONS_BEFORE, ROLE_BEFORE_CAPTURE) if role in layers]
            self.item = SwipeItem(self.canvas, ids, position)
        else:
            self.item.set_position(position)
        return True

    def shows_any(self, layers) -> bool:
        """Whether the swipe draws one of these layers (ids or layers)."""
        ids = {item if isinstance(item, str) else item.id() for item in layers}
        return self.item is not None and bool(ids & set(self.item.layer_ids))

    def end(self) -> None:
        if self.item is not None:
            self.item.remove()
            self.item = None
