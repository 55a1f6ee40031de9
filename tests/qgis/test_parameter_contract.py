"""A setting's default is written once: the Toolbox algorithms, the panel's widgets and the
parameters dataclasses agree, and no module but core/parameters.py writes the literal."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from sitewatch.plugin.core import parameters as p

PLUGIN = Path(__file__).resolve().parents[2] / "plugin"
CONTRACT = PLUGIN / "core" / "parameters.py"

# Toolbox parameter -> (settings class, field); the same names in every algorithm that has it
TOOLBOX_SETTINGS = {
    "SENSITIVITY": (p.ChangeSettings, "sensitivity"),
    "MIN_AREA": (p.ChangeSettings, "min_area_m2"),
    "COREGISTER": (p.ChangeSettings, "coregister"),
    "REQUIRE_COREGISTRATION": (p.ChangeSettings, "require_coregistration"),
    "NATURAL_PRIOR": (p.ChangeSettings, "natural_prior"),
    "NORMALIZE": (p.ChangeSettings, "normalize"),
    "HALF_RESOLUTION": (p.ChangeSettings, "half_resolution"),
    "DROP_SHADOW_MOVES": (p.ChangeSettings, "drop_shadow_moves"),
    "MIN_SCORE": (p.DetectionSettings, "min_score"),
    "MAX_DISTANCE": (p.MatchSettings, "max_distance_m"),
    "STAY_TOLERANCE": (p.MatchSettings, "stay_tolerance_m"),
    "MAX_SHIFT": (p.ChangeParameters, "max_shift_px"),
}
TOOLBOX_CHOICES = {  # enum parameter -> (choice list, default id)
    "METHOD": (p.METHODS, p.DEFAULT_METHOD),
    "ENGINE": (p.ENGINES, p.DEFAULT_ENGINE),
    "EXEMPLARS_CAPTURE": (p.EXEMPLAR_CAPTURES, p.DEFAULT_EXEMPLAR_CAPTURE),
}


def _algorithms():
    from sitewatch.plugin.processing.registry import algorithm_classes

    for cls in algorithm_classes():
        alg = cls()
        alg.initAlgorithm()
        yield alg


def test_toolbox_defaults_and_choices_are_the_dataclasses(qgis_app, qgis_processing):
    seen = set()
    for alg in _algorithms():
        for definition in alg.parameterDefinitions():
            name = definition.name()
            if name in TOOLBOX_SETTINGS:
                cls, field = TOOLBOX_SETTINGS[name]
                assert definition.defaultValue() == getattr(cls, field), f"{alg.name()}: {name}"
                seen.add(name)
            elif name in TOOLBOX_CHOICES:
                choices, default = TOOLBOX_CHOICES[name]
                assert len(definition.options()) == len(choices), f"{alg.name()}: {name}"
                assert definition.defaultValue() == list(choices).index(default), f"{alg.name()}: {name}"
                seen.add(name)
    assert seen == set(TOOLBOX_SETTINGS) | set(TOOLBOX_CHOICES)


def test_analyze_site_has_every_setting_of_the_single_steps(qgis_app, qgis_processing):
    algorithms = {alg.name(): alg for alg in _algorithms()}
    names = {alg: {d.name() for d in algorithms[alg].parameterDefinitions()} for alg in algorithms}
    steps = (names["detectchanges"] | names["detectequipment"] | names["compareequipment"])
    inputs_only = {"INPUT", "CAPTURE", "OUTPUT", "OUTPUT_SCORE", "OUTPUT_MASK", "OUTPUT_REGIONS", "OUTPUT_COUNTS",
                   "CHANGE_REGIONS", "AFTER_DX_M", "AFTER_DY_M"}  # per-step inputs and outputs
    assert steps - inputs_only <= names["analyzesite"]
    for name in steps & names["analyzesite"]:  # same name, same kind and default
        one = next(algorithms[a].parameterDefinition(name) for a in ("detectchanges", "detectequipment",
                                                                      "compareequipment")
                   if algorithms[a].parameterDefinition(name) is not None)
        both = algorithms["analyzesite"].parameterDefinition(name)
        assert (both.type(), both.defaultValue()) == (one.type(), one.defaultValue()), name


def test_panel_widgets_start_at_the_defaults(qgis_app):
    from sitewatch.plugin.gui.options import CHANGE_SWITCHES, ChangeOptionsWidget, EquipmentOptionsWidget

    change, equipment = ChangeOptionsWidget(), EquipmentOptionsWidget()
    assert change.options() == p.ChangeOptions()
    assert equipment.options() == p.EquipmentOptions()
    assert [change.method_combo.itemData(i) for i in range(change.method_combo.count())] == list(p.METHODS)
    assert [equipment.engine_combo.itemData(i) for i in range(equipment.engine_combo.count())] == list(p.ENGINES)
    assert change.sensitivity_label.text() == f"{p.ChangeSettings.sensitivity:.2f}"
    # the Advanced sections: each widget shows its setting's default, and Clear goes back to it
    for name in CHANGE_SWITCHES:
        assert change.switch(name).isChecked() == getattr(p.ChangeSettings, name), name
    for spin, default in ((equipment.min_score_spin, p.DetectionSettings.min_score),
                          (equipment.max_distance_spin, p.MatchSettings.max_distance_m),
                          (equipment.stay_tolerance_spin, p.MatchSettings.stay_tolerance_m),
                          (change.min_area_spin, p.ChangeSettings.min_area_m2)):
        assert (spin.value(), spin.clearValue()) == (default, default), spin.objectName()


def test_every_setting_has_a_panel_widget(qgis_app, tmp_path):
    """Every option the Toolbox has, the panel has: with each widget moved off its default,
    every settings field the panel builds differs from the dataclass's default."""
    from sitewatch.plugin.gui.options import CHANGE_SWITCHES, ChangeOptionsWidget, EquipmentOptionsWidget

    change, equipment = ChangeOptionsWidget(), EquipmentOptionsWidget()
    change.method_combo.setCurrentIndex(change.method_combo.count() - 1)
    change.sensitivity_slider.setValue(change.sensitivity_slider.value() + 10)
    change.min_area_spin.setValue(change.min_area_spin.value() + 10)
    for name in CHANGE_SWITCHES:
        change.switch(name).setChecked(not change.switch(name).isChecked())
    equipment.engine_combo.setCurrentIndex(equipment.engine_combo.findData("model"))
    equipment.model_widget.setFilePath(str(tmp_path / "detector.onnx"))
    equipment.classes_combo.setCheckedItems(["ship"])
    for spin in (equipment.min_score_spin, equipment.max_distance_spin, equipment.stay_tolerance_spin):
        spin.setValue(spin.value() + 0.1)
    chosen = {p.ChangeSettings: change.options(), p.DetectionSettings: equipment.options(),
              p.MatchSettings: equipment.options()}
    for settings, options in chosen.items():
        for name, value in p.settings_of(settings, options).items():
            assert value != getattr(settings(), name), (
                f"{settings.__name__}.{name} has no widget in the panel: add one (for a change switch, "
                f"a {name}_check in ui/change_options.ui's Advanced section and its name in CHANGE_SWITCHES)")


