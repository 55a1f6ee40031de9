"""Options of the two analysis steps: change detection and equipment counting (ui/*_options.ui)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsCollapsibleGroupBox
from qgis.PyQt.QtCore import pyqtSignal

from ..core.parameters import (
    ENGINES,
    EXEMPLAR_CAPTURES,
    METHODS,
    ChangeOptions,
    ChangeSettings,
    DetectionSettings,
    EquipmentOptions,
    MatchSettings,
)
from ..store.models import LEARNED_MODEL
from .forms import load_form

DETECTOR_CLASSES = ("aircraft", "helicopter", "vehicle", "ship")
# the change settings switched in the Advanced section, one a line: a new one is its name
# here and a checkbox named <field>_check in ui/change_options.ui
CHANGE_SWITCHES = (
    "coregister",
    "require_coregistration",
    "normalize",
    "half_resolution",
    "natural_prior",
    "drop_shadow_moves",
)


class ChangeOptionsWidget(QgsCollapsibleGroupBox):
    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        load_form("change_options", self)
        for method_id, label in METHODS.items():
            self.method_combo.addItem(label, method_id)
        self.sensitivity_slider.setValue(round(ChangeSettings.sensitivity * 100))
        self.sensitivity_label.setText(f"{ChangeSettings.sensitivity:.2f}")
        self.min_area_spin.setValue(ChangeSettings.min_area_m2)
        self.min_area_spin.setClearValue(ChangeSettings.min_area_m2)
        for name in CHANGE_SWITCHES:
            self.switch(name).setChecked(getattr(ChangeSettings, name))
            self.switch(name).toggled.connect(lambda _c: self.changed.emit())
        self.toggled.connect(lambda _c: self.changed.emit())
        self.method_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.sensitivity_slider.valueChanged.connect(self._on_slider)
        self.min_area_spin.valueChanged.connect(lambda _v: self.changed.emit())

    def switch(self, name: str):
        """The Advanced section's checkbox of the change setting `name`."""
        return getattr(self, f"{name}_check")

    def _on_slider(self, value: int) -> None:
        self.sensitivity_label.setText(f"{value / 100:.2f}")
        self.changed.emit()

    @property
    def sensitivity(self) -> float:
        return self.sensitivity_slider.value() / 100.0

    def options(self) -> ChangeOptions:
        """The change step as chosen."""
        return ChangeOptions(
            enabled=self.isChecked(),
            method=self.method_combo.currentData(),
            sensitivity=self.sensitivity,
            min_area_m2=float(self.min_area_spin.value()),
            **{name: self.switch(name).isChecked() for name in CHANGE_SWITCHES},
        )


SCORE_TIP = "Detections less confident than this are dropped (0 keeps everything, 1 keeps almost nothing)."


