"""Swipe in the dock: After left of a line on the map, Before right of it; nothing left behind."""
from __future__ import annotations

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsProject, QgsRectangle
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor, QImage, QPainter

from analysis_fixtures import BEFORE_BOXES, GSD, ORIGIN, SIZE, capture_pair, write_analysis


@pytest.fixture()
def dock(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock
    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    panel = SiteWatchDock(qgis_iface)
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32636"))
    window = canvas.window()
    was_visible = window.isVisible()
    canvas.resize(400, 400)
    window.show()  # a hidden canvas gets no resize event and keeps an old map size
    qgis_app.processEvents()
    gpkg, score = write_analysis(tmp_path / "run")
    before, after = capture_pair(tmp_path / "captures")
    panel.show_analysis(AnalysisOutputs("SiteWatch: Base A -> B", str(gpkg), str(score), str(before), str(after),
                                        "A", "B"), [])
    canvas.setExtent(QgsRectangle(ORIGIN[0], ORIGIN[1] - SIZE * GSD, ORIGIN[0] + SIZE * GSD, ORIGIN[1]))
    yield panel
    panel.shutdown()
    window.setVisible(was_visible)
    panel.deleteLater()
    qgis_app.processEvents()


def _visible(dock) -> dict:
    return {n.name(): n.itemVisibilityChecked() for n in dock.current_group().findLayers()}


def _paint(item, canvas) -> QImage:
    """What the item draws over the canvas (transparent where it leaves the map below visible)."""
    image = QImage(canvas.width(), canvas.height(), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    painter.translate(item.pos())
    item.paint(painter)
    painter.end()
    return image


def _canvas_px(canvas, raster_x: float, raster_y: float) -> tuple[int, int]:
    point = canvas.mapSettings().mapToPixel().transform(ORIGIN[0] + raster_x * GSD, ORIGIN[1] - raster_y * GSD)
    return int(point.x()), int(point.y())


def test_slider_starts_at_the_right_end_and_explains_itself(dock):
    slider = dock.compare.swipe_slider
    assert slider.orientation() == Qt.Orientation.Horizontal
    assert slider.value() == slider.maximum() and dock.compare.swipe_position == 1.0
    assert "Before" in slider.toolTip() and "After" in slider.toolTip()
    assert dock.swipe_item is None


def test_swipe_shows_before_right_of_the_line(dock, qgis_iface, qgis_app):
    canvas = qgis_iface.mapCanvas()
    dock.compare.show_date("before")
    dock.compare.set_flicker(True)
    dock.compare.swipe_slider.setValue(40)
    item = dock.swipe_item
    assert item is not None and item.position == pytest.approx(0.4)
    assert item in canvas.scene().items()
    assert not dock.compare.timer.isActive() and dock.compare.shown == "after"
    visible = _visible(dock)
    assert visible["After B"] and not visible["Before A"]  # the canvas draws After; the item draws Before

    item.wait()
    qgis_app.processEvents()
    assert item.image is not None and not item.image.isNull()
    painted = _paint(item, canvas)
    split = int(item.line_x())
    assert split == int(0.4 * canvas.viewport().width())
    assert all(painted.pixelColor(x, 200).alpha() == 0 for x in range(0, split - 2, 10))  # After shows through
    assert all(painted.pixelColor(x, 200).alpha() == 255 for x in range(split + 3, canvas.viewport().width() - 1, 10))
    # a vehicle that left: bright in the Before capture, right of the line
    x0, y0, x1, y1 = BEFORE_BOXES[2]
    px, py = _canvas_px(canvas, (x0 + x1) / 2, (y0 + y1) / 2)
    assert px > split
    colour = painted.pixelColor(px, py)
    assert min(colour.red(), colour.green(), colour.blue()) > 200

    dock.compare.swipe_slider.setValue(70)  # dragging moves the same item
    assert dock.swipe_item is item and item.position == pytest.approx(0.7)
    assert int(item.line_x()) == int(0.7 * canvas.viewport().width()) and px < item.line_x()
    assert _paint(item, canvas).pixelColor(px, py).alpha() == 0


def test_swipe_follows_the_view(dock, qgis_iface, qgis_app):
    canvas = qgis_iface.mapCanvas()
    dock.compare.swipe_slider.setValue(10)
    item = dock.swipe_item
    item.wait()
    first = QgsRectangle(item.image_extent)
    zoomed = QgsRectangle(ORIGIN[0] + 40, ORIGIN[1] - 50, ORIGIN[0] + 90, ORIGIN[1])
    canvas.setExtent(zoomed)
    assert item._timer.isActive()  # a new render of the new view is on its way
    item.render()
    item.wait()
    qgis_app.processEvents()
    assert item.image_extent == canvas.mapSettings().visibleExtent() != first
    assert item.image_extent.width() < first.width() / 1.5
    x0, y0, x1, y1 = BEFORE_BOXES[2]
    px, py = _canvas_px(canvas, (x0 + x1) / 2, (y0 + y1) / 2)
    colour = _paint(item, canvas).pixelColor(px, py)
    assert min(colour.red(), colour.green(), colour.blue()) > 200


def test_buttons_slider_end_and_group_removal_end_the_swipe(dock, qgis_iface):
    from sitewatch.plugin.layers.analysis_layers import remove_group

    scene = qgis_iface.mapCanvas().scene()
    slider = dock.compare.swipe_slider
    slider.setValue(30)
    item = dock.swipe_item
    slider.setValue(slider.maximum())
    assert dock.swipe_item is None and item not in scene.items()

    slider.setValue(30)
    item = dock.swipe_item
    dock.compare.before_button.click()
    assert dock.swipe_item is None and item not in scene.items()
    assert slider.value() == slider.maximum()
    visible = _visible(dock)
    assert visible["Before A"] and not visible["After B"]

    slider.setValue(50)
    item = dock.swipe_item
    assert item is not None
    remove_group(dock.current_group())
    assert dock.swipe_item is None and item not in scene.items()
    slider.setValue(20)  # no analysis shown: nothing to swipe
    assert dock.swipe_item is None


def test_shutdown_removes_the_item_and_its_connections(dock, qgis_iface):
    canvas = qgis_iface.mapCanvas()
    connected = canvas.receivers(canvas.extentsChanged)
    dock.compare.swipe_slider.setValue(50)
    item = dock.swipe_item
    assert canvas.receivers(canvas.extentsChanged) == connected + 1
    dock.shutdown()
    assert dock.swipe_item is None and item not in canvas.scene().items()
    assert canvas.receivers(canvas.extentsChanged) == connected
    assert item.image is None