@pytest.mark.parametrize("form", ["change_options", "equipment_options"])
def test_the_option_forms_write_no_defaults(form):
    """The forms hold layouts, labels and bounds; a setting's starting value comes from the
    dataclasses (the top box's own tick, whether the step runs, is not a setting)."""
    import xml.etree.ElementTree as ET

    top = ET.parse(PLUGIN.parent / "ui" / f"{form}.ui").getroot().find("widget")
    written = [f"{widget.get('name')}.{prop.get('name')}" for widget in top.iter("widget") if widget is not top
               for prop in widget.findall("property") if prop.get("name") in ("value", "checked", "currentIndex")]
    assert written == []


# ---------------------------------------------------------------- the literals, written once
# word that names a numeric setting in code (field, Toolbox name lowercased) -> its default
NUMERIC_DEFAULTS = {
    "sensitivity": p.ChangeSettings.sensitivity,
    "min_area": p.ChangeSettings.min_area_m2,
    "min_score": p.DetectionSettings.min_score,
    "max_distance": p.MatchSettings.max_distance_m,
    "stay_tolerance": p.MatchSettings.stay_tolerance_m,
}  # (the co-registration search range is an expert knob: core/change/coregistration.py keeps its own)


def default_literals(source: str) -> list[str]:
    """Statements of `source` that write a setting's default as a literal (a number, or a
    number in a string) beside the setting's name."""
    found = []
    for line in _logical_lines(source):
        text = " ".join(tok.string for tok in line).lower()
        numbers = {float(t.string) for t in line if t.type == tokenize.NUMBER and re.fullmatch(r"[0-9.]+", t.string)}
        numbers |= {float(n) for t in line if t.type == tokenize.STRING for n in re.findall(r"\b\d+\.\d+\b", t.string)}
        found += [f"{word} = {value}: {text[:120]}" for word, value in NUMERIC_DEFAULTS.items()
                  if word in text and float(value) in numbers]
    return found


def _logical_lines(source: str):
    line: list = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if line:
                yield line
            line = []
        elif tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            line.append(tok)


def test_the_check_finds_a_default_written_twice():
    assert default_literals("class A:\n    sensitivity: float = 0.5\n")
    assert default_literals("x = QgsProcessingParameterNumber(self.MIN_SCORE, 'Minimum score',\n    defaultValue=0.3)\n")
    assert default_literals("label = QLabel('0.50', self)  # sensitivity\n") == []  # comments are not code
    assert default_literals("self.sensitivity_label = QLabel('0.50', self)\n")
    assert default_literals("def f(max_distance_m: float = 20.0): ...\n")
    assert default_literals("sensitivity = settings.sensitivity\n") == []


@pytest.mark.parametrize("path", sorted(str(f.relative_to(PLUGIN)) for f in PLUGIN.rglob("*.py")))
def test_defaults_are_written_only_in_the_contract(path):
    if PLUGIN / path == CONTRACT:
        assert default_literals(CONTRACT.read_text(encoding="utf-8"))  # the one place
        return
    assert default_literals((PLUGIN / path).read_text(encoding="utf-8")) == []


def test_pixel_size_is_one_toolbox_only_parameter_of_the_measuring_algorithms(qgis_app, qgis_processing):
    # Toolbox only, like MAX_SHIFT: the panel's captures are map layers, placed on the map
    from qgis.core import QgsProcessingParameterDefinition

    having = {}
    for alg in _algorithms():
        definition = alg.parameterDefinition("PIXEL_SIZE")
        if definition is not None:
            having[alg.name()] = (definition.type(), definition.defaultValue(), definition.minimum(),
                                  bool(definition.flags() & QgsProcessingParameterDefinition.Flag.FlagOptional),
                                  bool(definition.flags() & QgsProcessingParameterDefinition.Flag.FlagAdvanced))
    assert set(having) == {"detectchanges", "coregister", "detectequipment", "analyzesite"}
    assert set(having.values()) == {("number", 0.0, 0.0, True, True)}
    assert "PIXEL_SIZE" not in {f.upper() for cls in (p.ChangeSettings, p.DetectionSettings, p.MatchSettings)
                                for f in cls.__dataclass_fields__}
