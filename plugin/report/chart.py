"""The timeline chart (core.timeline_chart's SVG) drawn into a PNG with Qt's SVG renderer."""
from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtCore import QByteArray, Qt
from qgis.PyQt.QtGui import QImage, QPainter
from qgis.PyQt.QtSvg import QSvgRenderer

from ..core.errors import InputError


def svg_to_png(svg: str, png_path: str, scale: float = 2.0) -> str:
    """Render SVG text to a PNG file `scale` times its nominal size (2: sharp in print)."""
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        raise InputError("The timeline chart could not be drawn (invalid SVG).")
    size = renderer.defaultSize() * scale
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(png_path), "PNG"):
        raise InputError(f"Cannot write the chart to {png_path}.")
    return str(png_path)
