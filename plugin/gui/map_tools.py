"""A small map tool to draw a site polygon: click vertices, right-click or double-click to finish."""
from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY, QgsWkbTypes
from qgis.gui import QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor


class PolygonMapTool(QgsMapTool):
    """Emits `polygonDrawn(QgsGeometry)` in the canvas CRS; Esc or Backspace edits/cancels."""

    polygonDrawn = pyqtSignal(object)
    cancelled = pyqtSignal()

    def __init__(self, canvas):
        super().__init__(canvas)
        self.points: list[QgsPointXY] = []
        self.band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PolygonGeometry)
        self.band.setColor(QColor(255, 200, 0, 70))
        self.band.setStrokeColor(QColor(255, 200, 0))
        self.band.setWidth(2)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def _redraw(self, hover: QgsPointXY | None = None) -> None:
        pts = list(self.points) + ([hover] if hover is not None else [])
        self.band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        for p in pts:
            self.band.addPoint(p, False)
        self.band.show()
        self.band.updatePosition()
        self.band.update()

    def add_point(self, point: QgsPointXY) -> None:
        self.points.append(QgsPointXY(point))
        self._redraw()

    def finish(self) -> bool:
        """Close the polygon; emits polygonDrawn when it has at least 3 distinct vertices."""
        pts = []
        for p in self.points:
            if not pts or p != pts[-1]:
                pts.append(p)
        self.reset()
        if len(pts) < 3:
            return False
        geom = QgsGeometry.fromPolygonXY([pts + [pts[0]]])
        if geom.isEmpty() or geom.area() <= 0:
            return False
        self.polygonDrawn.emit(geom.makeValid() if not geom.isGeosValid() else geom)
        return True

    def reset(self) -> None:
        self.points = []
        self.band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)

    # QgsMapTool events -----------------------------------------------------
    def canvasReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.RightButton:
            self.finish()
        elif event.button() == Qt.MouseButton.LeftButton:
            self.add_point(self.toMapCoordinates(event.pos()))

    def canvasDoubleClickEvent(self, event) -> None:  # noqa: N802
        self.finish()

    def canvasMoveEvent(self, event) -> None:  # noqa: N802
        if self.points:
            self._redraw(self.toMapCoordinates(event.pos()))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.reset()
            self.cancelled.emit()
        elif event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete) and self.points:
            self.points.pop()
            self._redraw()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()

    def deactivate(self) -> None:
        self.reset()
        super().deactivate()

    def clean(self) -> None:
        self.reset()
        self.canvas().scene().removeItem(self.band)
