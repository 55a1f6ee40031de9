"""The detection-engine parameters the equipment algorithms share (same names, choices and checks)."""
from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)

ENGINES = ["exemplar", "learned", "model"]
ENGINE, MODEL, EXEMPLARS, MIN_SCORE = "ENGINE", "MODEL", "EXEMPLARS", "MIN_SCORE"


def engine_parameters(exemplars_help: str) -> list[tuple]:
    """(parameter, help) of ENGINE, MODEL, EXEMPLARS and MIN_SCORE."""
    return [
        (QgsProcessingParameterEnum(ENGINE, "Engine", options=ENGINES, defaultValue=0),
         "exemplar: match boxes you drew; learned: the site's trained detector; model: an ONNX file."),
        (QgsProcessingParameterFile(MODEL, "ONNX model (engine 'model')", extension="onnx", optional=True),
         "The detector model file used by the 'model' engine."),
        (QgsProcessingParameterFeatureSource(EXEMPLARS, "Exemplars (engine 'exemplar')",
                                             [QgsProcessing.TypeVectorPolygon], optional=True), exemplars_help),
        (QgsProcessingParameterNumber(MIN_SCORE, "Minimum score", QgsProcessingParameterNumber.Double,
                                      defaultValue=0.3, minValue=0.0, maxValue=1.0),
         "Detections scoring below this (0..1) are dropped."),
    ]


def check_engine(alg, parameters: dict, context) -> tuple[bool, str]:
    """The model engine needs MODEL, the exemplar engine EXEMPLARS."""
    engine = ENGINES[alg.parameterAsEnum(parameters, ENGINE, context)]
    if engine == "model" and not alg.parameterAsFile(parameters, MODEL, context):
        return False, "The 'model' engine needs an ONNX model file (MODEL)."
    if engine == "exemplar" and parameters.get(EXEMPLARS) in (None, ""):
        return False, "The 'exemplar' engine needs a layer of example boxes (EXEMPLARS)."
    return True, ""
