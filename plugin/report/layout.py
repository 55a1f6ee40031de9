"""The report's print layout: before / after maps side by side with the change overlay and the
equipment annotated with callouts, then the counts, the timeline chart and the method.

Built in its own QgsProject (nothing is added to the user's project); exported with
QgsLayoutExporter to PDF and PNG (headless works with QT_QPA_PLATFORM=offscreen).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from qgis.core import (
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemManualTable,
    QgsLayoutItemMap,
    QgsLayoutItemPage,
    QgsLayoutItemPicture,
    QgsLayoutItemScaleBar,
    QgsLayoutFrame,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsLayoutTableColumn,
    QgsPalLayerSettings,
    QgsPrintLayout,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsSimpleLineCallout,
    QgsTableCell,
    QgsTextFormat,
    QgsUnitTypes,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QFont

from ..core.errors import InputError
from ..layers.analysis_layers import (
    LAYER_AFTER, LAYER_BEFORE, detections_layer, regions_layer, style_change_score,
)

PAGE_W, PAGE_H = 297.0, 210.0  # A4 landscape, mm
MARGIN = 10.0


@dataclass
class LayoutContent:
    title: str
    subtitle: str
    before_caption: str
    after_caption: str
    count_rows: list[list[str]]  # header first
    text_blocks: list[str]  # method, parameters, software, review: one block each
    chart_png: Optional[str] = None
    event_lines: tuple = ()


def _callout_labels(layer: QgsVectorLayer) -> None:
    """Each box labelled with its class and event, the label set off and tied by a leader line."""
    settings = QgsPalLayerSettings()
    settings.fieldName = "\"class\" || coalesce(' (' || nullif(\"event\", '') || ')', '')"
    settings.isExpression = True
    settings.placement = QgsPalLayerSettings.Placement.OverPoint
    settings.xOffset, settings.yOffset = 5.0, -5.0
    settings.offsetUnits = QgsUnitTypes.RenderUnit.RenderMillimeters
    fmt = QgsTextFormat()
    fmt.setFont(QFont("DejaVu Sans"))
    fmt.setSize(6.5)
    fmt.setColor(QColor("white"))
    buffer = fmt.buffer()
    buffer.setEnabled(True)
    buffer.setColor(QColor(20, 20, 20))
    buffer.setSize(0.6)
    fmt.setBuffer(buffer)
    settings.setFormat(fmt)
    callout = QgsSimpleLineCallout()
    callout.setEnabled(True)
    callout.setAnchorPoint(QgsSimpleLineCallout.AnchorPoint.PointOnExterior)
    settings.setCallout(callout)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


def map_layers(project: QgsProject, gpkg_path: str, before_path: str, after_path: str,
               score_path: Optional[str]) -> tuple[list, list]:
    """(before map layers, after map layers), top first, added to `project` (not shown in a tree)."""
    regions = regions_layer(gpkg_path) if gpkg_path else None
    det = {}
    for key, table in (("before", LAYER_BEFORE), ("after", LAYER_AFTER)):
        det[key] = detections_layer(gpkg_path, table, f"Equipment {key}") if gpkg_path else None
        if det[key] is not None:
            _callout_labels(det[key])
    rasters = {}
    for key, path in (("before", before_path), ("after", after_path)):
        layer = QgsRasterLayer(path, f"{key.capitalize()} capture")
        if not layer.isValid():
            raise InputError(f"The report cannot read the {key} capture {path}.")
        rasters[key] = layer
    score = None
    if score_path:
        score = QgsRasterLayer(score_path, "Change score")
        if score.isValid():
            style_change_score(score)
        else:
            score = None
    for layer in [det["after"], regions, score, det["before"], *rasters.values()]:
        if layer is not None:  # the legend shows the layers in the project's tree: vectors only
            project.addMapLayer(layer, isinstance(layer, QgsVectorLayer) and layer is not det["before"])
    before = [x for x in (det["before"], regions, rasters["before"]) if x is not None]
    after = [x for x in (det["after"], regions, score, rasters["after"]) if x is not None]
    return before, after


def _label(layout: QgsPrintLayout, text: str, x: float, y: float, w: float, h: float, size: float = 9.0,
           bold: bool = False, page: int = 0) -> QgsLayoutItemLabel:
    item = QgsLayoutItemLabel(layout)
    item.setText(text)
    font = QFont("DejaVu Sans", 10)
    font.setBold(bold)
    fmt = QgsTextFormat()
    fmt.setFont(font)
    fmt.setSize(size)
    if hasattr(item, "setTextFormat"):  # QGIS >= 3.24
        item.setTextFormat(fmt)
    else:
        font.setPointSizeF(size)
        item.setFont(font)
    layout.addLayoutItem(item)
    item.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutUnit.LayoutMillimeters), page=page)
    item.attemptResize(QgsLayoutSize(w, h, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
    return item


def _map(layout: QgsPrintLayout, layers: list, extent: QgsRectangle, x: float, y: float, w: float, h: float,
         crs) -> QgsLayoutItemMap:
    item = QgsLayoutItemMap(layout)
    layout.addLayoutItem(item)  # no setRect: attemptResize to the same size would not record it
    item.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
    item.attemptResize(QgsLayoutSize(w, h, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
    item.setCrs(crs)
    item.setLayers(layers)
    item.setKeepLayerSet(True)
    item.setExtent(_with_aspect(extent, w / h))  # (zoomToExtent leaves an empty extent in QGIS 3.22 here)
    item.setFrameEnabled(True)
    return item


def _with_aspect(extent: QgsRectangle, aspect: float) -> QgsRectangle:
    """`extent` grown about its centre to width / height = aspect."""
    w, h = extent.width(), extent.height()
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    c = extent.center()
    return QgsRectangle(c.x() - w / 2, c.y() - h / 2, c.x() + w / 2, c.y() + h / 2)


def _table(layout: QgsPrintLayout, rows: list[list[str]], x: float, y: float, w: float, h: float, page: int) -> None:
    """A manual table; the header is its first row, in bold (3.22 draws no headings of manual columns)."""
    table = QgsLayoutItemManualTable.create(layout)
    layout.addMultiFrame(table)
    columns = []
    for name in rows[0]:
        column = QgsLayoutTableColumn()
        column.setHeading(name)
        columns.append(column)
    table.setColumns(columns)
    content = table.contentTextFormat()
    content.setSize(7.5)
    table.setContentTextFormat(content)
    header = []
    for name in rows[0]:
        cell = QgsTableCell(name)
        fmt = QgsTextFormat(content)
        font = fmt.font()
        font.setBold(True)
        fmt.setFont(font)
        cell.setTextFormat(fmt)
        cell.setBackgroundColor(QColor("#eeeeee"))
        header.append(cell)
    table.setTableContents([header] + [[QgsTableCell(v) for v in row] for row in rows[1:]])
    table.setIncludeTableHeader(False)
    frame = QgsLayoutFrame(layout, table)
    frame.attemptResize(QgsLayoutSize(w, h, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
    frame.attemptMove(QgsLayoutPoint(x, y, QgsUnitTypes.LayoutUnit.LayoutMillimeters), page=page)
    table.addFrame(frame)


def build_layout(project: QgsProject, content: LayoutContent, before_layers: list, after_layers: list,
                 extent: QgsRectangle) -> QgsPrintLayout:
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()  # one A4 page
    layout.setName(content.title)
    layout.pageCollection().page(0).setPageSize("A4", QgsLayoutItemPage.Orientation.Landscape)
    _label(layout, content.title, MARGIN, MARGIN - 2, PAGE_W - 2 * MARGIN, 9, size=15, bold=True)
    _label(layout, content.subtitle, MARGIN, MARGIN + 7, PAGE_W - 2 * MARGIN, 8, size=8)
    map_w = (PAGE_W - 3 * MARGIN) / 2
    map_h = 150.0
    top = MARGIN + 17
    crs = after_layers[-1].crs()
    _map(layout, before_layers, extent, MARGIN, top, map_w, map_h, crs)
    after_map = _map(layout, after_layers, extent, 2 * MARGIN + map_w, top, map_w, map_h, crs)
    _label(layout, content.before_caption, MARGIN, top + map_h + 1, map_w, 6, size=8, bold=True)
    _label(layout, content.after_caption, 2 * MARGIN + map_w, top + map_h + 1, map_w, 6, size=8, bold=True)
    scale = QgsLayoutItemScaleBar(layout)
    scale.setLinkedMap(after_map)
    scale.applyDefaultSettings()
    scale.setUnits(QgsUnitTypes.DistanceUnit.DistanceMeters)
    scale.setNumberOfSegments(2)
    scale.setUnitsPerSegment(max(10.0, round(extent.width() / 8, -1)))
    scale.setUnitLabel("m")
    layout.addLayoutItem(scale)
    scale.attemptMove(QgsLayoutPoint(2 * MARGIN + map_w, top + map_h + 7, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
    legend = QgsLayoutItemLegend(layout)
    legend.setLinkedMap(after_map)
    legend.setTitle("")
    legend.setAutoUpdateModel(True)
    layout.addLayoutItem(legend)
    legend.attemptMove(QgsLayoutPoint(MARGIN, top + map_h + 7, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
    legend.setColumnCount(5)
    legend.setSplitLayer(True)
    legend.setSymbolHeight(3)
    legend.setSymbolWidth(5)
    legend.adjustBoxSize()

    page = QgsLayoutItemPage(layout)
    page.setPageSize("A4", QgsLayoutItemPage.Orientation.Landscape)
    layout.pageCollection().addPage(page)
    _label(layout, "Counts per class and events", MARGIN, MARGIN - 2, 130, 8, size=12, bold=True, page=1)
    _table(layout, content.count_rows, MARGIN, MARGIN + 8, 130, 70, page=1)
    if content.event_lines:
        _label(layout, "\n".join(content.event_lines), MARGIN, MARGIN + 82, 130, 40, size=7.5, page=1)
    text_x = MARGIN + 140
    y = MARGIN - 2
    if content.chart_png:
        picture = QgsLayoutItemPicture(layout)
        picture.setPicturePath(content.chart_png)
        layout.addLayoutItem(picture)
        picture.attemptMove(QgsLayoutPoint(text_x, y, QgsUnitTypes.LayoutUnit.LayoutMillimeters), page=1)
        picture.attemptResize(QgsLayoutSize(PAGE_W - text_x - MARGIN, 72, QgsUnitTypes.LayoutUnit.LayoutMillimeters))
        y += 76
    _label(layout, "\n\n".join(content.text_blocks), text_x, y, PAGE_W - text_x - MARGIN, PAGE_H - y - MARGIN,
           size=7.5, page=1)
    layout.refresh()
    return layout


def export(layout: QgsPrintLayout, pdf_path: str, png_path: str, dpi: float = 150.0) -> list[str]:
    """The layout to a PDF and one PNG per page (png_path, then name_2.png, ...)."""
    exporter = QgsLayoutExporter(layout)
    pdf = QgsLayoutExporter.PdfExportSettings()
    pdf.dpi = 300.0
    pdf.rasterizeWholeImage = False
    status = exporter.exportToPdf(pdf_path, pdf)
    if status != QgsLayoutExporter.ExportResult.Success:
        raise InputError(f"The report PDF could not be written to {pdf_path} ({exporter.errorMessage()}).")
    stem, suffix = png_path.rsplit(".", 1)
    pages = [png_path] + [f"{stem}_{k}.{suffix}" for k in range(2, layout.pageCollection().pageCount() + 1)]
    for k, path in enumerate(pages):  # drawn here: exportToImage would try to georeference the PNGs through GDAL
        if not exporter.renderPageToImage(k, QSize(), dpi).save(path, "PNG"):
            raise InputError(f"The report images could not be written beside {png_path}.")
    return pages
