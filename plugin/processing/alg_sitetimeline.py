"""Processing algorithm sitewatch:sitetimeline: one site over N captures."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsWkbTypes,
)

from ..core.captures import capture_info
from ..core.errors import SiteWatchError
from ..core.progress import Progress
from ..core.timeline import TimelineParameters, rasters_in_folder, run_timeline
from ..core.timeline_chart import timeline_html, timeline_svg
from ..layers.postprocess import style_output_on_completion
from ..qgisio.detections import features_to_detections
from ..qgisio.field_types import DOUBLE, INT, STRING
from ..qgisio.vectors import aoi_wkt_from_source
from .common import add_parameters, tr
from .alg_compareequipment import match_parameter_entries, match_settings
from .alg_detectequipment import check_detection_settings, detection_parameter_entries, detection_settings


class SiteTimelineAlgorithm(QgsProcessingAlgorithm):
    CAPTURES = "CAPTURES"
    FOLDER = "FOLDER"
    AOI = "AOI"
    ENGINE = "ENGINE"
    MODEL = "MODEL"
    EXEMPLARS = "EXEMPLARS"
    MIN_SCORE = "MIN_SCORE"
    CLASSES = "CLASSES"
    MAX_DISTANCE = "MAX_DISTANCE"
    STAY_TOLERANCE = "STAY_TOLERANCE"
    WORKSPACE = "WORKSPACE"
    OUTPUT_COUNTS = "OUTPUT_COUNTS"
    OUTPUT_EVENTS = "OUTPUT_EVENTS"
    OUTPUT_CHART = "OUTPUT_CHART"
    OUTPUT_HTML = "OUTPUT_HTML"

    def name(self) -> str:
        return "sitetimeline"

    def displayName(self) -> str:  # noqa: N802
        return tr("Site timeline")

    def group(self) -> str:
        return "Equipment"

    def groupId(self) -> str:  # noqa: N802
        return "equipment"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr("Counts the equipment of one site on every capture you give (CAPTURES, or every raster in FOLDER), "
                "matches objects between consecutive dates and writes the counts per class per date, the events "
                "(arrived, departed, stayed, moved) between dates, a chart of the counts over time (PNG) and an "
                "interactive chart page that works offline (HTML).\n"
                "Dates are read as the panel reads them (metadata, vendor sidecars, file name). Captures without a "
                "date, unreadable or outside the area of interest are listed in the log and left out.")

    def createInstance(self) -> "SiteTimelineAlgorithm":  # noqa: N802
        return SiteTimelineAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        params = [
            (QgsProcessingParameterMultipleLayers(self.CAPTURES, tr("Captures"), QgsProcessing.SourceType.TypeRaster,
                                                  optional=True),
             tr("The captures of the site, in any order (file-based rasters in one projected CRS).")),
            (QgsProcessingParameterFile(self.FOLDER, tr("Folder of captures"),
                                        QgsProcessingParameterFile.Behavior.Folder, optional=True),
             tr("Every raster file in this folder is a capture (used with or instead of CAPTURES).")),
            (QgsProcessingParameterFeatureSource(self.AOI, tr("Site (area of interest)"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Only objects whose centre falls inside these polygons are counted; captures that miss them are "
                "left out. Empty: each capture's whole extent.")),
            *detection_parameter_entries(self),
            *match_parameter_entries(self, self.AOI),
            (QgsProcessingParameterFile(self.WORKSPACE, tr("Site workspace (GeoPackage)"), extension="gpkg",
                                        optional=True),
             tr("A SiteWatch site workspace: where its review history has reviewed a capture, that capture is "
                "counted from the reviewed objects and its date is shaded on the chart.")),
            (QgsProcessingParameterFeatureSink(self.OUTPUT_COUNTS, tr("Counts per date"),
                                               QgsProcessing.SourceType.TypeVector),
             tr("A table: date, class, count, reviewed (1 where the counts come from reviewed detections).")),
            (QgsProcessingParameterFeatureSink(self.OUTPUT_EVENTS, tr("Events between dates"),
                                               QgsProcessing.SourceType.TypeVectorPolygon, optional=True,
                                               createByDefault=True),
             tr("One box per event: date_from, date_to, class, event (arrived, departed, stayed, moved).")),
            (QgsProcessingParameterFileDestination(self.OUTPUT_CHART, tr("Chart (PNG)"), "PNG files (*.png)",
                                                   optional=True),
             tr("Counts per class over the capture dates; reviewed dates are shaded.")),
            (QgsProcessingParameterFileDestination(self.OUTPUT_HTML, tr("Interactive chart (HTML)"), "HTML files (*.html)",
                                                   optional=True),
             tr("The chart, the counts and the events on one page that works offline.")),
        ]
        add_parameters(self, params)

    def _capture_paths(self, parameters, context) -> list[str]:
        layers = self.parameterAsLayerList(parameters, self.CAPTURES, context) or []
        paths = [layer.source() for layer in layers]
        folder = self.parameterAsFile(parameters, self.FOLDER, context)
        if folder:
            paths += [p for p in rasters_in_folder(folder) if p not in paths]
        return paths

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        if not parameters.get(self.CAPTURES) and not parameters.get(self.FOLDER):
            return False, tr("Give the captures (CAPTURES) or a folder of captures (FOLDER).")
        return check_detection_settings(self, parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            paths = self._capture_paths(parameters, context)
            readable = [capture_info(p) for p in paths]
            crs_wkt = next((i.crs_wkt for i in readable if i.crs_wkt), "")
            crs = QgsCoordinateReferenceSystem.fromWkt(crs_wkt)
            aoi_wkt, aoi_crs = aoi_wkt_from_source(self.parameterAsSource(parameters, self.AOI, context))
            ex_source = self.parameterAsSource(parameters, self.EXEMPLARS, context)
            settings = detection_settings(self, parameters, context)
            params = TimelineParameters(
                site_name=self._site_name(parameters, context, paths),
                captures=paths, aoi_wkt=aoi_wkt, aoi_crs_wkt=aoi_crs, engine=settings.engine,
                model_path=settings.model_path, classes=settings.classes,
                exemplars=features_to_detections(ex_source, crs, project=context.project())
                if ex_source is not None and settings.engine == "exemplar" else None,
                min_score=settings.min_score, **vars(match_settings(self, parameters, context)),
                reviewed=self._reviewed(parameters, context),
            )
            progress = Progress(lambda f, msg: (feedback.setProgress(95.0 * f), feedback.pushInfo(msg) if msg else None,
                                                not feedback.isCanceled())[2])
            result = run_timeline(params, progress)
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for skipped in result.skipped:
            feedback.reportError(tr("Left out {0}: {1}").format(skipped.path, skipped.reason), fatalError=False)
        for line in result.summary_lines():
            feedback.pushInfo(line)
        outputs = {self.OUTPUT_COUNTS: self._write_counts(parameters, context, result)}
        if parameters.get(self.OUTPUT_EVENTS):  # optional: a shell user names only what is wanted
            outputs[self.OUTPUT_EVENTS] = self._write_events(parameters, context, result, crs)
        chart = self.parameterAsFileOutput(parameters, self.OUTPUT_CHART, context)
        if chart:
            from ..report.chart import svg_to_png

            outputs[self.OUTPUT_CHART] = svg_to_png(timeline_svg(result), chart)
        page = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        if page:
            Path(page).write_text(timeline_html(result), encoding="utf-8")
            outputs[self.OUTPUT_HTML] = page
        feedback.setProgress(100.0)
        return outputs

    def _reviewed(self, parameters, context):
        """The reviewed detections of the WORKSPACE's review history (None: none given or reviewed)."""
        workspace = self.parameterAsFile(parameters, self.WORKSPACE, context)
        if not workspace:
            return None
        from ..store.review_timeline import reviewed_detections_source

        return reviewed_detections_source(workspace)

    def _site_name(self, parameters, context, paths: list[str]) -> str:
        source = self.parameterAsSource(parameters, self.AOI, context)
        if source is not None and source.sourceName():
            return source.sourceName()
        folder = self.parameterAsFile(parameters, self.FOLDER, context)
        return Path(folder).name if folder else (Path(paths[0]).parent.name if paths else "site")

    def _write_counts(self, parameters, context, result) -> str:
        fields = QgsFields()
        for name, kind in (("date", STRING), ("class", STRING), ("count", INT),
                           ("reviewed", INT)):
            fields.append(QgsField(name, kind))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT_COUNTS, context, fields, QgsWkbTypes.Type.NoGeometry,
                                          QgsCoordinateReferenceSystem())
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_COUNTS))
        reviewed = {c.date: int(c.reviewed) for c in result.captures}
        for date, name, count in result.count_rows():
            feature = QgsFeature(fields)
            feature.setAttributes([date, name, count, reviewed[date]])
            sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
        return dest

    def _write_events(self, parameters, context, result, crs) -> str:
        fields = QgsFields()
        for name, kind in (("date_from", STRING), ("date_to", STRING), ("class", STRING),
                           ("event", STRING), ("detector_class", STRING), ("score", DOUBLE)):
            fields.append(QgsField(name, kind))
        sink, dest = self.parameterAsSink(parameters, self.OUTPUT_EVENTS, context, fields, QgsWkbTypes.Type.Polygon, crs)
        if sink is None:
            raise QgsProcessingException(self.invalidSinkError(parameters, self.OUTPUT_EVENTS))
        for date_from, date_to, label, event, det in result.event_rows():
            feature = QgsFeature(fields)
            feature.setGeometry(QgsGeometry.fromWkt(det.wkt()))
            feature.setAttributes([date_from, date_to, label, event, det.class_name, float(det.score)])
            sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
        style_output_on_completion(context, dest, "detections.qml")  # coloured by event, labelled by class
        return dest