class EquipmentOptionsWidget(QgsCollapsibleGroupBox):
    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        load_form("equipment_options", self)
        for engine_id, label in ENGINES.items():
            self.engine_combo.addItem(label, engine_id)
        self.exemplar_combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        for capture_id, label in EXEMPLAR_CAPTURES.items():
            self.drawn_on_combo.addItem(label, capture_id)
        self.set_classes(list(DETECTOR_CLASSES))
        self.min_score_spin.setValue(DetectionSettings.min_score)
        self.min_score_spin.setClearValue(DetectionSettings.min_score)
        for spin, default in ((self.max_distance_spin, MatchSettings.max_distance_m),
                              (self.stay_tolerance_spin, MatchSettings.stay_tolerance_m)):
            spin.setValue(default)
            spin.setClearValue(default)
        self.learned_model: Optional[Path] = None
        # each engine keeps its own minimum score: a model starts from its own threshold, the
        # Exemplar engine from the default (0.5 on the sample site), and switching engines keeps both
        self._scores: dict[str, float] = {}
        self._score_models: dict[str, Optional[str]] = {}
        self._score_tips: dict[str, str] = {}
        self._shown_engine: Optional[str] = None
        self.changed.connect(self._show_problems)  # what keeps Run off, said beside these options
        self.set_learned_model(None, None)
        self.toggled.connect(lambda _c: self.changed.emit())
        self.engine_combo.currentIndexChanged.connect(self._engine_changed)
        self.model_widget.fileChanged.connect(self._model_changed)
        self.exemplar_combo.layerChanged.connect(lambda _l: self.changed.emit())
        self.drawn_on_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.classes_combo.checkedItemsChanged.connect(lambda _i: self.changed.emit())
        self.min_score_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.max_distance_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.stay_tolerance_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self._engine_changed()

    @property
    def engine(self) -> str:
        return self.engine_combo.currentData()

    def set_classes(self, names: list[str]) -> None:
        checked = set(self.classes_combo.checkedItems())
        self.classes_combo.clear()
        self.classes_combo.addItems(names)
        self.classes_combo.setCheckedItems([n for n in names if n in checked])

    def set_learned_model(self, path: Optional[Path], site_name: Optional[str]) -> None:
        """Offer the Learned engine only when the site has its trained model at `path`;
        otherwise grey it out and say in one line how to get one."""
        self.learned_model = path if path is not None and Path(path).is_file() else None
        index = self.engine_combo.findData("learned")
        item = self.engine_combo.model().item(index)
        if self.learned_model is not None:
            hint = ""
            item.setToolTip(f"Runs the detector trained for this site: {self.learned_model}")
        elif site_name is None:
            hint = "Learned engine: choose a site first; it runs the detector trained for that site."
        else:
            hint = (f"Learned engine: no model for “{site_name}” yet; train one with "
                    f"sitewatch:trainequipmentdetector into the site's {LEARNED_MODEL.as_posix()}.")
        item.setEnabled(self.learned_model is not None)
        self._model_score("learned", self.learned_model)
        tip = hint + (f"\nThat is: {path}" if path is not None and self.learned_model is None else "")
        if hint:
            item.setToolTip(tip)
        self.engine_hint_label.setText(hint)
        self.engine_hint_label.setToolTip(tip)
        self.engine_hint_label.setVisible(bool(hint))
        if self.engine == "learned" and self.learned_model is None:
            self.engine_combo.setCurrentIndex(self.engine_combo.findData("exemplar"))
        else:
            self.changed.emit()

    def _engine_changed(self, *_args) -> None:
        engine = self.engine
        if self._shown_engine is not None:
            self._scores[self._shown_engine] = float(self.min_score_spin.value())
        self._shown_engine = engine
        if engine in self._scores:
            self.min_score_spin.setValue(self._scores[engine])
        self._show_score_tip(engine)
        self.model_widget.setVisible(engine == "model")
        self.model_label.setVisible(engine == "model")
        self.exemplar_combo.setVisible(engine == "exemplar")
        self.exemplar_label.setVisible(engine == "exemplar")
        self.drawn_on_combo.setVisible(engine == "exemplar")
        self.drawn_on_label.setVisible(engine == "exemplar")
        self.model_info_label.setVisible(engine == "model")
        if engine != "model":
            self.set_classes(list(DETECTOR_CLASSES))
        else:
            self._model_changed(self.model_widget.filePath())
        self.changed.emit()

    def _model_changed(self, path: str) -> None:
        summary, reason = None, "Choose a model file."
        if path:
            try:
                from ..core.equipment.onnx_model import model_summary

                summary = model_summary(path)
            except Exception as exc:  # noqa: BLE001 (the reason is shown under the file)
                reason = f"This model cannot be used: {exc}"
        if summary is None:
            self.model_info_label.setText(reason)
        else:
            names = list(getattr(summary, "class_names", []) or [])
            gsd = getattr(summary, "gsd_m", None)
            device = getattr(summary, "device", "CPU")
            providers = ", ".join(getattr(summary, "providers", []) or [])
            trained = f"trained at {gsd:.2f} m/pixel; " if gsd else ""
            self.model_info_label.setText(f"{len(names)} classes; {trained}runs on {device} ({providers or 'CPU'})")
            if names:
                self.set_classes(names)
        self._model_score("model", Path(path) if summary is not None else None, summary)
        self.changed.emit()

    def _model_score(self, engine: str, model: Optional[Path], summary=None) -> None:
        """A model newly chosen for `engine` sets that engine's minimum score to the model's own
        threshold (its det_conf: nothing under it is kept anyway); the same model file again keeps
        the analyst's value, a retrained one brings its own threshold."""
        try:
            key = f"{model}@{model.stat().st_mtime_ns}" if model is not None else None
        except OSError:
            key = None
        if self._score_models.get(engine, "") == key:
            return
        self._score_models[engine] = key
        if key and summary is None:  # the Learned engine's model is read here; the Model engine's was already
            summary = model_summary_or_none(str(model))
        threshold = getattr(summary, "det_conf", None)
        if threshold is None:
            self._scores.pop(engine, None)
            self._score_tips.pop(engine, None)
            return
        self._scores[engine] = round(float(threshold), 3)
        self._score_tips[engine] = f"The model {model.name} keeps nothing under its own threshold, {threshold:.3g}."
        if self._shown_engine == engine:
            self.min_score_spin.setValue(self._scores[engine])
            self._show_score_tip(engine)

    def _show_score_tip(self, engine: str) -> None:
        tip = self._score_tips.get(engine)
        self.min_score_spin.setToolTip(SCORE_TIP + (f" {tip}" if tip else ""))

    def _model_path(self) -> Optional[str]:
        if self.engine == "model":
            return self.model_widget.filePath() or None
        if self.engine == "learned" and self.learned_model is not None:
            return str(self.learned_model)
        return None

    def use_examples(self, layer) -> None:
        """Count equipment with the Exemplar engine, learning from the boxes of `layer`."""
        self.setChecked(True)
        self.engine_combo.setCurrentIndex(self.engine_combo.findData("exemplar"))
        self.exemplar_combo.setLayer(layer)

    def _show_problems(self) -> None:
        text = "\n".join(self.problems())
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))

    def problems(self) -> list[str]:
        if not self.isChecked():
            return []
        if self.engine == "learned" and self.learned_model is None:
            return ["This site has no trained model for the Learned engine: pick another engine."]
        if self.engine == "model" and not self.model_widget.filePath():
            return ["Choose the ONNX model file for equipment detection (or pick another engine)."]
        if self.engine == "exemplar" and self.exemplar_combo.currentLayer() is None:
            return ["Choose the layer of example boxes for the Exemplar engine (or untick Equipment counts)."]
        return []

    def options(self, exemplars_path: Optional[str] = None, exemplars_layer: Optional[str] = None) -> EquipmentOptions:
        """The equipment step as chosen."""
        classes = self.classes_combo.checkedItems()
        return EquipmentOptions(
            enabled=self.isChecked(),
            engine=self.engine,
            model_path=self._model_path(),
            exemplars_path=exemplars_path if self.engine == "exemplar" else None,
            exemplars_layer=exemplars_layer if self.engine == "exemplar" else None,
            exemplars_capture=self.drawn_on_combo.currentData(),
            classes=list(classes) or None,
            min_score=float(self.min_score_spin.value()),
            max_distance_m=float(self.max_distance_spin.value()),
            stay_tolerance_m=float(self.stay_tolerance_spin.value()),
        )


def model_summary_or_none(path: str):
    if not path:
        return None
    try:
        from ..core.equipment.onnx_model import model_summary

        return model_summary(path)
    except Exception:  # noqa: BLE001 (shown as "cannot be read")
        return None
