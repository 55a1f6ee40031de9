"""AnalysisTask: synchronous run(), through the task manager, cancel, and errors."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from qgis.core import QgsApplication, QgsProject, QgsTask

from analysis_fixtures import capture_pair, site_wkt, srs, write_capture


def _params(before: Path, after: Path, out: Path, equipment: bool = False):
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions

    return AnalysisParameters(
        site_name="Base", before_path=str(before), after_path=str(after), output_dir=str(out),
        before_date="2024-01-05", after_date="2024-03-07", aoi_wkt=site_wkt(), aoi_crs_wkt=srs().ExportToWkt(),
        equipment=EquipmentOptions(enabled=equipment),
    )


def _wait(task, qgis_app, timeout_s: float = 60.0) -> float:
    start = time.perf_counter()
    while task.status() not in (QgsTask.TaskStatus.Complete, QgsTask.TaskStatus.Terminated):
        qgis_app.processEvents()
        time.sleep(0.01)
        assert time.perf_counter() - start < timeout_s, "the task did not finish in time"
    for _ in range(5):  # let finished() and its queued signals run
        qgis_app.processEvents()
    return time.perf_counter() - start


def test_run_synchronously(qgis_app, tmp_path):
    from sitewatch.plugin.tasks import AnalysisTask

    before, after = capture_pair(tmp_path / "captures")
    out = tmp_path / "analyses" / "one"
    task = AnalysisTask(_params(before, after, out))
    got = []
    task.succeeded.connect(got.append)
    progress = []
    task.progressChanged.connect(progress.append)
    assert task.run() is True
    task.finished(True)
    assert got and got[0] is task.result
    result = task.result
    assert Path(result.gpkg_path).is_file() and Path(result.gpkg_path).parent == out
    assert result.score_path and Path(result.score_path).is_file()
    assert result.title == "SiteWatch: Base 2024-01-05 -> 2024-03-07"
    assert task.progress() == pytest.approx(100.0)


def test_run_through_task_manager(qgis_app, tmp_path, qgis_new_project):
    from sitewatch.plugin.tasks import AnalysisTask

    before, after = capture_pair(tmp_path / "captures")
    out = tmp_path / "analyses" / "two"
    task = AnalysisTask(_params(before, after, out))
    got, failed = [], []
    task.succeeded.connect(got.append)
    task.failed.connect(failed.append)
    QgsApplication.taskManager().addTask(task)
    _wait(task, qgis_app)
    assert failed == []
    assert len(got) == 1 and Path(got[0].gpkg_path).is_file()
    assert QgsProject.instance().mapLayers() == {}  # the task itself adds no layers


def test_cancel_stops_quickly_and_leaves_nothing(qgis_app, tmp_path, qgis_new_project):
    from sitewatch.plugin.tasks import AnalysisTask

    big = 1600
    folder = tmp_path / "captures"
    folder.mkdir()
    before = write_capture(folder / "b.tif", 1, boxes=[(100, 100, 140, 120)], size=big)
    after = write_capture(folder / "a.tif", 2, boxes=[(500, 500, 540, 520)], size=big)
    out = tmp_path / "analyses" / "cancelled"
    params = _params(before, after, out)
    params.aoi_wkt = None
    task = AnalysisTask(params)
    events = []
    task.cancelled_cleanly.connect(lambda: events.append("cancelled"))
    task.succeeded.connect(lambda _r: events.append("succeeded"))
    QgsApplication.taskManager().addTask(task)
    start = time.perf_counter()
    while task.progress() <= 0.0 and task.status() != QgsTask.TaskStatus.Complete:
        qgis_app.processEvents()
        time.sleep(0.005)
        assert time.perf_counter() - start < 30
    task.cancel()
    cancelled_at = time.perf_counter()
    _wait(task, qgis_app)
    assert time.perf_counter() - cancelled_at < 3.0
    assert events == ["cancelled"]
    assert not out.exists()
    assert not out.with_name(out.name + ".partial").exists()
    assert QgsProject.instance().mapLayers() == {}


def test_error_is_kept_for_the_main_thread(qgis_app, tmp_path):
    from sitewatch.plugin.core.errors import RastersDoNotOverlap
    from sitewatch.plugin.tasks import AnalysisTask

    folder = tmp_path / "captures"
    folder.mkdir()
    before = write_capture(folder / "west.tif", 1)
    after = write_capture(folder / "east.tif", 2, origin=(600000.0, 3800000.0))  # 100 km away
    params = _params(before, after, tmp_path / "analyses" / "bad")
    params.aoi_wkt = None
    task = AnalysisTask(params)
    messages = []
    task.failed.connect(messages.append)
    assert task.run() is False
    task.finished(False)
    assert isinstance(task.exception, RastersDoNotOverlap)
    assert messages == [str(task.exception)]
    assert "west.tif" in messages[0] and "east.tif" in messages[0]
    assert not (tmp_path / "analyses" / "bad").exists()
