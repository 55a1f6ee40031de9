"""Background work as QgsTasks (the analysis, the sample site): run() on a worker thread,
finished() on the main thread.

run() never touches the GUI, the project or a layer: it calls the core and keeps either the
result or the exception. Cancel makes the progress callback return False, which the core
turns into Cancelled at its next report; the task then removes the output folder it made.
"""
from __future__ import annotations

import shutil
import traceback
from pathlib import Path
from typing import Callable, Optional

from qgis.core import Qgis, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from .core.errors import Cancelled, SiteWatchError
from .core.failures import describe_failure, user_message
from .core.output_checks import check_writable
from .core.progress import Progress
from .qgisio.logfile import log_folder

LOG_TAG = "SiteWatch"


def _default_runner():
    from .core.pipeline import run_analysis

    return run_analysis


def _without_frames(exc: BaseException) -> BaseException:
    """The exception without its traceback: the frames hold open GDAL datasets, which must
    close now (before their files are removed), not whenever the task object goes away."""
    exc.__traceback__ = None
    exc.__context__ = exc.__cause__ = None
    return exc


class _ReportingTask(QgsTask):
    """A task whose core work reports through `_progress` (a Progress callback)."""

    last_message = ""

    def _progress(self, fraction: float, message: str = "") -> bool:
        """Progress callback for the core: shows the fraction, keeps the message, False on cancel."""
        self.setProgress(max(0.0, min(100.0, 100.0 * float(fraction))))
        if message:
            self.last_message = message
        return not self.isCanceled()


class AnalysisTask(_ReportingTask):
    """Wraps `run_analysis(params, progress)`; emits `succeeded(result)` or `failed(message)`."""

    succeeded = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled_cleanly = pyqtSignal()

    def __init__(self, params, runner: Optional[Callable] = None, description: str = "", exports: Optional[list] = None):
        """`exports`: RasterExportJobs (web layers saved as GeoTIFF first, prepared on the main thread)."""
        super().__init__(description or f"SiteWatch analysis of {params.site_name}", QgsTask.Flag.CanCancel)
        self.params = params
        self._runner = runner
        self.exports = list(exports or [])
        self._exported: list[str] = []
        self.result = None
        self.exception: Optional[BaseException] = None
        self.error_detail = ""
        self.message = ""  # what the user reads when run() failed
        self.last_message = ""
        out = Path(params.output_dir)
        self._made_output_dir = not out.exists()

    # worker thread ----------------------------------------------------------
    def run(self) -> bool:  # noqa: D401 (QgsTask API)
        try:
            runner = self._runner or _default_runner()
            if self.isCanceled():
                raise Cancelled("Cancelled by the user; no output was written.")
            check_writable({"The analysis folder": str(Path(self.params.output_dir) / "analysis.gpkg")})
            progress = Progress(self._progress)
            share = 0.3 if self.exports else 0.0
            self._run_exports(progress.stage(0.0, share))
            self.result = runner(self.params, progress.stage(share, 1.0))
            if self.isCanceled():  # cancelled after the last report: discard
                raise Cancelled("Cancelled by the user; no output was written.")
            return True
        except Exception as exc:  # noqa: BLE001 (reported on the main thread)
            if not describe_failure(exc).expected:  # a defect: its traceback to the log file and panel
                self.error_detail = traceback.format_exc()
            self.message = user_message(exc, self.description(), log_folder())
            self.exception = _without_frames(exc)
            self.result = None
            self._cleanup()
            return False

    def _run_exports(self, progress: Progress) -> None:
        from .qgisio.raster_export import run_export

        for i, job in enumerate(self.exports):
            part = progress.stage(i / len(self.exports), (i + 1) / len(self.exports))
            part.report(0.0, f"Saving {job.layer_name} over the site ({job.width} x {job.height} px)")
            try:
                path = run_export(job, lambda f, part=part: self._progress(part.start + part.span * f) is not False)
            except InterruptedError:
                raise Cancelled("Cancelled by the user; no output was written.") from None
            except RuntimeError as exc:
                raise SiteWatchError(f"{exc} Check the connection to the service or save the layer as GeoTIFF yourself.") from exc
            self._exported.append(path)

    def _cleanup(self) -> None:
        """Remove what this run wrote: its own output folder (never one it did not make) and
        the web captures it saved."""
        out = Path(self.params.output_dir)
        if self._made_output_dir and out.exists():
            shutil.rmtree(out, ignore_errors=True)
        for path in self._exported:
            Path(path).unlink(missing_ok=True)
        self._exported = []

    # main thread -------------------------------------------------------------
    @property
    def was_cancelled(self) -> bool:
        return isinstance(self.exception, Cancelled) or (self.isCanceled() and self.result is None)

    def error_message(self) -> str:
        """The reason a user reads: the core's message, or the exception type and text."""
        exc = self.exception
        if exc is None:
            return "The analysis stopped without saying why." if self.result is None else ""
        return self.message or describe_failure(exc).message

    def finished(self, ok: bool) -> None:  # noqa: D401 (QgsTask API)
        if ok and self.result is not None:
            self.succeeded.emit(self.result)
            return
        if self.was_cancelled:
            self._cleanup()
            self.cancelled_cleanly.emit()
            return
        if self.error_detail:
            QgsMessageLog.logMessage(self.error_detail, LOG_TAG, Qgis.MessageLevel.Critical)
        self.failed.emit(self.error_message())


