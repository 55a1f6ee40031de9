"""Processing algorithm sitewatch:sitereport: the two-date analysis and the analyst's report."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingParameterDistance,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core.errors import SiteWatchError
from ..core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis
from ..core.timeline import TimelineParameters, rasters_in_folder, run_timeline
from ..qgisio.detections import features_to_detections
from ..qgisio.vectors import aoi_wkt_from_source
from .alg_coregister import feedback_progress
from .engine_parameters import ENGINES, check_engine, engine_parameters


class SiteReportAlgorithm(QgsProcessingAlgorithm):
    BEFORE = "BEFORE"
    AFTER = "AFTER"
    SITE_NAME = "SITE_NAME"
    AOI = "AOI"
    ENGINE = "ENGINE"
    MODEL = "MODEL"
    EXEMPLARS = "EXEMPLARS"
    MIN_SCORE = "MIN_SCORE"
    MAX_DISTANCE = "MAX_DISTANCE"
    TIMELINE_FOLDER = "TIMELINE_FOLDER"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    OUTPUT_PDF = "OUTPUT_PDF"

    def name(self) -> str:
        return "sitereport"

    def displayName(self) -> str:  # noqa: N802
        return "Site analysis report"

    def group(self) -> str:
        return "Reports"

    def groupId(self) -> str:  # noqa: N802
        return "reports"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Analyses two captures of a site (change, equipment per date, events across the dates) and writes "
                "a report an analyst can hand on: an HTML page (OUTPUT_REPORT) with the PDF beside it. It shows the "
                "capture dates and sources, before and after maps side by side with the change overlay and the "
                "equipment annotated, the counts and events, the method, its parameters and the software version. "
                "With TIMELINE_FOLDER (every capture of the site), the report also charts the counts over time.")

    def createInstance(self) -> "SiteReportAlgorithm":  # noqa: N802
        return SiteReportAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        params = [
            (QgsProcessingParameterRasterLayer(self.BEFORE, "Before capture"), "The earlier capture (file-based)."),
            (QgsProcessingParameterRasterLayer(self.AFTER, "After capture"), "The later capture of the same site."),
            (QgsProcessingParameterString(self.SITE_NAME, "Site name", defaultValue="Site"),
             "The report's title names the site with this."),
            (QgsProcessingParameterFeatureSource(self.AOI, "Site (area of interest)", [QgsProcessing.TypeVectorPolygon],
                                                 optional=True),
             "Only this area is analysed and mapped. Empty: the whole captures."),
            *engine_parameters("Example boxes drawn on the before capture; the 'class' field names each one's class."),
            (QgsProcessingParameterDistance(self.MAX_DISTANCE, "Maximum distance for a match", defaultValue=20.0,
                                            minValue=0.01),
             "Objects of compatible classes on both dates within this distance (metres) are the same object."),
            (QgsProcessingParameterFile(self.TIMELINE_FOLDER, "Every capture of the site (folder, for the timeline)",
                                        QgsProcessingParameterFile.Folder, optional=True),
             "When set and holding more than two dated captures, the report charts the counts over all of them."),
            (QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, "Analysis results folder"),
             "The analysis GeoPackage, change score and mask are written here."),
            (QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, "Report (HTML, with the PDF beside it)",
                                                   "HTML files (*.html)"),
             "The report page; the PDF has the same name with .pdf, the images sit in <name>_files/."),
        ]
        for param, help_text in params:
            param.setHelp(help_text)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputFile(self.OUTPUT_PDF, "Report (PDF)"))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, msg = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, msg
        return check_engine(self, parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..core.equipment.io import write_detections
        from ..report.report import write_report

        before = self.parameterAsRasterLayer(parameters, self.BEFORE, context)
        after = self.parameterAsRasterLayer(parameters, self.AFTER, context)
        out_dir = Path(self.parameterAsString(parameters, self.OUTPUT_FOLDER, context))
        report_path = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        engine = ENGINES[self.parameterAsEnum(parameters, self.ENGINE, context)]
        name = self.parameterAsString(parameters, self.SITE_NAME, context) or "Site"
        try:
            aoi_wkt, aoi_crs = aoi_wkt_from_source(self.parameterAsSource(parameters, self.AOI, context))
            ex_source = self.parameterAsSource(parameters, self.EXEMPLARS, context)
            exemplars_path = None
            if ex_source is not None and engine == "exemplar":
                exemplars_path = str(out_dir.with_name(out_dir.name + "_exemplars.gpkg"))
                write_detections(exemplars_path, "exemplars",
                                 features_to_detections(ex_source, before.crs(), project=context.project()),
                                 before.crs().toWkt())
            from ..core.captures import capture_date

            dates = [capture_date(layer.source()) for layer in (before, after)]
            params = AnalysisParameters(
                site_name=name, before_path=before.source(), after_path=after.source(), output_dir=str(out_dir),
                before_date=dates[0].iso_date if dates[0] else "", after_date=dates[1].iso_date if dates[1] else "",
                aoi_wkt=aoi_wkt, aoi_crs_wkt=aoi_crs,
                equipment=EquipmentOptions(
                    engine=engine, model_path=self.parameterAsFile(parameters, self.MODEL, context) or None,
                    exemplars_path=exemplars_path, min_score=self.parameterAsDouble(parameters, self.MIN_SCORE, context),
                    max_distance_m=self.parameterAsDouble(parameters, self.MAX_DISTANCE, context)))
            result = run_analysis(params, feedback_progress(feedback))
            timeline = None
            folder = self.parameterAsFile(parameters, self.TIMELINE_FOLDER, context)
            if folder:
                known = {params.before_path: result.detections_before, params.after_path: result.detections_after}
                timeline = run_timeline(TimelineParameters(
                    name, rasters_in_folder(folder), aoi_wkt=aoi_wkt, aoi_crs_wkt=aoi_crs, engine=engine,
                    model_path=params.equipment.model_path, exemplars_path=exemplars_path,
                    exemplars_raster=params.before_path, min_score=params.equipment.min_score,
                    max_distance_m=params.equipment.max_distance_m, known_detections=lambda p, _d: known.get(p)))
                for skipped in timeline.skipped:
                    feedback.reportError(f"Timeline: left out {skipped.path}: {skipped.reason}", fatalError=False)
            files = write_report(result, report_path, timeline=timeline)
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for line in result.summary_lines:
            feedback.pushInfo(line)
        feedback.pushInfo(f"Report: {files.html} (PDF: {files.pdf})")
        return {self.OUTPUT_FOLDER: str(out_dir), self.OUTPUT_REPORT: files.html, self.OUTPUT_PDF: files.pdf}
