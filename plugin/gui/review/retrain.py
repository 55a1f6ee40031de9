"""'Retrain from my reviews': train the learned engine on the site's reviewed objects in a QgsTask,
keep the model in the site workspace (store.models.learned_model_path) and offer to detect again."""
from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Optional

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QPushButton

from ...core.errors import SiteWatchError
from ...core.progress import Progress
from ...store.models import learned_model_path
from ...store.review import ReviewStore
from ...store.review_training import reviewed_examples

MESSAGE_TITLE = "SiteWatch review"
TIME_BUDGET_MIN = 5.0  # training stops after this; the best model so far is kept


class RetrainTask(QgsTask):
    """run() (worker thread) trains and writes the model under a temporary name, then renames it."""

    succeeded = pyqtSignal(str)  # model path
    failed = pyqtSignal(str)

    def __init__(self, workspace_path: str, time_budget_min: float = TIME_BUDGET_MIN):
        super().__init__("SiteWatch: retrain from reviews", QgsTask.Flag.CanCancel)
        self.workspace_path = workspace_path
        self.time_budget_min = time_budget_min
        self.model_path = str(learned_model_path(workspace_path))
        self.result = None
        self.error = ""

    def _progress(self, fraction: float, _message: str = "") -> bool:
        self.setProgress(max(0.0, min(100.0, 100.0 * float(fraction))))
        return not self.isCanceled()

    def run(self) -> bool:  # noqa: D401 (QgsTask API)
        from osgeo import gdal

        from ...core.equipment.learned.train import TrainingParameters, train_detector

        target = Path(self.model_path)
        partial = target.with_name(target.stem + ".partial.onnx")
        try:
            examples = reviewed_examples(ReviewStore(self.workspace_path))
            if not examples:
                raise SiteWatchError("No reviewed object to learn from: accept, relabel or add objects first.")
            ds = gdal.Open(examples[0][0])
            gsd = abs(ds.GetGeoTransform()[1]) if ds is not None else 1.0
            target.parent.mkdir(parents=True, exist_ok=True)
            self.result = train_detector(TrainingParameters(
                output_model=str(partial), examples=examples, time_budget_min=self.time_budget_min,
                gsd_m=max(gsd, 0.3)), Progress(self._progress))
            os.replace(partial, target)
            self.result.model_path = str(target)
            return True
        except Exception as exc:  # reported on the main thread by finished()
            self.error = str(exc) if isinstance(exc, SiteWatchError) else f"{exc}\n{traceback.format_exc()}"
            partial.unlink(missing_ok=True)
            return False

    def finished(self, ok: bool) -> None:  # noqa: D401 (QgsTask API, main thread)
        if ok:
            self.succeeded.emit(self.model_path)
        elif self.isCanceled():
            self.failed.emit("Retraining cancelled; the site's previous model (if any) is unchanged.")
        else:
            QgsMessageLog.logMessage(self.error, "SiteWatch", Qgis.MessageLevel.Critical)
            self.failed.emit(self.error.splitlines()[0] if self.error else "Retraining failed.")


def start_retraining(iface, panel, dock=None) -> Optional[RetrainTask]:
    """Start the task; on success say where the model is and offer to detect again with it."""
    task = RetrainTask(panel.session.store.path)
    panel.ui.messageLabel.setText("Retraining from your reviews in the background…")

    def done(model_path: str) -> None:
        text = f"Model trained on your reviews: {model_path}."
        panel.ui.messageLabel.setText(text)
        bar = iface.messageBar()
        item = bar.createMessage(MESSAGE_TITLE, text + " Detect again with it?")
        if dock is not None:
            button = QPushButton("Re-detect", item)
            button.clicked.connect(lambda: redetect(dock, model_path))
            item.layout().addWidget(button)
        bar.pushWidget(item, Qgis.MessageLevel.Success, 0)

    def failed(message: str) -> None:
        panel.ui.messageLabel.setText(f"Retraining: {message}")
        iface.messageBar().pushMessage(MESSAGE_TITLE, message, Qgis.MessageLevel.Warning, 10)

    task.succeeded.connect(done)
    task.failed.connect(failed)
    QgsApplication.taskManager().addTask(task)
    panel._retrain_task = task  # kept alive while it runs
    return task


def redetect(dock, model_path: str) -> None:
    """Run the panel's analysis again with the site's trained model."""
    options = dock.equipment_options
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("model"))
    options.model_widget.setFilePath(model_path)
    dock.run_analysis()