class SampleSiteTask(_ReportingTask):
    """Generates the sample site into `folder` (or re-opens it there) with its example boxes;
    emits `ready(site, examples_path)` or `failed(message)`; a cancelled generation leaves nothing."""

    ready = pyqtSignal(object, str)
    failed = pyqtSignal(str)

    EXAMPLES_FILE = "examples.geojson"

    def __init__(self, folder: str, size_px: int, seed: int):
        super().__init__("SiteWatch: preparing the sample site", QgsTask.Flag.CanCancel)
        self.folder = Path(folder)
        self.size_px, self.seed = int(size_px), int(seed)
        self.site = None
        self.exception: Optional[BaseException] = None
        self.message = ""
        self.last_message = ""
        self._made_folder = not self.folder.exists()

    def run(self) -> bool:  # noqa: D401 (QgsTask API)
        from .core.errors import InputError
        from .samplesite import generate_sample_site, load_sample_site
        from .samplesite.clouds import CLOUDS_FILE, write_cloud_polygons
        from .samplesite.examples import write_example_boxes

        try:
            try:
                site = load_sample_site(self.folder)
            except InputError:
                self._progress(0.0, f"Generating the sample site ({self.size_px} x {self.size_px} px), once")
                site = generate_sample_site(self.folder, self.size_px, self.seed, Progress(self._progress))
            examples = self.folder / self.EXAMPLES_FILE
            if not examples.exists():
                write_example_boxes(site, examples)
            if not (self.folder / CLOUDS_FILE).exists():  # sites prepared by older versions lack it
                write_cloud_polygons(site, self.folder / CLOUDS_FILE)
            self.site = site
            return True
        except Exception as exc:  # noqa: BLE001 (reported on the main thread)
            self.message = user_message(exc, self.description(), log_folder())
            self.exception = _without_frames(exc)
            if self._made_folder:
                shutil.rmtree(self.folder, ignore_errors=True)
            return False

    def finished(self, ok: bool) -> None:  # noqa: D401 (QgsTask API)
        if ok and self.site is not None:
            self.ready.emit(self.site, str(self.folder / self.EXAMPLES_FILE))
        elif isinstance(self.exception, Cancelled) or self.isCanceled():
            self.failed.emit("Cancelled; the sample site was not kept.")
        else:
            self.failed.emit(f"The sample site could not be prepared: {self.message}")
