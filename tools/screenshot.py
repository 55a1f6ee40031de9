"""Screenshot of QGIS with the SiteWatch panel after an analysis of the sample site.

Run inside QGIS (a virtual display is enough):
    xvfb-run -a -s "-screen 0 1680x1050x24" /usr/bin/qgis.bin --nologo --noversioncheck \
        --code tools/screenshot.py
It loads the plugin, presses *Try the sample site* (a small one), runs the analysis from the
panel as a new user would, saves the main window to test-output/screenshot.png and quits QGIS.
Environment: SITEWATCH_SHOT_SIZE (sample-site pixels, default 768), SITEWATCH_SHOT_OUT
(PNG path), SITEWATCH_SHOT_TIMEOUT (seconds allowed for the analysis, default 240).
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

TOOLS = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd() / "tools"
REPO = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import pkgpath  # noqa: E402,F401  (the working tree as the `sitewatch` package)

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsProject,
)
from qgis.PyQt.QtCore import QSize, Qt, QTimer  # noqa: E402
from qgis.utils import iface  # noqa: E402

OUT = Path(os.environ.get("SITEWATCH_SHOT_OUT", str(REPO / "test-output" / "screenshot.png")))
SIZE = int(os.environ.get("SITEWATCH_SHOT_SIZE", "768"))
TIMEOUT_S = float(os.environ.get("SITEWATCH_SHOT_TIMEOUT", "240"))
LOG = OUT.with_suffix(".log")


def log(message: str) -> None:
    with LOG.open("a", encoding="utf-8") as handle:
        handle.write(f"{time.strftime('%H:%M:%S')} {message}\n")


def pump(seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        QgsApplication.processEvents()
        time.sleep(0.02)


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text("", encoding="utf-8")
    if OUT.exists():
        OUT.unlink()
    window = iface.mainWindow()
    window.showNormal()
    window.resize(QSize(1680, 1050))
    window.move(0, 0)
    pump(0.5)

    import sitewatch

    work = OUT.parent / "screenshot-work"
    project = QgsProject.instance()
    project.setCrs(QgsCoordinateReferenceSystem("EPSG:32636"))
    project.setFileName(str(work / "sitewatch-demo.qgz"))

    from qgis import utils as qgis_utils

    plugin = qgis_utils.plugins.get("sitewatch")  # already loaded from the user's profile
    own_plugin = plugin is None
    if own_plugin:
        plugin = sitewatch.classFactory(iface)
        plugin.initGui()
    dock = plugin.dock
    dock.show()
    dock.raise_()
    window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)
    pump(0.5)

    # what a new user does: Try the sample site, then Run analysis
    dock.sample_loader.folder = work / f"site-{SIZE}"  # a site of another size is not reused
    dock.sample_loader.size_px = SIZE
    log(f"Try the sample site ({SIZE} px) in {work}")
    dock.site_selector.sample_button.click()
    start = time.time()
    while dock.sample_loader.busy and time.time() - start < TIMEOUT_S:
        pump(0.2)
    if dock.site is None or not dock.run_button.isEnabled():
        raise RuntimeError("the sample site did not open: " + dock.status_label.text())
    log("plan: " + dock.plan_label.text().replace("<br>", " | "))
    site_extent = dock.site.geometry().boundingBox()

    task = dock.run_analysis()
    if task is None:
        raise RuntimeError("Run refused: " + dock.plan_label.text())
    start = time.time()
    while dock.task is not None and time.time() - start < TIMEOUT_S:
        pump(0.2)
    if dock.task is not None:
        dock.cancel_analysis()
        pump(3.0)
        raise RuntimeError(f"the analysis took longer than {TIMEOUT_S:.0f} s")
    log(f"analysis finished in {time.time() - start:.1f} s: {dock.status_label.text()}")
    log("summary: " + dock.results_table.summary_label.text().replace("\n", " | "))
    examples = dock.equipment_options.exemplar_combo.currentLayer()
    examples_node = project.layerTreeRoot().findLayer(examples.id()) if examples is not None else None
    if examples_node is not None:
        examples_node.setItemVisibilityChecked(False)
    iface.mapCanvas().setExtent(site_extent)
    iface.mapCanvas().refresh()
    pump(1.0)
    iface.mapCanvas().waitWhileRendering()
    pump(0.5)
    window.grab().save(str(OUT))
    log(f"saved {OUT}")
    if own_plugin:
        plugin.unload()


def run_and_quit() -> None:
    code = 0
    try:
        main()
    except Exception:  # noqa: BLE001 (written to the log; the exit code tells the caller)
        log(traceback.format_exc())
        code = 1
    QgsProject.instance().setDirty(False)
    QgsProject.instance().clear()
    QgsApplication.processEvents()
    os._exit(code)  # QGIS's own exit path may ask questions; nothing is left to save


QTimer.singleShot(500, run_and_quit)
