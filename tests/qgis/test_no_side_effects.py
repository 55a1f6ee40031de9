"""Enabling SiteWatch changes nothing process-wide: GDAL's exception mode stays the caller's;
SiteWatch's warnings reach the QGIS message log while it is loaded, and only then."""
from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from osgeo import gdal, ogr, osr

ROOT = Path(__file__).resolve().parents[2]

IMPORT_EVERY_MODULE = """
import pkgutil, sys
sys.path.insert(0, {tools!r})
import pkgpath  # noqa: F401
from osgeo import gdal, ogr, osr
for module in ((gdal, ogr, osr) if "{switch}" == "UseExceptions" else ()):
    module.{switch}()
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
import sitewatch.plugin
names = [m.name for m in pkgutil.walk_packages(sitewatch.plugin.__path__, "sitewatch.plugin.")
         if ".tests" not in m.name and not m.name.endswith("__main__")]
import importlib
for name in names:
    importlib.import_module(name)
print(len(names), gdal.GetUseExceptions(), ogr.GetUseExceptions(), osr.GetUseExceptions())
"""


@pytest.mark.parametrize("switch, expected", [("DontUseExceptions", 0), ("UseExceptions", 1)])
def test_importing_every_module_keeps_the_gdal_exception_mode(switch, expected):
    script = IMPORT_EVERY_MODULE.format(tools=str(ROOT / "tools"), switch=switch)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(ROOT / "build")})
    assert done.returncode == 0, done.stderr[-2000:]
    count, *flags = done.stdout.split()[-4:]
    assert int(count) > 50 and [int(f) for f in flags] == [expected] * 3


@pytest.fixture()
def exceptions_off():
    saved = [m.GetUseExceptions() for m in (gdal, ogr, osr)]
    for module in (osr, ogr, gdal):  # GDAL pops its error handlers in reverse order
        module.DontUseExceptions()
    yield
    for module, was in zip((gdal, ogr, osr), saved):
        if was:
            module.UseExceptions()


def _flags() -> list[int]:
    return [m.GetUseExceptions() for m in (gdal, ogr, osr)]


def test_load_run_unload_keeps_the_gdal_exception_mode(qgis_app, qgis_iface, qgis_processing, exceptions_off,
                                                       tmp_path):
    from sitewatch.plugin.core.errors import UnreadableRaster
    from sitewatch.plugin.core.raster import open_raster, raster_info

    plugin = importlib.import_module("sitewatch").classFactory(qgis_iface)
    plugin.initGui()
    assert _flags() == [0, 0, 0]
    # SiteWatch's own calls raise as the core expects; the mode is the caller's afterwards
    with pytest.raises(UnreadableRaster):
        open_raster(str(tmp_path / "missing.tif"))
    path = tmp_path / "one.tif"
    gdal.GetDriverByName("GTiff").Create(str(path), 4, 4, 1)
    assert raster_info(str(path)).width == 4
    assert _flags() == [0, 0, 0]
    assert gdal.Open(str(tmp_path / "missing.tif")) is None  # the caller's code still gets None
    plugin.unload()
    assert _flags() == [0, 0, 0]


def test_nested_and_failing_scopes_restore_the_mode(exceptions_off):
    from sitewatch.plugin.core.gdal_scope import gdal_exceptions

    with gdal_exceptions():
        with gdal_exceptions():
            assert _flags() == [1, 1, 1]
        assert _flags() == [1, 1, 1]  # an inner call ending leaves the outer one its exceptions
        with pytest.raises(RuntimeError):
            with gdal_exceptions():
                gdal.Open("/nowhere/at/all.tif")
        assert _flags() == [1, 1, 1]
    assert _flags() == [0, 0, 0]


def _log_messages(qgis_app):
    from qgis.core import QgsApplication

    received = []
    QgsApplication.messageLog().messageReceived.connect(lambda message, tag, level: received.append((tag, message)))
    return received


def test_core_warnings_reach_the_message_log_until_unload(qgis_app, qgis_iface, qgis_processing):
    package = importlib.import_module("sitewatch")
    core_logger = logging.getLogger("sitewatch.plugin.core.pipeline")
    received = _log_messages(qgis_app)
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    core_logger.warning("the after capture has no sun angles")
    core_logger.info("details nobody asked for")
    qgis_app.processEvents()
    assert ("SiteWatch", "the after capture has no sun angles") in received
    assert not any("nobody asked" in message for _tag, message in received)
    plugin.unload()
    assert not [h for h in logging.getLogger("sitewatch.plugin").handlers if type(h).__name__ == "MessageLogHandler"]
    core_logger.warning("after unload")
    qgis_app.processEvents()
    assert not any(message == "after unload" for _tag, message in received)


def test_processing_only_load_logs_too(qgis_app, qgis_iface, qgis_processing):
    """qgis_process calls initProcessing without initGui; unload still removes the handler."""
    received = _log_messages(qgis_app)
    plugin = importlib.import_module("sitewatch").classFactory(qgis_iface)
    plugin.initProcessing()
    plugin.initProcessing()  # QGIS may call it again: one handler
    handlers = [h for h in logging.getLogger("sitewatch.plugin").handlers if type(h).__name__ == "MessageLogHandler"]
    assert len(handlers) == 1
    logging.getLogger("sitewatch.plugin.core.change.grid").error("cannot read band 3")
    qgis_app.processEvents()
    assert ("SiteWatch", "cannot read band 3") in received
    plugin.unload()
    assert handlers[0] not in logging.getLogger("sitewatch.plugin").handlers
