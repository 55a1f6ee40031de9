"""A web (XYZ) layer as a capture: listed with the date from its name, saved over the site, analysed."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsRasterLayer
from qgis.PyQt.QtGui import QColor, QImage, QPainter

Z = 18
TILES = [(x, y) for x in (131071, 131072, 131073) for y in (131070, 131071, 131072)]
UTM31 = QgsCoordinateReferenceSystem("EPSG:32631")


def _site_wkt() -> str:
    """An 80 m square around 0.0008 N, 0.0008 E (in the z18 tile 131072/131071), in UTM 31N."""
    from qgis.core import QgsCoordinateTransform, QgsPointXY

    to_utm = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), UTM31, QgsProject.instance())
    c = to_utm.transform(QgsPointXY(0.0008, 0.0008))
    return (f"POLYGON(({c.x() - 40} {c.y() - 40},{c.x() + 40} {c.y() - 40},{c.x() + 40} {c.y() + 40},"
            f"{c.x() - 40} {c.y() + 40},{c.x() - 40} {c.y() - 40}))")


def _tiles(folder: Path, with_building: bool) -> str:
    """256 px PNG tiles: the same ground texture every date, a bright building on the later one."""
    for x, y in TILES:
        rng = np.random.default_rng(x * 7 + y)
        ground = np.kron(rng.integers(60, 140, (32, 32)), np.ones((8, 8))).astype(np.uint8)
        bgra = np.dstack([ground, ground, ground, np.full_like(ground, 255)])
        image = QImage(bgra.tobytes(), 256, 256, QImage.Format.Format_RGB32).copy()
        if with_building and (x, y) == (131072, 131071):
            painter = QPainter(image)
            painter.fillRect(150, 110, 40, 30, QColor(250, 250, 250))
            painter.end()
        path = folder / str(Z) / str(x)
        path.mkdir(parents=True, exist_ok=True)
        image.save(str(path / f"{y}.png"))
    return f"type=xyz&url=file://{folder}/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax={Z}&zmin={Z}"


@pytest.fixture()
def web_layers(qgis_new_project, tmp_path):
    before = QgsRasterLayer(_tiles(tmp_path / "t1", False), "Imagery 2024-05-01", "wms")
    after = QgsRasterLayer(_tiles(tmp_path / "t2", True), "Imagery 2024-06-15", "wms")
    assert before.isValid() and after.isValid()
    QgsProject.instance().addMapLayers([before, after])
    return before, after


def test_web_layer_saved_over_the_site(qgis_app, web_layers, tmp_path):
    from osgeo import gdal

    from sitewatch.plugin.qgisio.raster_export import prepare_export, run_export

    before, _after = web_layers
    job = prepare_export(before, QgsGeometry.fromWkt(_site_wkt()), UTM31, 0.5, str(tmp_path / "out" / "b.tif"))
    assert (job.width, job.height) == (160, 160) and job.crs == UTM31
    seen = []
    path = run_export(job, lambda f: seen.append(f) or True)
    ds = gdal.Open(path)
    assert ds.RasterXSize == 160 and ds.RasterCount >= 3
    assert "32631" in ds.GetProjection() or "UTM zone 31N" in ds.GetProjection()
    band = ds.GetRasterBand(1).ReadAsArray()
    assert 60 <= band.mean() <= 140 and band.std() > 5  # the tile texture, not an empty image
    assert seen and list(Path(path).parent.iterdir()) == [Path(path)]


def test_export_cancel_leaves_no_file(qgis_app, web_layers, tmp_path):
    from sitewatch.plugin.qgisio.raster_export import prepare_export, run_export

    job = prepare_export(web_layers[0], QgsGeometry.fromWkt(_site_wkt()), UTM31, 0.5, str(tmp_path / "out" / "b.tif"))
    with pytest.raises(InterruptedError):
        run_export(job, lambda f: False)
    assert list((tmp_path / "out").iterdir()) == []


def test_web_captures_run_from_the_panel(qgis_app, qgis_iface, web_layers, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    dock = SiteWatchDock(qgis_iface)
    try:
        qgis_iface.messageBar().clear_messages()
        dock.create_site("Equator", QgsGeometry.fromWkt(_site_wkt()), UTM31)
        dock._refresh_timer.stop()
        dock.refresh_captures()
        caps = dock.capture_picker.captures
        assert [c.date_text for c in caps] == ["2024-05-01", "2024-06-15"] and all(c.path is None for c in caps)
        assert "web layer" in dock.capture_picker.hint_label.text()
        dock.equipment_options.setChecked(False)
        assert dock.run_button.isEnabled()
        assert "saved over the site" in dock.plan_label.text()
        task = dock.run_analysis()
        assert len(task.exports) == 2
        start = time.perf_counter()
        while dock.task is not None:
            qgis_app.processEvents()
            time.sleep(0.01)
            assert time.perf_counter() - start < 60
        errors = qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical)
        assert errors == []
        saved = sorted(p.name for p in (Path(dock.site.workspace_path).parent / "captures").iterdir())
        assert len(saved) == 2 and all(name.endswith("_0.50m.tif") for name in saved)
        assert dock.current_group() is not None
        # a second run reuses the saved captures
        exports: list = []
        dock.build_parameters(exports=exports)
        assert exports == []
    finally:
        dock.shutdown()
        dock.deleteLater()
