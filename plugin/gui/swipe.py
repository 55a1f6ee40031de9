"""Swipe between two dates: the before capture drawn over the right part of the map canvas.

The canvas shows the after capture as usual; this canvas item renders the before layers
(capture and its equipment) off-screen for the current view and paints them right of a
vertical line at `position` (0 = left edge, 1 = right edge), so the after capture stays
visible on the left. It re-renders when the view changes.
"""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsMapRendererParallelJob, QgsPointXY, QgsProject, QgsRectangle
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem
from qgis.PyQt.QtCore import QPointF, QRectF, Qt, QTimer
from qgis.PyQt.QtGui import QColor, QImage, QPen

RERENDER_DELAY_MS = 80


class SwipeItem(QgsMapCanvasItem):
    """Paints an off-screen render of `layer_ids` right of the swipe line."""

    def __init__(self, canvas: QgsMapCanvas, layer_ids: list[str], position: float = 0.5):
        super().__init__(canvas)
        self.canvas = canvas
        self.layer_ids = list(layer_ids)
        self.position = min(max(float(position), 0.0), 1.0)
        self.image: Optional[QImage] = None
        self.image_extent: Optional[QgsRectangle] = None  # map extent the image covers
        self._job: Optional[QgsMapRendererParallelJob] = None
        self._retired: list[QgsMapRendererParallelJob] = []  # cancelled jobs still winding down
        self.setZValue(-5)  # above the map (-10), below rubber bands and markers
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(RERENDER_DELAY_MS)
        self._timer.timeout.connect(self.render)
        canvas.extentsChanged.connect(self.schedule_render)
        self.render()

    # ------------------------------------------------------------ state
    def set_position(self, position: float) -> None:
        self.position = min(max(float(position), 0.0), 1.0)
        self.update()

    def line_x(self) -> float:
        """The swipe line in canvas (scene) pixels."""
        return self.position * self.canvas.viewport().width()

    # ------------------------------------------------------------ rendering
    def _layers(self) -> list:
        project = QgsProject.instance()
        return [layer for layer in (project.mapLayer(i) for i in self.layer_ids) if layer is not None]

    def schedule_render(self) -> None:
        self._timer.start()

    def render(self) -> None:
        """Start rendering the before layers for the current view (the last image stays until done)."""
        self._timer.stop()
        self._cancel_job()
        layers = self._layers()
        if not layers:
            self.image = None
            self.update()
            return
        settings = self.canvas.mapSettings()
        settings.setLayers(layers)
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        job = QgsMapRendererParallelJob(settings)
        job.finished.connect(self._on_rendered)
        self._job = job
        job.start()

    def wait(self) -> None:
        """Block until the current render is done (tests, screenshots)."""
        if self._job is not None:
            self._job.waitForFinished()

    def _on_rendered(self) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        self.image = job.renderedImage()
        self.image_extent = job.mapSettings().visibleExtent()
        self.setRect(self.image_extent)
        self.update()

    def _cancel_job(self, block: bool = False) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        try:
            job.finished.disconnect(self._on_rendered)
        except (TypeError, RuntimeError):
            pass
        if block:
            job.cancel()
        elif job.isActive():
            self._retired.append(job)  # keep it alive until its threads have stopped
            job.finished.connect(lambda j=job: self._retired.remove(j) if j in self._retired else None)
            job.cancelWithoutBlocking()

    def paint(self, painter, *_args) -> None:
        if self.image is None or self.image.isNull() or self.image_extent is None:
            return
        # where the image lies now, in item coordinates (the view may have moved since it was rendered)
        e = self.image_extent
        rect = QRectF(self.toCanvasCoordinates(QgsPointXY(e.xMinimum(), e.yMaximum())),
                      self.toCanvasCoordinates(QgsPointXY(e.xMaximum(), e.yMinimum()))).normalized()
        rect.translate(-self.pos())
        if rect.width() <= 0 or rect.height() <= 0:
            return
        split = self.line_x() - self.pos().x()
        left = min(max(split, rect.left()), rect.right())
        target = QRectF(left, rect.top(), rect.right() - left, rect.height())
        if target.width() > 0:
            sx = self.image.width() / rect.width()
            source = QRectF((left - rect.left()) * sx, 0.0, target.width() * sx, self.image.height())
            painter.drawImage(target, self.image, source)
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2, Qt.PenStyle.SolidLine))
        painter.drawLine(QPointF(split, rect.top()), QPointF(split, rect.bottom()))

    # ------------------------------------------------------------ teardown
    def remove(self) -> None:
        """Stop rendering, disconnect from the canvas and leave the scene."""
        self._timer.stop()
        try:
            self._timer.timeout.disconnect(self.render)
        except (TypeError, RuntimeError):
            pass
        try:
            self.canvas.extentsChanged.disconnect(self.schedule_render)
        except (TypeError, RuntimeError):
            pass
        self._cancel_job(block=True)
        for job in list(self._retired):
            job.cancel()
        self._retired = []
        self.image = None
        self.image_extent = None
        scene = self.scene()
        if scene is not None:
            scene.removeItem(self)
