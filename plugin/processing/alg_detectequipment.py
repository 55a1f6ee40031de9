"""Processing algorithm sitewatch:detectequipment: equipment boxes on one capture."""
from __future__ import annotations

from qgis.core import (
    QgsFeatureSink,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsWkbTypes,
)

from ..core.equipment.api import DetectionParameters, detect_equipment
from ..core.errors import SiteWatchError
from ..core.polygons import area_less_left_out
from ..core.progress import Progress
from ..layers.postprocess import style_output_on_completion
from ..qgisio.detections import detection_fields, detection_to_feature, features_to_detections
from ..qgisio.vectors import aoi_wkt_in_crs

ENGINES = ["exemplar", "learned", "model"]


class DetectEquipmentAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    AOI = "AOI"
    LEAVE_OUT = "LEAVE_OUT"
    ENGINE = "ENGINE"
    MODEL = "MODEL"
    EXEMPLARS = "EXEMPLARS"
    MIN_SCORE = "MIN_SCORE"
    CAPTURE = "CAPTURE"
    OUTPUT = "OUTPUT"

    def name(self) -> str:
        return "detectequipment"

    def displayName(self) -> str:  # noqa: N802
        return "Detect equipment"

    def group(self) -> str:
        return "Equipment"

    def groupId(self) -> str:  # noqa: N802
        return "equipment"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Finds aircraft, helicopters, vehicles or ships on one capture and writes one oriented box per "
                "object with its class, score, size in metres and heading.\n"
                "Engines: 'exemplar' finds objects like a few boxes you draw (EXEMPLARS, a polygon layer with a "
                "'class' field), at any heading, without training; 'learned' uses the detector trained for the "
                "site; 'model' runs an ONNX model file you give (MODEL).")

    def createInstance(self) -> "DetectEquipmentAlgorithm":  # noqa: N802
        return DetectEquipmentAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        params = [
            (QgsProcessingParameterRasterLayer(self.INPUT, "Capture raster"),
             "The satellite image to search (a file-based raster in a projected CRS)."),
            (QgsProcessingParameterFeatureSource(self.AOI, "Area of interest", [QgsProcessing.TypeVectorPolygon],
                                                 optional=True),
             "Only objects whose centre falls inside these polygons are reported. Empty: the whole raster."),
            (QgsProcessingParameterFeatureSource(self.LEAVE_OUT, "Areas to leave out", [QgsProcessing.TypeVectorPolygon],
                                                 optional=True),
             "Optional polygons over clouds, haze or anything not to judge: no object whose centre falls "
             "inside them is reported."),
            (QgsProcessingParameterEnum(self.ENGINE, "Engine", options=ENGINES, defaultValue=0),
             "exemplar: match boxes you drew; learned: the site's trained detector; model: an ONNX file."),
            (QgsProcessingParameterFile(self.MODEL, "ONNX model (engine 'model')", extension="onnx", optional=True),
             "The detector model file used by the 'model' engine."),
            (QgsProcessingParameterFeatureSource(self.EXEMPLARS, "Exemplars (engine 'exemplar')",
                                                 [QgsProcessing.TypeVectorPolygon], optional=True),
             "One box per example object drawn on this raster; the 'class' field names its class."),
            (QgsProcessingParameterNumber(self.MIN_SCORE, "Minimum score", QgsProcessingParameterNumber.Double,
                                          defaultValue=0.3, minValue=0.0, maxValue=1.0),
             "Detections scoring below this (0..1) are dropped."),
        ]
        capture = QgsProcessingParameterString(self.CAPTURE, "Capture label", defaultValue="", optional=True)
        capture.setFlags(capture.flags() | QgsProcessingParameterString.FlagAdvanced)
        params.append((capture, "Text stored in the 'capture' field of every detection (e.g. the date)."))
        params.append((QgsProcessingParameterFeatureSink(self.OUTPUT, "Detections", QgsProcessing.TypeVectorPolygon),
                       "Oriented boxes with class, score, engine, length_m, width_m, heading_deg, capture."))
        for param, help_text in params:
            param.setHelp(help_text)
            self.addParameter(param)

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        engine = ENGINES[self.parameterAsEnum(parameters, self.ENGINE, context)]
        if engine == "model" and not self.parameterAsFile(parameters, self.MODEL, context):
            return False, "The 'model' engine needs an ONNX model file (MODEL)."
        if engine == "exemplar" and parameters.get(self.EXEMPLARS) in (None, ""):
            return False, "The 'exemplar' engine needs a layer of example boxes (EXEMPLARS)."
        return True, ""

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(3, feedback)
        raster = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if raster is None or raster.providerType() != "gdal":
            raise QgsProcessingException("The capture must be a file-based raster layer.")
        crs = raster.crs()
        engine = ENGINES[self.parameterAsEnum(parameters, self.ENGINE, context)]
        aoi_source = self.parameterAsSource(parameters, self.AOI, context)
        left_out_source = self.parameterAsSource(parameters, self.LEAVE_OUT, context)
        ex_source = self.parameterAsSource(parameters, self.EXEMPLARS, context)
        try:
            aoi_wkt = aoi_wkt_in_crs(aoi_source, crs, context.project()) if aoi_source is not None else None
            left_out = aoi_wkt_in_crs(left_out_source, crs, context.project()) if left_out_source is not None else None
            if left_out:
                aoi_wkt = area_less_left_out(aoi_wkt, left_out, raster.source())
            params = DetectionParameters(
                raster=raster.source(),
                engine=engine,
                model_path=self.parameterAsFile(parameters, self.MODEL, context) or None,
                exemplars=features_to_detections(ex_source, crs, project=context.project())
                if ex_source is not None else None,
                aoi_wkt=aoi_wkt,
                min_score=self.parameterAsDouble(parameters, self.MIN_SCORE, context),
                capture=self.parameterAsString(parameters, self.CAPTURE, context) or "",
            )
            steps.setCurrentStep(1)
            if steps.isCanceled():
                return {}
            progress = Progress(lambda f, msg: (steps.setProgress(100.0 * f), not steps.isCanceled())[1])
            result = detect_equipment(params, progress)
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(2)
        if steps.isCanceled():
            return {}
        fields = detection_fields()
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Polygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for det in result.detections:
            sink.addFeature(detection_to_feature(det, fields), QgsFeatureSink.FastInsert)
        feedback.pushInfo(f"{len(result.detections)} object(s) found by the {engine} engine in "
                          f"{result.seconds:.1f} s ({result.megapixels:.1f} MP).")
        style_output_on_completion(context, dest_id, "detections_plain.qml")
        steps.setCurrentStep(3)
        return {self.OUTPUT: dest_id}
