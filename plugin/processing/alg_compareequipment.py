"""Processing algorithm sitewatch:compareequipment: what arrived, departed, stayed, moved."""
from __future__ import annotations

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingParameterDistance,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)

from ..core.equipment.matching import match_detections
from ..core.errors import SiteWatchError
from ..core.parameters import MatchSettings
from ..layers.postprocess import style_output_on_completion
from ..qgisio.detections import detection_fields, detection_to_feature, features_to_detections
from ..qgisio.field_types import DOUBLE, INT, STRING
from .common import ADVANCED, add_parameters, tr
from .guard import guarded

COUNT_FIELDS = ("before", "after", "delta", "arrived", "departed", "stayed", "moved")


def match_parameter_entries(alg: QgsProcessingAlgorithm, parent: str) -> list[tuple]:
    """The match settings as parameters (distances in the units of the `parent` layer's CRS),
    under the names compareequipment gives them; sitewatch:analyzesite uses the same entries."""
    defaults = MatchSettings()
    return [
        (QgsProcessingParameterDistance(alg.MAX_DISTANCE, tr("Maximum distance for a match"),
                                        defaultValue=defaults.max_distance_m, parentParameterName=parent, minValue=0.01),
         tr("Objects farther apart than this (metres) are never the same object.")),
        (QgsProcessingParameterDistance(alg.STAY_TOLERANCE, tr("Stay tolerance"), defaultValue=defaults.stay_tolerance_m,
                                        parentParameterName=parent, minValue=0.0),
         tr("A matched object that moved less than this (metres) is 'stayed', else 'moved'."), ADVANCED),
    ]


def match_settings(alg: QgsProcessingAlgorithm, parameters, context) -> MatchSettings:
    """The MatchSettings the user chose in the parameters of match_parameter_entries."""
    return MatchSettings(max_distance_m=alg.parameterAsDouble(parameters, alg.MAX_DISTANCE, context),
                         stay_tolerance_m=alg.parameterAsDouble(parameters, alg.STAY_TOLERANCE, context))


