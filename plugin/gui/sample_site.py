"""Opening the built-in sample site from the panel: a synthetic air base on two dates, its
captures and example boxes added to the project and made a site, ready to run."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsApplication, QgsGeometry, QgsVectorLayer
from qgis.PyQt.QtCore import QObject, pyqtSignal

SAMPLE_SITE_NAME = "Khmeimim (sample)"
SAMPLE_SIZE_PX = 4096
SAMPLE_SEED = 7


def default_sample_folder(size_px: int = SAMPLE_SIZE_PX, seed: int = SAMPLE_SEED) -> Path:
    """Where the sample site is kept between sessions (inside the QGIS profile folder)."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "sitewatch" / f"sample-site-{size_px}-{seed}"


class SampleSiteLoader(QObject):
    """Runs a SampleSiteTask, then adds the layers and hands the site to the panel.

    `progress(percent, message)` while preparing; `opened(layers)` once the site is the
    panel's current site; `failed(message)` otherwise."""

    progress = pyqtSignal(float, str)
    opened = pyqtSignal(dict)
    failed = pyqtSignal(str)

    def __init__(self, dock, parent=None):
        super().__init__(parent)
        self.dock = dock
        self.folder = default_sample_folder()
        self.size_px, self.seed = SAMPLE_SIZE_PX, SAMPLE_SEED
        self.task = None

    @property
    def busy(self) -> bool:
        return self.task is not None

    def start(self):
        """Prepare the sample site in the background; returns the task (None when already busy)."""
        from ..tasks import SampleSiteTask

        if self.task is not None:
            return None
        task = SampleSiteTask(str(self.folder), self.size_px, self.seed)
        task.progressChanged.connect(lambda value, t=task: self.progress.emit(float(value), t.last_message))
        task.ready.connect(self._on_ready)
        task.failed.connect(self._on_failed)
        self.task = task
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_failed(self, message: str) -> None:
        self.task = None
        self.failed.emit(message)

    def _on_ready(self, site, examples_path: str) -> None:
        from ..layers.sample_layers import add_sample_site_layers

        self.task = None
        try:
            layers = add_sample_site_layers(site, examples_path)
            self._make_site(site)
        except ValueError as exc:
            self.failed.emit(str(exc))
            return
        from ..samplesite.examples import EXAMPLE_MIN_SCORE

        self.dock.use_sample_site(layers, EXAMPLE_MIN_SCORE)
        self.opened.emit(layers)

    def _make_site(self, site) -> None:
        """Make the sample site the panel's current site (created the first time)."""
        if self.dock.select_site(SAMPLE_SITE_NAME):
            return
        aoi = QgsVectorLayer(str(site.aoi), "aoi", "ogr")
        feature = next(aoi.getFeatures(), None)
        geometry: Optional[QgsGeometry] = feature.geometry() if feature is not None else None
        if geometry is None or geometry.isEmpty():
            raise ValueError(f"The sample site's outline {site.aoi} is empty.")
        self.dock.create_site(SAMPLE_SITE_NAME, geometry, aoi.crs())
