"""Render an analysis to PNG with QGIS's map renderer, styled as the dock shows it."""
from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_APP = None


def qgis_application():
    """A headless QgsApplication (one per process)."""
    global _APP
    from qgis.core import QgsApplication

    if QgsApplication.instance() is None:
        QgsApplication.setPrefixPath("/usr", True)
        _APP = QgsApplication([], False)
        _APP.initQgis()
    return QgsApplication.instance()


def render_result_png(result, png_path: Path, width_px: int = 1600) -> Path:
    """Both dates' equipment over the after capture, change score and regions, with a summary panel."""
    qgis_application()
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsProject, QgsRasterLayer, QgsRectangle
    from qgis.PyQt.QtCore import QRectF, QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs, add_analysis_layers

    project = QgsProject()
    group = add_analysis_layers(AnalysisOutputs.from_result(result), project=project)
    nodes = group.findLayers()
    # departed objects only exist on the before layer: show both detection layers
    layers = [n.layer() for n in nodes if n.isVisible() or n.layer().name().startswith("Equipment")]
    settings = QgsMapSettings()
    settings.setLayers(layers)
    captures = [layer for layer in layers if isinstance(layer, QgsRasterLayer) and layer.name().startswith("After")]
    extent = QgsRectangle(captures[0].extent() if captures else layers[0].extent())
    settings.setDestinationCrs(layers[-1].crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(width_px, width_px))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    map_image = job.renderedImage()

    panel_w = 600
    image = QImage(width_px + panel_w, width_px, QImage.Format.Format_ARGB32)
    image.fill(QColor("#1e2a36"))
    painter = QPainter(image)
    painter.drawImage(0, 0, map_image)
    painter.setPen(QColor("white"))
    font = QFont("DejaVu Sans Mono", 13)
    painter.setFont(font)
    columns = int((panel_w - 32) / QFontMetricsF(font).horizontalAdvance("M"))
    text = "\n".join(panel_lines(result.summary_lines, columns))
    painter.drawText(QRectF(width_px + 16, 16, panel_w - 32, width_px - 32),
                     int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop), text)
    painter.end()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(png_path))
    return png_path


def panel_lines(lines: list[str], columns: int) -> list[str]:
    """Summary lines wrapped to `columns` characters after a comma ("10 arrived, 8 departed" keeps
    "8 departed" whole; a phrase longer than the panel breaks between words), a wrapped line's rest
    indented under its start (a category's counts read as one entry)."""
    wrapped = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()))
        rest = indent + "    "
        phrases = re.split(r", (?![-+])", line.strip())  # not inside a signed pair "-4.48, +3.53"
        rows = [indent + phrases[0]]
        for phrase in phrases[1:]:
            if len(rows[-1]) + 2 + len(phrase) <= columns:
                rows[-1] += ", " + phrase
            else:
                rows[-1] += ","
                rows.append(rest + phrase)
        for row in rows:
            start = " " * (len(row) - len(row.lstrip()))
            wrapped += textwrap.wrap(row.strip(), columns, initial_indent=start, subsequent_indent=rest,
                                     break_on_hyphens=False) or [""]
    return wrapped