class CompareEquipmentAlgorithm(QgsProcessingAlgorithm):
    BEFORE = "BEFORE"
    AFTER = "AFTER"
    MAX_DISTANCE = "MAX_DISTANCE"
    STAY_TOLERANCE = "STAY_TOLERANCE"
    CHANGE_REGIONS = "CHANGE_REGIONS"
    AFTER_DX_M = "AFTER_DX_M"
    AFTER_DY_M = "AFTER_DY_M"
    OUTPUT = "OUTPUT"
    OUTPUT_COUNTS = "OUTPUT_COUNTS"

    def name(self) -> str:
        return "compareequipment"

    def displayName(self) -> str:  # noqa: N802
        return tr("Compare equipment between dates")

    def group(self) -> str:
        return tr("Equipment")

    def groupId(self) -> str:  # noqa: N802
        return "equipment"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr("Matches the detections of two captures one to one (same kind of object, nearest overall) and "
                "labels each object stayed, moved, arrived or departed; counts per class go to a table.")

    def createInstance(self) -> "CompareEquipmentAlgorithm":  # noqa: N802
        return CompareEquipmentAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterFeatureSource(self.BEFORE, tr("Detections, earlier capture"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon]),
             tr("Boxes found on the earlier capture (class field 'class').")),
            (QgsProcessingParameterFeatureSource(self.AFTER, tr("Detections, later capture"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon]),
             tr("Boxes found on the later capture; reprojected to the earlier layer's CRS.")),
            *match_parameter_entries(self, self.BEFORE),
            (QgsProcessingParameterFeatureSource(self.CHANGE_REGIONS, tr("Change regions"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Polygons of detected change: events inside get in_change = 1.")),
            (QgsProcessingParameterNumber(self.AFTER_DX_M, tr("Displacement of the later capture, east (m)"),
                                          QgsProcessingParameterNumber.Type.Double, 0.0),
             tr("How far the later capture's content sits east of the earlier one's (DX_M of "
                "sitewatch:coregister with INPUT = later, REFERENCE = earlier). Boxes are compared with "
                "it removed, so a misregistration does not turn parked objects into 'moved'; the output "
                "keeps the boxes where each capture shows them.")),
            (QgsProcessingParameterNumber(self.AFTER_DY_M, tr("Displacement of the later capture, north (m)"),
                                          QgsProcessingParameterNumber.Type.Double, 0.0),
             tr("The same, north (DY_M of sitewatch:coregister).")),
            (QgsProcessingParameterFeatureSink(self.OUTPUT, tr("Equipment events"),
                                               QgsProcessing.SourceType.TypeVectorPolygon),
             tr("One box per event (after's box, before's for departures), field 'event'.")),
            (QgsProcessingParameterFeatureSink(self.OUTPUT_COUNTS, tr("Equipment counts"),
                                               QgsProcessing.SourceType.TypeVector),
             tr("One row per class: before, after, delta, arrived, departed, stayed, moved.")),
        ])

    @guarded
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(3, feedback)
        before_src = self.parameterAsSource(parameters, self.BEFORE, context)
        after_src = self.parameterAsSource(parameters, self.AFTER, context)
        if before_src is None or after_src is None:
            raise QgsProcessingException(tr("Both detection layers (BEFORE and AFTER) are needed."))
        crs = before_src.sourceCrs()
        if crs.isValid() and crs.isGeographic():  # distances in metres: compared on the local UTM zone
            crs = _local_utm(before_src, context)
            feedback.pushInfo(tr("The detection layers are in degrees: compared, and written, in {0}.").format(
                crs.authid() or crs.description()))
        regions_src = self.parameterAsSource(parameters, self.CHANGE_REGIONS, context)
        try:
            before = features_to_detections(before_src, crs, project=context.project())
            after = features_to_detections(after_src, crs, project=context.project())
            steps.setCurrentStep(1)
            if steps.isCanceled():
                return {}
            regions = None
            if regions_src is not None:
                from qgis.core import QgsCoordinateTransform, QgsGeometry

                xform = QgsCoordinateTransform(regions_src.sourceCrs(), crs, context.project())
                regions = []
                for f in regions_src.getFeatures():
                    g = QgsGeometry(f.geometry())
                    g.transform(xform)
                    regions.append(g.asWkt())
            result = match_detections(before, after, **vars(match_settings(self, parameters, context)),
                                      change_regions_wkt=regions,
                                      after_shift_m=(self.parameterAsDouble(parameters, self.AFTER_DX_M, context),
                                                     self.parameterAsDouble(parameters, self.AFTER_DY_M, context)))
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(2)
        fields = detection_fields([("event", STRING), ("distance_m", DOUBLE), ("in_change", INT)])
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT, context, fields, QgsWkbTypes.Type.Polygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT))
        for e in result.events:
            sink.addFeature(detection_to_feature(e.detection, fields, {
                "event": e.event, "distance_m": e.distance_m, "in_change": int(e.in_change)}),
                QgsFeatureSink.Flag.FastInsert)
        count_fields = QgsFields()
        count_fields.append(QgsField("class", STRING))
        count_fields.append(QgsField("label", STRING))
        for name in COUNT_FIELDS:
            count_fields.append(QgsField(name, INT))
        csink, cdest = self.parameterAsSink(parameters, self.OUTPUT_COUNTS, context, count_fields,
                                            QgsWkbTypes.Type.NoGeometry)
        if csink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_COUNTS))
        for c in result.counts:
            feat = QgsFeature(count_fields)
            feat.setAttributes([c.class_name, result.labels.get(c.class_name, c.class_name)]
                               + [int(getattr(c, n)) for n in COUNT_FIELDS])
            csink.addFeature(feat, QgsFeatureSink.Flag.FastInsert)
        for line in result.summary_lines():
            feedback.pushInfo(line)
        style_output_on_completion(context, dest, "detections.qml")
        steps.setCurrentStep(3)
        return {self.OUTPUT: dest, self.OUTPUT_COUNTS: cdest}


def _local_utm(source, context):
    """The UTM zone of the centre of a layer in degrees (a QgsCoordinateReferenceSystem)."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform

    from ..core.metric import utm_for

    centre = source.sourceExtent().center()
    to_wgs84 = QgsCoordinateTransform(source.sourceCrs(), QgsCoordinateReferenceSystem("EPSG:4326"),
                                      context.project())
    lonlat = to_wgs84.transform(centre)
    return QgsCoordinateReferenceSystem.fromWkt(utm_for(lonlat.x(), lonlat.y()).ExportToWkt())
