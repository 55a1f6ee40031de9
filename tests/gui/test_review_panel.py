"""The review panel driven by the keyboard (QTest): decisions, counts as they change, undo and redo,
the other date, boxes drawn on the map, a locked workspace, and QGIS killed and reopened."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from qgis.core import QgsProject
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtTest import QTest

from review_gui_helpers import copy_sample, open_panel

SCRIPT = Path(__file__).with_name("review_keys_process.py")


@pytest.fixture()
def panel(qgis_app, qgis_iface, qgis_new_project, review_sample_root, tmp_path):
    canvas = qgis_iface.mapCanvas()
    canvas.resize(600, 600)
    analysis = copy_sample(review_sample_root, tmp_path / "sample")
    panel, group = open_panel(qgis_iface, analysis)
    canvas.setDestinationCrs(panel._analysis_crs())
    qgis_iface.messageBar().clear_messages()
    yield panel
    panel.shutdown()
    panel.deleteLater()
    qgis_app.processEvents()


def _reviewed(panel) -> int:
    return int(panel.ui.progressLabel.text().split(" of ")[0])


def _table_totals(panel) -> dict[str, int]:
    table = panel.ui.countsTable
    heads = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    totals = dict.fromkeys(heads[1:7], 0)
    for row in range(table.rowCount()):
        for col, name in enumerate(heads[1:7], start=1):
            totals[name] += int(table.item(row, col).text())
    return totals


def test_thirty_most_uncertain_objects_reviewed_with_the_keyboard(panel):
    session = panel.session
    total = session.state.total
    assert total >= 40
    assert panel.ui.progressLabel.text() == f"0 of {total} reviewed"
    top = [s.object_id for s in session.queue()[:30]]
    assert panel.current_id == top[0]
    keys = [Qt.Key.Key_A, Qt.Key.Key_R, Qt.Key.Key_A, Qt.Key.Key_2, Qt.Key.Key_A]
    expected = {}
    for k, object_id in enumerate(top):
        assert panel.current_id == object_id  # each decision moves on to the next object
        current = panel.current()
        key = keys[k % len(keys)]
        standing_after = sum(1 for s in session.state.detections() if s.obj.side == "after" and s.status != "rejected")
        QTest.keyClick(panel.ui.queueTable, key)
        assert _reviewed(panel) == k + 1
        assert panel.ui.progressLabel.text() == f"{k + 1} of {total} reviewed"
        state = session.state.by_id()[object_id]
        if key == Qt.Key.Key_R:
            expected[object_id] = ("rejected", current.class_name)
            if current.obj.side == "after":  # the counts follow at once
                assert _table_totals(panel)["after"] == standing_after - 1
        elif key == Qt.Key.Key_2 and current.obj.kind == "detection":
            expected[object_id] = ("accepted", panel.classes[1])
        elif key == Qt.Key.Key_2:
            expected[object_id] = ("rejected", current.class_name)
            assert state.reason == "cloud"  # on a change region, 2 is the second false-alarm reason
        else:
            expected[object_id] = ("accepted", current.class_name)
        assert (state.status, state.class_name) == expected[object_id]
        totals = _table_totals(panel)
        assert totals["after"] == totals["stayed"] + totals["moved"] + totals["arrived"]
        assert totals["before"] == totals["stayed"] + totals["moved"] + totals["departed"]
    assert len(session.store.decisions(analysis_id=session.analysis_id)) == total + 30
    # the reviewed layer of the map follows the state
    layer = panel.reviewed_layer
    statuses = {f["object_id"]: f["status"] for f in layer.getFeatures()}
    assert all(statuses[i] == expected[i][0] for i in top)


def test_undo_redo_navigation_zoom_and_the_other_date(panel, qgis_iface):
    session = panel.session
    first = panel.current_id
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_R)
    assert session.state.by_id()[first].status == "rejected" and panel.current_id != first
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.state.by_id()[first].status == "pending" and _reviewed(panel) == 0
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert session.state.by_id()[first].status == "rejected" and _reviewed(panel) == 1
    assert [d.action for d in session.store.history(first)] == ["detected", "reject", "undo", "redo"]
    second = panel.current_id
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_N)
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_Right)
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_P)
    assert panel.current_row() == [s.object_id for s in panel.queue].index(second) + 1
    # the map follows the current object; Z zooms close around it
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_Z)
    canvas = qgis_iface.mapCanvas()
    from qgis.core import QgsGeometry

    box = QgsGeometry.fromWkt(panel.current().wkt).boundingBox()
    assert canvas.extent().contains(box) and min(canvas.extent().width(), canvas.extent().height()) <= 100
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_N)
    assert canvas.extent().contains(QgsGeometry.fromWkt(panel.current().wkt).centroid().asPoint())
    # Space and D show the other date
    shown = panel.shown_side
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_Space)
    assert panel.shown_side != shown
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_D)
    assert panel.shown_side == shown
    visible = {n.layer().customProperty("sitewatch/role"): n.itemVisibilityChecked() for n in panel.group.findLayers()}
    assert visible[f"{shown}_capture"] and not visible[f"{'before' if shown == 'after' else 'after'}_capture"]


def test_filters_narrow_the_queue(panel):
    ui = panel.ui
    ui.sideCombo.setCurrentIndex(ui.sideCombo.findData("region"))
    assert panel.queue and all(s.obj.kind == "region" for s in panel.queue)
    QTest.keyClick(ui.queueTable, Qt.Key.Key_3)  # misregistration
    decided = [s for s in panel.session.state.regions() if s.reviewed]
    assert len(decided) == 1 and decided[0].reason == "misregistration"
    ui.sideCombo.setCurrentIndex(ui.sideCombo.findData("after"))
    ui.statusCombo.setCurrentIndex(ui.statusCombo.findData("pending"))
    n = len(panel.queue)
    QTest.keyClick(ui.queueTable, Qt.Key.Key_A)
    assert len(panel.queue) == n - 1 and all(s.status == "pending" and s.obj.side == "after" for s in panel.queue)
    ui.minScoreSpin.setValue(0.6)
    assert all(s.obj.score >= 0.6 for s in panel.queue)


def _sides(wkt: str) -> tuple[float, float]:
    from sitewatch.plugin.core.annotations.boxes import wkt_to_corners

    c = wkt_to_corners(wkt)
    a, b = float(((c[1] - c[0]) ** 2).sum() ** 0.5), float(((c[2] - c[1]) ** 2).sum() ** 0.5)
    return max(a, b), min(a, b)


def _click(canvas, x: float, y: float) -> None:
    from qgis.core import QgsPointXY

    pixel = canvas.mapTool().toCanvasCoordinates(QgsPointXY(x, y))
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixel)


def test_missed_object_drawn_with_three_clicks_and_a_box_redrawn(panel, qgis_iface, qgis_app):
    from qgis.core import QgsRectangle

    canvas = qgis_iface.mapCanvas()
    canvas.show()
    panel.follow(zoom=True)
    centre = canvas.extent().center()
    canvas.setExtent(QgsRectangle(centre.x() - 20, centre.y() - 20, centre.x() + 20, centre.y() + 20))
    qgis_app.processEvents()
    cx, cy = centre.x() + 2, centre.y() + 2
    panel.ui.relabelCombo.setCurrentIndex(panel.ui.relabelCombo.findData("truck"))
    n_after = sum(c.after for c in panel.session.state.counts)
    shown = panel.shown_side
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_B)
    assert canvas.mapTool() is panel.box_tool
    _click(canvas, cx, cy)
    _click(canvas, cx + 8, cy)
    _click(canvas, cx + 8, cy + 3)
    added = [s for s in panel.session.state.objects if s.obj.added]
    assert len(added) == 1 and added[0].class_name == "truck" and added[0].obj.side == shown
    pixel = canvas.mapUnitsPerPixel()  # clicks land on whole pixels
    assert _sides(added[0].wkt) == pytest.approx((8.0, 3.0), abs=2 * pixel)
    assert canvas.mapTool() is not panel.box_tool
    if shown == "after":
        assert sum(c.after for c in panel.session.state.counts) == n_after + 1
    assert panel.current_id == added[0].object_id
    # redraw the box of the current object (E, three clicks)
    QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_E)
    _click(canvas, cx, cy)
    _click(canvas, cx + 10, cy)
    _click(canvas, cx + 10, cy + 4)
    redrawn = panel.session.state.by_id()[added[0].object_id]
    assert _sides(redrawn.wkt) == pytest.approx((10.0, 4.0), abs=2 * pixel)
    assert [d.action for d in panel.session.store.history(redrawn.object_id)] == ["add", "edit_geometry"]


def test_a_locked_workspace_is_reported_in_the_panel_and_nothing_changes(panel, qgis_iface, monkeypatch):
    from qgis.core import Qgis

    from sitewatch.plugin.store import review

    monkeypatch.setattr(review, "LOCK_TIMEOUT_S", 0.2)
    blocker = sqlite3.connect(panel.session.store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    first = panel.current_id
    try:
        QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_A)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert panel.ui.messageLabel.text().startswith("Not saved: The site workspace")
    assert "locked" in panel.ui.messageLabel.text()
    assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical)
    assert panel.current_id == first and _reviewed(panel) == 0


def test_qgis_killed_mid_review_and_reopened_keeps_every_decision(qgis_app, qgis_iface, qgis_new_project,
                                                                   review_sample_root, tmp_path):
    analysis = copy_sample(review_sample_root, tmp_path / "sample")
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(analysis), "1000"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    decided = []
    try:
        for line in proc.stdout:
            decided.append(line.split())
            if len(decided) >= 12:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(decided) == 12 and proc.returncode == -signal.SIGKILL
    panel, _group = open_panel(qgis_iface, analysis)  # QGIS opened again on the same site
    try:
        state = panel.session.state.by_id()
        for object_id, status in decided:
            assert state[object_id].status == status
        assert _reviewed(panel) >= 12
        assert panel.session.store.integrity() == "ok"
    finally:
        panel.shutdown()
        QgsProject.instance().clear()


def test_a_note_is_kept_in_the_history(panel):
    first = panel.current_id
    QTest.keyClicks(panel.ui.noteEdit, "tarp over the nose")
    QTest.keyClick(panel.ui.noteEdit, Qt.Key.Key_Return)
    assert panel.current_id == first and panel.ui.noteEdit.text() == ""
    history = panel.session.store.history(first)
    assert history[-1].action == "note" and history[-1].note == "tarp over the nose" and history[-1].reviewer
    assert panel.session.state.by_id()[first].note == "tarp over the nose" and _reviewed(panel) == 0
    assert "tarp over the nose" in panel.ui.currentLabel.text()
