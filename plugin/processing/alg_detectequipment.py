"""Processing algorithm sitewatch:detectequipment: equipment boxes on one capture."""
from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
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

from ..core.equipment.api import detect_equipment
from ..core.errors import SiteWatchError
from ..core.parameters import DEFAULT_ENGINE, ENGINES, DetectionParameters, DetectionSettings
from ..layers.postprocess import style_output_on_completion
from ..qgisio.detections import detection_fields, detection_to_feature, features_to_detections
from .common import (ADVANCED, add_parameters, area_less_left_out, area_to_analyse, choice_id, choice_index,
                     feedback_progress, pixel_size, pixel_size_entry, tr)
from .guard import guarded


def detection_parameter_entries(alg: QgsProcessingAlgorithm) -> list[tuple]:
    """The detection settings and the example boxes as parameters (with their help), under the
    names detectequipment gives them; sitewatch:analyzesite uses the same entries."""
    defaults = DetectionSettings()
    return [
        (QgsProcessingParameterEnum(alg.ENGINE, tr("Engine"), options=list(ENGINES),
                                    defaultValue=choice_index(ENGINES, DEFAULT_ENGINE)),
         tr("exemplar: match boxes you drew; learned: the site's trained detector; model: an ONNX file.")),
        (QgsProcessingParameterFile(alg.MODEL, tr("ONNX model (engine 'model')"), extension="onnx", optional=True),
         tr("The detector model file used by the 'model' engine.")),
        (QgsProcessingParameterFeatureSource(alg.EXEMPLARS, tr("Exemplars (engine 'exemplar')"),
                                             [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
         tr("One box per example object drawn on a capture; the 'class' field names its class.")),
        (QgsProcessingParameterNumber(alg.MIN_SCORE, tr("Minimum score"), QgsProcessingParameterNumber.Type.Double,
                                      defaultValue=defaults.min_score, minValue=0.0, maxValue=1.0),
         tr("Detections scoring below this (0..1) are dropped.")),
        (QgsProcessingParameterString(alg.CLASSES, tr("Classes to keep (comma separated)"), optional=True),
         tr("Only these classes are reported (e.g. aircraft, helicopter); empty: every class the engine finds."),
         ADVANCED),
    ]


def detection_settings(alg: QgsProcessingAlgorithm, parameters, context) -> DetectionSettings:
    """The DetectionSettings the user chose in the parameters of detection_parameter_entries."""
    classes = [c.strip() for c in alg.parameterAsString(parameters, alg.CLASSES, context).split(",") if c.strip()]
    return DetectionSettings(
        engine=choice_id(alg, parameters, alg.ENGINE, context, ENGINES),
        model_path=alg.parameterAsFile(parameters, alg.MODEL, context) or None,
        classes=classes or None,
        min_score=alg.parameterAsDouble(parameters, alg.MIN_SCORE, context),
    )


def check_detection_settings(alg: QgsProcessingAlgorithm, parameters, context) -> tuple[bool, str]:
    """checkParameterValues for the detection parameters: the contract's validation, and the
    example boxes the 'exemplar' engine needs."""
    try:
        settings = detection_settings(alg, parameters, context)
        settings.validate()
    except SiteWatchError as exc:
        return False, str(exc)
    if settings.engine == "exemplar" and parameters.get(alg.EXEMPLARS) in (None, ""):
        return False, tr("The 'exemplar' engine needs a layer of example boxes (EXEMPLARS).")
    return True, ""


class DetectEquipmentAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    AOI = "AOI"
    LEAVE_OUT = "LEAVE_OUT"
    ENGINE = "ENGINE"
    MODEL = "MODEL"
    EXEMPLARS = "EXEMPLARS"
    MIN_SCORE = "MIN_SCORE"
    CLASSES = "CLASSES"
    CAPTURE = "CAPTURE"
    OUTPUT = "OUTPUT"

    def name(self) -> str:
        return "detectequipment"

    def displayName(self) -> str:  # noqa: N802
        return tr("Detect equipment")

    def group(self) -> str:
        return tr("Equipment")

    def groupId(self) -> str:  # noqa: N802
        return "equipment"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr("Finds aircraft, helicopters, vehicles or ships on one capture and writes one oriented box per "
                  "object with its class, score, size in metres and heading.\n"
                  "Engines: 'exemplar' finds objects like a few boxes you draw (EXEMPLARS, a polygon layer with a "
                  "'class' field), at any heading, without training; 'learned' uses the detector trained for the "
                  "site; 'model' runs an ONNX model file you give (MODEL).")

    def createInstance(self) -> "DetectEquipmentAlgorithm":  # noqa: N802
        return DetectEquipmentAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterRasterLayer(self.INPUT, tr("Capture raster")),
             tr("The satellite image to search (a file-based raster; one in degrees is searched on the local UTM zone, so sizes are in metres).")),
            (QgsProcessingParameterFeatureSource(self.AOI, tr("Area of interest"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Only objects whose centre falls inside these polygons are reported. Empty: the whole raster.")),
            (QgsProcessingParameterFeatureSource(self.LEAVE_OUT, tr("Areas to leave out"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Optional polygons over clouds, haze or anything not to judge: no object whose centre falls "
                "inside them is reported.")),
            *detection_parameter_entries(self),
            pixel_size_entry(),
            (QgsProcessingParameterString(self.CAPTURE, tr("Capture label"), defaultValue="", optional=True),
             tr("Text stored in the 'capture' field of every detection (e.g. the date)."), ADVANCED),
            (QgsProcessingParameterFeatureSink(self.OUTPUT, tr("Detections"),
                                               QgsProcessing.SourceType.TypeVectorPolygon),
             tr("Oriented boxes with class, score, engine, length_m, width_m, heading_deg, capture.")),
        ])

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        return check_detection_settings(self, parameters, context)

    @guarded
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(3, feedback)
        raster = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if raster is None or raster.providerType() != "gdal":
            raise QgsProcessingException(tr("The capture must be a file-based raster layer."))
        crs = raster.crs()
        ex_source = self.parameterAsSource(parameters, self.EXEMPLARS, context)
        settings = detection_settings(self, parameters, context)
        try:
            aoi_wkt, left_out_wkt, _crs = area_to_analyse(self, parameters, context, crs, in_capture_crs=True)
            params = DetectionParameters(
                raster=raster.source(),
                **vars(settings),
                exemplars=features_to_detections(ex_source, crs, project=context.project())
                if ex_source is not None else None,
                aoi_wkt=area_less_left_out(aoi_wkt, left_out_wkt, raster.source()),
                capture=self.parameterAsString(parameters, self.CAPTURE, context) or "",
                pixel_size_m=pixel_size(self, parameters, context),
            )
            steps.setCurrentStep(1)
            if steps.isCanceled():
                return {}
            result = detect_equipment(params, feedback_progress(steps))
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(2)
        if steps.isCanceled():
            return {}
        if result.crs_wkt:  # a raster in degrees is measured in its local UTM zone
            crs = QgsCoordinateReferenceSystem.fromWkt(result.crs_wkt)
        fields = detection_fields()
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Type.Polygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for det in result.detections:
            sink.addFeature(detection_to_feature(det, fields), QgsFeatureSink.Flag.FastInsert)
        feedback.pushInfo(tr("{} object(s) found by the {} engine in {:.1f} s ({:.1f} MP).").format(
            len(result.detections), settings.engine, result.seconds, result.megapixels))
        style_output_on_completion(context, dest_id, "detections_plain.qml")
        steps.setCurrentStep(3)
        return {self.OUTPUT: dest_id}
