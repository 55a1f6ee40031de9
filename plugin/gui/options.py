"""Options of the two analysis steps: change detection and equipment counting."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsMapLayerProxyModel
from qgis.gui import QgsCheckableComboBox, QgsCollapsibleGroupBox, QgsDoubleSpinBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider

from ..core.parameters import (
    ENGINES,
    EXEMPLAR_CAPTURES,
    METHODS,
    ChangeOptions,
    ChangeSettings,
    DetectionSettings,
    EquipmentOptions,
)

DETECTOR_CLASSES = ("aircraft", "helicopter", "vehicle", "ship")


class ChangeOptionsWidget(QgsCollapsibleGroupBox):
    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__("Change detection", parent)
        self.setCheckable(True)
        self.setChecked(True)
        self.setToolTip("Find where the ground changed between the two dates (untick to skip this step).")
        form = QFormLayout(self)
        self.method_combo = QComboBox(self)
        for method_id, label in METHODS.items():
            self.method_combo.addItem(label, method_id)
        _shrinkable(self.method_combo)
        self.method_combo.setToolTip("How the two images are compared. The first method is the recommended default.")
        form.addRow("Method", self.method_combo)

        row = QHBoxLayout()
        self.sensitivity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.sensitivity_slider.setRange(0, 100)
        self.sensitivity_slider.setValue(round(ChangeSettings.sensitivity * 100))
        self.sensitivity_slider.setToolTip(
            "Higher finds fainter changes (and more false alarms); lower keeps only strong changes. "
            "It also sets the threshold below which the change-score layer stays transparent."
        )
        self.sensitivity_label = QLabel(f"{ChangeSettings.sensitivity:.2f}", self)
        self.sensitivity_label.setToolTip(self.sensitivity_slider.toolTip())
        row.addWidget(self.sensitivity_slider, 1)
        row.addWidget(self.sensitivity_label)
        form.addRow("Sensitivity", row)

        self.min_area_spin = QgsDoubleSpinBox(self)
        self.min_area_spin.setRange(0.0, 1e7)
        self.min_area_spin.setDecimals(0)
        self.min_area_spin.setSingleStep(10.0)
        self.min_area_spin.setValue(ChangeSettings.min_area_m2)
        self.min_area_spin.setClearValue(ChangeSettings.min_area_m2)
        self.min_area_spin.setSuffix(" m²")
        self.min_area_spin.setToolTip("Changed areas smaller than this (on the ground) are ignored. A car is about 10 m², a fighter 250 m².")
        form.addRow("Minimum area", self.min_area_spin)

        self.toggled.connect(lambda _c: self.changed.emit())
        self.method_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.sensitivity_slider.valueChanged.connect(self._on_slider)
        self.min_area_spin.valueChanged.connect(lambda _v: self.changed.emit())

    def _on_slider(self, value: int) -> None:
        self.sensitivity_label.setText(f"{value / 100:.2f}")
        self.changed.emit()

    @property
    def sensitivity(self) -> float:
        return self.sensitivity_slider.value() / 100.0

    def options(self) -> ChangeOptions:
        """The change step as chosen; the settings the panel does not show keep their defaults."""
        return ChangeOptions(
            enabled=self.isChecked(),
            method=self.method_combo.currentData(),
            sensitivity=self.sensitivity,
            min_area_m2=float(self.min_area_spin.value()),
        )


class EquipmentOptionsWidget(QgsCollapsibleGroupBox):
    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__("Equipment counts", parent)
        self.setCheckable(True)
        self.setChecked(True)
        self.setToolTip("Detect aircraft, helicopters, vehicles and ships on each date, count them and match them across dates.")
        form = QFormLayout(self)
        self.engine_combo = QComboBox(self)
        for engine_id, label in ENGINES.items():
            self.engine_combo.addItem(label, engine_id)
        _shrinkable(self.engine_combo)
        self.engine_combo.setToolTip(
            "Exemplar: finds objects that look like a few boxes you drew on one capture (no training).\n"
            "Learned: the detector trained with SiteWatch's Toolbox algorithm.\n"
            "ONNX model file: a detection model you trained or received."
        )
        form.addRow("Engine", self.engine_combo)

        self.model_widget = QgsFileWidget(self)
        self.model_widget.setFilter("ONNX models (*.onnx)")
        self.model_widget.setDialogTitle("Choose a detection model")
        self.model_widget.setToolTip("The .onnx detection model to run (its classes and ground resolution are read from the file).")
        self.model_label = QLabel("Model file", self)
        form.addRow(self.model_label, self.model_widget)

        self.exemplar_combo = QgsMapLayerComboBox(self)
        self.exemplar_combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        self.exemplar_combo.setAllowEmptyLayer(True)
        _shrinkable(self.exemplar_combo)
        self.exemplar_combo.setToolTip(
            "A polygon layer with a few boxes drawn around example objects on one of the two captures, "
            "with a text field `class` (aircraft, helicopter, vehicle or ship)."
        )
        self.exemplar_label = QLabel("Examples layer", self)
        form.addRow(self.exemplar_label, self.exemplar_combo)
        self.drawn_on_combo = QComboBox(self)
        for capture_id, label in EXEMPLAR_CAPTURES.items():
            self.drawn_on_combo.addItem(label, capture_id)
        self.drawn_on_combo.setToolTip(
            "The capture the example boxes were drawn on: their look is taken from it. On the other "
            "date, an example whose object is still in place is looked at again there."
        )
        self.drawn_on_label = QLabel("Drawn on", self)
        form.addRow(self.drawn_on_label, self.drawn_on_combo)

        self.classes_combo = QgsCheckableComboBox(self)
        self.classes_combo.setDefaultText("All classes")
        self.classes_combo.setToolTip("Only count these classes (none ticked = all classes the engine knows).")
        form.addRow("Classes", self.classes_combo)
        self.set_classes(list(DETECTOR_CLASSES))

        self.min_score_spin = QgsDoubleSpinBox(self)
        self.min_score_spin.setRange(0.0, 1.0)
        self.min_score_spin.setSingleStep(0.05)
        self.min_score_spin.setDecimals(2)
        self.min_score_spin.setValue(DetectionSettings.min_score)
        self.min_score_spin.setClearValue(DetectionSettings.min_score)
        self.min_score_spin.setToolTip("Detections less confident than this are dropped (0 keeps everything, 1 keeps almost nothing).")
        form.addRow("Minimum score", self.min_score_spin)

        self.model_info_label = QLabel(self)
        self.model_info_label.setWordWrap(True)
        self.model_info_label.setToolTip("What the chosen model file says about itself.")
        form.addRow(self.model_info_label)

        self.toggled.connect(lambda _c: self.changed.emit())
        self.engine_combo.currentIndexChanged.connect(self._engine_changed)
        self.model_widget.fileChanged.connect(self._model_changed)
        self.exemplar_combo.layerChanged.connect(lambda _l: self.changed.emit())
        self.drawn_on_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.classes_combo.checkedItemsChanged.connect(lambda _i: self.changed.emit())
        self.min_score_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self._engine_changed()

    @property
    def engine(self) -> str:
        return self.engine_combo.currentData()

    def set_classes(self, names: list[str]) -> None:
        checked = set(self.classes_combo.checkedItems())
        self.classes_combo.clear()
        self.classes_combo.addItems(names)
        self.classes_combo.setCheckedItems([n for n in names if n in checked])

    def _engine_changed(self, *_args) -> None:
        engine = self.engine
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
        self.changed.emit()

    def use_examples(self, layer) -> None:
        """Count equipment with the Exemplar engine, learning from the boxes of `layer`."""
        self.setChecked(True)
        self.engine_combo.setCurrentIndex(self.engine_combo.findData("exemplar"))
        self.exemplar_combo.setLayer(layer)

    def problems(self) -> list[str]:
        if not self.isChecked():
            return []
        if self.engine == "model" and not self.model_widget.filePath():
            return ["Choose the ONNX model file for equipment detection (or pick another engine)."]
        if self.engine == "exemplar" and self.exemplar_combo.currentLayer() is None:
            return ["Choose the layer of example boxes for the Exemplar engine (or untick Equipment counts)."]
        return []

    def options(self, exemplars_path: Optional[str] = None, exemplars_layer: Optional[str] = None) -> EquipmentOptions:
        """The equipment step as chosen; the settings the panel does not show keep their defaults."""
        classes = self.classes_combo.checkedItems()
        return EquipmentOptions(
            enabled=self.isChecked(),
            engine=self.engine,
            model_path=(self.model_widget.filePath() or None) if self.engine == "model" else None,
            exemplars_path=exemplars_path if self.engine == "exemplar" else None,
            exemplars_layer=exemplars_layer if self.engine == "exemplar" else None,
            exemplars_capture=self.drawn_on_combo.currentData(),
            classes=list(classes) or None,
            min_score=float(self.min_score_spin.value()),
        )


def _shrinkable(combo: QComboBox) -> None:
    """Let a combo with long item texts narrow with the panel (the full text is in its popup)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(10)


def model_summary_or_none(path: str):
    if not path:
        return None
    try:
        from ..core.equipment.onnx_model import model_summary

        return model_summary(path)
    except Exception:  # noqa: BLE001 (shown as "cannot be read")
        return None
