"""Draw an oriented box with three clicks: one end of a side, its other end, then the width."""
from __future__ import annotations

from typing import Callable, Optional

from qgis.core import QgsGeometry, QgsPointXY, QgsWkbTypes
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

from ...core.annotations.boxes import box_from_three_points
from ...core.errors import InputError
from ..map_tools import PolygonMapTool


class OrientedBoxTool(PolygonMapTool):
    """Emits `boxDrawn(QgsGeometry)` (canvas CRS) after the third click; Esc cancels.

    Other keys go to `key_handler` (the review panel), so the review goes on from the map."""

    boxDrawn = pyqtSignal(object)
    cancelled = pyqtSignal()

    def __init__(self, canvas, key_handler: Optional[Callable] = None):
        super().__init__(canvas)
        self.key_handler = key_handler
        self.band.setColor(QColor(0, 160, 255, 60))
        self.band.setStrokeColor(QColor(0, 160, 255))

    def preview(self, hover: Optional[QgsPointXY] = None) -> Optional[QgsGeometry]:
        """The box (or side) the clicks so far and the hover point make."""
        pts = list(self.points) + ([hover] if hover is not None else [])
        self.band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        geom = None
        if len(pts) >= 3:
            geom = self._box(pts[:3])
        elif len(pts) == 2:
            geom = QgsGeometry.fromPolylineXY(pts)
        if geom is not None:
            self.band.setToGeometry(geom, None)
        return geom

    @staticmethod
    def _box(pts: list[QgsPointXY]) -> Optional[QgsGeometry]:
        try:
            corners = box_from_three_points(*[(p.x(), p.y()) for p in pts])
        except InputError:
            return None
        ring = [QgsPointXY(float(x), float(y)) for x, y in corners]
        return QgsGeometry.fromPolygonXY([ring + [ring[0]]])

    def add_point(self, point: QgsPointXY) -> None:
        self.points.append(QgsPointXY(point))
        if len(self.points) == 3:
            geom = self._box(self.points)
            self.reset()
            if geom is not None:
                self.boxDrawn.emit(geom)
            return
        self.preview()

    # QgsMapTool events -----------------------------------------------------
    def canvasReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.add_point(self.toMapCoordinates(event.pos()))
        elif event.button() == Qt.MouseButton.RightButton:
            self.reset()
            self.cancelled.emit()

    def canvasDoubleClickEvent(self, event) -> None:  # noqa: N802
        pass  # a box ends at its third click

    def canvasMoveEvent(self, event) -> None:  # noqa: N802
        if self.points:
            self.preview(self.toMapCoordinates(event.pos()))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.reset()
            self.cancelled.emit()
        elif self.key_handler is not None and self.key_handler(event.key(), event.modifiers()):
            event.accept()
        else:
            event.ignore()

