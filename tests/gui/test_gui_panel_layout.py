"""The panel at QGIS's default dock width (about 300 px) and at 400 px: every control in view,
no sideways overflow, Run and Cancel always visible, blocking problems shown beside Run."""
from __future__ import annotations

from pathlib import Path

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QPoint
from qgis.PyQt.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLabel, QProgressBar, QSlider, QWidget

from analysis_fixtures import capture_pair, site_wkt, write_analysis, write_capture

CRS = QgsCoordinateReferenceSystem("EPSG:32636")
CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QProgressBar, QLabel)


@pytest.fixture()
def dock(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    panel = SiteWatchDock(qgis_iface)
    yield panel
    panel.hide()
    panel.shutdown()
    panel.deleteLater()
    qgis_app.processEvents()


def _site_with_captures(dock, tmp_path: Path, name: str = "Base") -> None:
    before, after = capture_pair(tmp_path / "captures")
    for path in (before, after):
        QgsProject.instance().addMapLayer(QgsRasterLayer(str(path), path.stem))
    dock.create_site(name, QgsGeometry.fromWkt(site_wkt()), CRS)
    dock._refresh_timer.stop()
    dock.refresh_captures()


def _site_with_results(dock, qgis_app, tmp_path: Path) -> None:
    """A site, two dated captures and an analysis shown: the panel at its fullest."""
    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs

    _site_with_captures(dock, tmp_path, "A site with a rather long name over the northern apron")
    before, after = (Path(dock.capture_picker.before().path), Path(dock.capture_picker.after().path))
    gpkg, score = write_analysis(tmp_path / "run")
    outputs = AnalysisOutputs("SiteWatch: Base 2024-01-05 -> 2024-02-01", str(gpkg), str(score), str(before),
                              str(after), "2024-01-05", "2024-02-01")
    dock.show_analysis(outputs, ["Change: 2 regions, 136 m² in /a/very/long/path/that/does/not/wrap/anywhere.gpkg"])
    from sitewatch.plugin.store.workspace import AnalysisRecord

    record = AnalysisRecord(id="20240307T120000_abcdef", time="2024-03-07T12:00:00+00:00", title=outputs.title,
                            before_path=str(before), after_path=str(after), before_date="2024-01-05",
                            after_date="2024-03-07", gpkg_path=str(gpkg))
    dock.history.set_records([record, record])
    qgis_app.processEvents()


def _visible_controls(root: QWidget) -> list[QWidget]:
    return [w for w in root.findChildren(QWidget) if isinstance(w, CONTROLS) and w.isVisibleTo(root)
            and not w.objectName().startswith("qt_") and w.width() > 0]


def _overflow(dock, width: int) -> list[str]:
    """Controls whose left or right edge lies outside the panel's visible width."""
    viewport = dock.scroll_area.viewport()
    out = []
    for root, frame in ((dock.body, viewport), (dock.run_bar, dock.run_bar)):
        for widget in _visible_controls(root):
            left = widget.mapTo(frame, QPoint(0, 0)).x()
            right = left + widget.width()
            if left < 0 or right > frame.width():
                out.append(f"{type(widget).__name__} {widget.objectName()!r} spans {left}..{right} of {frame.width()}")
            elif isinstance(widget, QAbstractButton) and widget.width() < widget.minimumSizeHint().width():
                out.append(f"{type(widget).__name__} {widget.objectName()!r} is squeezed: its text is cut")
    return out


@pytest.mark.parametrize("width", [300, 400])
def test_every_control_fits_the_dock_width(dock, qgis_app, tmp_path, test_output_dir, width):
    _site_with_results(dock, qgis_app, tmp_path)
    dock.equipment_options.engine_combo.setCurrentIndex(dock.equipment_options.engine_combo.findData("model"))
    advanced = (dock.change_options.advanced_box, dock.equipment_options.advanced_box)
    for box in advanced:  # folded by default; unfolded here so that their controls are checked too
        assert box.isCollapsed()
        box.setCollapsed(False)
    dock.resize(width, 1400)
    dock.show()
    qgis_app.processEvents()
    dock.grab().save(str(test_output_dir / f"panel_{width}px.png"))
    dock.body.grab().save(str(test_output_dir / f"panel_{width}px_all.png"))  # the whole scrolling part
    viewport = dock.scroll_area.viewport()
    assert dock.width() == width
    assert dock.body.width() <= viewport.width(), "the body is wider than the dock: controls would be cut off"
    assert dock.scroll_area.horizontalScrollBar().maximum() == 0
    assert len(_visible_controls(dock.body)) >= 25
    for box in advanced:
        assert [w for w in _visible_controls(box) if not w.objectName().startswith("collapse")], box.objectName()
    assert dock.change_options.drop_shadow_moves_check in _visible_controls(dock.body)
    assert dock.equipment_options.stay_tolerance_spin in _visible_controls(dock.body)
    assert _overflow(dock, width) == []
    table = dock.results_table.table
    assert table.horizontalHeader().length() <= table.viewport().width()  # all eight columns in view
    assert table.horizontalScrollBar().maximum() == 0
    assert dock.history.list.count() == 2 and dock.history.list.horizontalScrollBar().maximum() == 0
    # the run bar is outside the scroll area: Run, Cancel and progress never scroll away
    assert dock.run_bar.isVisible() and not dock.scroll_area.isAncestorOf(dock.run_bar)
    for button in (dock.run_button, dock.cancel_button, dock.progress_bar):
        assert dock.run_bar.isAncestorOf(button)


def test_a_short_dock_keeps_run_and_cancel_in_view(dock, qgis_app, tmp_path, test_output_dir):
    """A run started from the bottom of a long panel: progress and Cancel are on screen."""
    _site_with_results(dock, qgis_app, tmp_path)
    dock.resize(300, 500)
    dock.show()
    qgis_app.processEvents()
    dock.scroll_area.verticalScrollBar().setValue(0)
    qgis_app.processEvents()
    for widget in (dock.run_button, dock.cancel_button, dock.progress_bar, dock.status_label):
        top = widget.mapTo(dock, QPoint(0, 0)).y()
        assert widget.isVisible() and 0 <= top and top + widget.height() <= dock.height()
    dock.grab().save(str(test_output_dir / "panel_300px_short.png"))
    # showing results afterwards scrolls only vertically: the body's left edge stays in place
    dock._scroll.ensureWidgetVisible(dock.results_box, 0, 0)
    assert dock.body.mapTo(dock.scroll_area, QPoint(0, 0)).x() == 0


def test_no_site_says_so_and_blocks_run(dock, qgis_app):
    hint = dock.capture_picker.hint_label.text()
    assert "No raster" not in hint and "once a site is chosen" in hint
    assert not dock.run_button.isEnabled()
    assert "site" in dock.run_hint_label.text().lower()
    dock.show()
    dock.sample_loader.start = lambda: object()  # preparing the sample site: busy, not blocked
    dock.open_sample_site()
    assert not dock.run_button.isEnabled() and not dock.run_hint_label.isVisible()
    assert dock.status_label.text() == "Preparing the sample site…"


def test_dates_in_the_wrong_order_disable_run_and_say_why(dock, qgis_app, tmp_path):
    _site_with_captures(dock, tmp_path)
    dock.equipment_options.setChecked(False)
    assert dock.run_button.isEnabled() and dock.run_hint_label.text() == ""
    dock.capture_picker.swap()
    assert not dock.run_button.isEnabled()
    reason = "Before (2024-03-07) is later than After (2024-01-05): press ⇅ Swap."
    assert reason in dock.capture_picker.hint_label.text()  # beside the pickers
    assert reason in dock.run_hint_label.text()  # and beside Run
    dock.capture_picker.swap_button.click()
    assert dock.run_button.isEnabled() and dock.run_hint_label.text() == ""


def test_no_raster_over_a_site_is_not_called_no_site(dock, qgis_app, tmp_path):
    write_capture(tmp_path / "elsewhere.tif", 1, origin=(700000.0, 3800000.0))
    QgsProject.instance().addMapLayer(QgsRasterLayer(str(tmp_path / "elsewhere.tif"), "elsewhere"))
    dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), CRS)
    dock._refresh_timer.stop()
    dock.refresh_captures()
    assert "No raster layer of the project covers this site" in dock.capture_picker.hint_label.text()
    assert "No raster layer" in dock.run_hint_label.text()
    assert not dock.run_button.isEnabled()


def test_a_missing_examples_layer_is_said_beside_the_equipment_options(dock, qgis_app, tmp_path):
    _site_with_captures(dock, tmp_path)
    options = dock.equipment_options
    assert not dock.run_button.isEnabled()
    assert "example boxes" in options.problem_label.text() and options.problem_label.isVisibleTo(options)
    assert options.problem_label.text() in dock.run_hint_label.text()
    options.setChecked(False)  # no equipment step: nothing missing there, Run possible
    assert options.problem_label.text() == "" and not options.problem_label.isVisibleTo(options)
    assert dock.run_button.isEnabled()
