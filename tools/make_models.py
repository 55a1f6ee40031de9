"""Write the Graphical Modeler models shipped in resources/models/ (run after changing them here).

    .venv/bin/python tools/make_models.py

The models chain the SiteWatch algorithms by their public ids and parameter names; the
provider lists them in the Toolbox (plugin/processing/models.py) and qgis_process runs them
as sitewatch:<name>.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pkgpath  # noqa: E402

OUT = pkgpath.REPO_ROOT / "resources" / "models"


def _model(name: str, group: str, help_text: str):
    from qgis.core import QgsProcessingModelAlgorithm

    model = QgsProcessingModelAlgorithm(name, group, "sitewatch")
    model.setHelpContent({"ALG_DESC": help_text, "ALG_CREATOR": "SiteWatch"})
    return model


HELP = {
    "before": "The earlier capture (file-based raster, projected CRS).",
    "after": "The later capture of the same site.",
    "aoi": "Polygons of the site: only objects whose centre falls inside are counted. Empty: whole captures.",
    "exemplars": "A few example boxes drawn on the earliest capture; the 'class' field names each one's class.",
    "min_score": "Detections scoring below this (0..1) are dropped.",
    "max_distance": "Objects of compatible classes on two dates within this distance (metres) are the same object.",
    "folder": "Every raster in this folder is a capture of the site; those without a date are left out (logged).",
}


def _input(model, parameter, x: float, y: float) -> None:
    from qgis.core import QgsProcessingModelParameter
    from qgis.PyQt.QtCore import QPointF

    parameter.setHelp(HELP[parameter.name()])
    model.setHelpContent({**model.helpContent(), parameter.name(): HELP[parameter.name()]})
    component = QgsProcessingModelParameter(parameter.name())
    component.setPosition(QPointF(x, y))
    model.addModelParameter(parameter, component)


def _child(model, child_id: str, alg_id: str, description: str, sources: dict, outputs: dict, x: float, y: float):
    """A step: sources maps a parameter to ("model", name) | ("child", id, output) | ("value", value)."""
    from qgis.core import (
        QgsProcessingModelChildAlgorithm, QgsProcessingModelChildParameterSource, QgsProcessingModelOutput,
    )
    from qgis.PyQt.QtCore import QPointF

    child = QgsProcessingModelChildAlgorithm(alg_id)
    child.setChildId(child_id)
    child.setDescription(description)
    child.setPosition(QPointF(x, y))
    for param, source in sources.items():
        if source[0] == "model":
            value = QgsProcessingModelChildParameterSource.fromModelParameter(source[1])
        elif source[0] == "child":
            value = QgsProcessingModelChildParameterSource.fromChildOutput(source[1], source[2])
        else:
            value = QgsProcessingModelChildParameterSource.fromStaticValue(source[1])
        child.addParameterSources(param, [value])
    model_outputs = {}
    for output_name, label in outputs.items():
        out = QgsProcessingModelOutput(label)
        out.setChildOutputName(output_name)
        out.setChildId(child_id)
        out.setPosition(QPointF(x + 180, y + 40 * len(model_outputs)))
        model_outputs[label] = out
        model.setHelpContent({**model.helpContent(), f"{child_id}:{label}": f"{label} ({description.lower()})."})
    child.setModelOutputs(model_outputs)
    model.addChildAlgorithm(child)


def _site_inputs(model, y: float) -> None:
    """The inputs both models share: site polygon, example boxes, minimum score, matching distance."""
    from qgis.core import (
        QgsProcessing, QgsProcessingParameterDistance, QgsProcessingParameterFeatureSource,
        QgsProcessingParameterNumber,
    )

    _input(model, QgsProcessingParameterFeatureSource("aoi", "Site (area of interest)",
                                                      [QgsProcessing.TypeVectorPolygon], optional=True), 80, y)
    _input(model, QgsProcessingParameterFeatureSource("exemplars", "Example boxes (class field)",
                                                      [QgsProcessing.TypeVectorPolygon]), 80, y + 70)
    _input(model, QgsProcessingParameterNumber("min_score", "Minimum score", QgsProcessingParameterNumber.Double,
                                               0.3, False, 0.0, 1.0), 80, y + 140)
    _input(model, QgsProcessingParameterDistance("max_distance", "Maximum distance for a match", 20.0,
                                                 minValue=0.01), 80, y + 210)


def site_analysis_model():
    from qgis.core import QgsProcessingParameterRasterLayer

    model = _model("siteanalysismodel", "Models",
                   "Two captures of a site: the after capture co-registered to the before one, the change between "
                   "them, the equipment on each (exemplar engine) and its comparison across the dates.")
    _input(model, QgsProcessingParameterRasterLayer("before", "Before capture"), 80, 60)
    _input(model, QgsProcessingParameterRasterLayer("after", "After capture"), 80, 130)
    _site_inputs(model, 200)
    _child(model, "coregister", "sitewatch:coregister", "Co-register the after capture",
           {"INPUT": ("model", "after"), "REFERENCE": ("model", "before"), "MAX_SHIFT": ("value", 32),
            "OUTPUT": ("value", "TEMPORARY_OUTPUT")}, {}, 340, 100)
    _child(model, "changes", "sitewatch:detectchanges", "Detect changes",
           {"BEFORE": ("model", "before"), "AFTER": ("child", "coregister", "OUTPUT"), "AOI": ("model", "aoi"),
            "COREGISTER": ("value", False)},
           {"OUTPUT_SCORE": "Change score", "OUTPUT_REGIONS": "Change regions"}, 600, 60)
    for key, raster, y in (("before", ("model", "before"), 220), ("after", ("child", "coregister", "OUTPUT"), 320)):
        _child(model, f"equipment_{key}", "sitewatch:detectequipment", f"Equipment {key}",
               {"INPUT": raster, "AOI": ("model", "aoi"), "ENGINE": ("value", 0),
                "EXEMPLARS": ("model", "exemplars"), "MIN_SCORE": ("model", "min_score"),
                "CAPTURE": ("value", key), "OUTPUT": ("value", "TEMPORARY_OUTPUT")}, {}, 600, y)
    _child(model, "compare", "sitewatch:compareequipment", "Compare equipment across the dates",
           {"BEFORE": ("child", "equipment_before", "OUTPUT"), "AFTER": ("child", "equipment_after", "OUTPUT"),
            "CHANGE_REGIONS": ("child", "changes", "OUTPUT_REGIONS"), "MAX_DISTANCE": ("model", "max_distance")},
           {"OUTPUT": "Equipment events", "OUTPUT_COUNTS": "Counts per class"}, 860, 270)
    return model


def timeline_model():
    from qgis.core import QgsProcessingParameterFile

    model = _model("sitetimelinemodel", "Models",
                   "Every capture in a folder: equipment per capture (exemplar engine), matched between consecutive "
                   "dates, counts per class per date, events, and the timeline chart (PNG and offline HTML).")
    _input(model, QgsProcessingParameterFile("folder", "Folder of captures", QgsProcessingParameterFile.Folder), 80, 60)
    _site_inputs(model, 130)
    _child(model, "timeline", "sitewatch:sitetimeline", "Site timeline",
           {"FOLDER": ("model", "folder"), "AOI": ("model", "aoi"), "ENGINE": ("value", 0),
            "EXEMPLARS": ("model", "exemplars"), "MIN_SCORE": ("model", "min_score"),
            "MAX_DISTANCE": ("model", "max_distance")},
           {"OUTPUT_COUNTS": "Counts per date", "OUTPUT_EVENTS": "Events between dates", "OUTPUT_CHART": "Chart",
            "OUTPUT_HTML": "Interactive chart"}, 360, 180)
    return model


def main() -> int:
    from render_demo import qgis_application

    qgis_application()
    OUT.mkdir(parents=True, exist_ok=True)
    for model in (site_analysis_model(), timeline_model()):
        path = OUT / f"{model.name()}.model3"
        if not model.toFile(str(path)):
            print(f"cannot write {path}", file=sys.stderr)
            return 1
        print(f"wrote {path.relative_to(pkgpath.REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
