"""Processing algorithm sitewatch:analyzesite: the whole two-date analysis of a site.

The same AnalysisParameters and the same core call (run_analysis) as the panel's Run: change
detection, equipment on each date, matching across dates, one GeoPackage with every layer.
Its parameters carry the names detectchanges, detectequipment and compareequipment give
them, so a model or a script moves from the single steps to the whole analysis unchanged."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..core.errors import SiteWatchError
from ..core.parameters import (
    DEFAULT_EXEMPLAR_CAPTURE,
    EXEMPLAR_CAPTURES,
    AnalysisParameters,
    ChangeOptions,
    EquipmentOptions,
)
from ..core.pipeline import LAYER_AFTER, LAYER_BEFORE, LAYER_COUNTS, LAYER_REGIONS, replaceable_folder, run_analysis
from ..store.workspace import SiteWorkspace, new_analysis_id
from .alg_compareequipment import match_parameter_entries, match_settings
from .alg_detectchanges import change_parameter_entries, change_settings
from .alg_detectequipment import check_detection_settings, detection_parameter_entries, detection_settings
from .common import (ADVANCED, add_parameters, area_to_analyse, choice_id, choice_index, feedback_progress,
                     pixel_size, pixel_size_entry, tr)
from .guard import guarded

EVENT_OUTPUTS = ("ARRIVED", "DEPARTED", "STAYED", "MOVED")


class AnalyzeSiteAlgorithm(QgsProcessingAlgorithm):
    BEFORE = "BEFORE"
    AFTER = "AFTER"
    AOI = "AOI"
    LEAVE_OUT = "LEAVE_OUT"
    SITE_NAME = "SITE_NAME"
    BEFORE_DATE = "BEFORE_DATE"
    AFTER_DATE = "AFTER_DATE"
    DETECT_CHANGES = "DETECT_CHANGES"
    METHOD = "METHOD"
    SENSITIVITY = "SENSITIVITY"
    MIN_AREA = "MIN_AREA"
    COREGISTER = "COREGISTER"
    REQUIRE_COREGISTRATION = "REQUIRE_COREGISTRATION"
    NORMALIZE = "NORMALIZE"
    HALF_RESOLUTION = "HALF_RESOLUTION"
    NATURAL_PRIOR = "NATURAL_PRIOR"
    DROP_SHADOW_MOVES = "DROP_SHADOW_MOVES"
    COUNT_EQUIPMENT = "COUNT_EQUIPMENT"
    ENGINE = "ENGINE"
    MODEL = "MODEL"
    EXEMPLARS = "EXEMPLARS"
    EXEMPLARS_CAPTURE = "EXEMPLARS_CAPTURE"
    MIN_SCORE = "MIN_SCORE"
    CLASSES = "CLASSES"
    MAX_DISTANCE = "MAX_DISTANCE"
    STAY_TOLERANCE = "STAY_TOLERANCE"
    WORKSPACE = "WORKSPACE"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    # outputs
    OUTPUT_GPKG = "OUTPUT_GPKG"
    OUTPUT_SCORE = "OUTPUT_SCORE"
    OUTPUT_REGIONS = "OUTPUT_REGIONS"
    OUTPUT_DETECTIONS_BEFORE = "OUTPUT_DETECTIONS_BEFORE"
    OUTPUT_DETECTIONS_AFTER = "OUTPUT_DETECTIONS_AFTER"
    OUTPUT_COUNTS = "OUTPUT_COUNTS"
    N_REGIONS = "N_REGIONS"
    CHANGED_AREA = "CHANGED_AREA_M2"
    N_BEFORE = "N_BEFORE"
    N_AFTER = "N_AFTER"
    SUMMARY = "SUMMARY"

    def name(self) -> str:
        return "analyzesite"

    def displayName(self) -> str:  # noqa: N802
        return tr("Analyse a site on two dates")

    def group(self) -> str:
        return tr("Site analysis")

    def groupId(self) -> str:  # noqa: N802
        return "siteanalysis"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr(
            "The whole two-date analysis the SiteWatch panel runs, as one algorithm (batch mode runs it over "
            "many pairs): change detection between the captures, equipment found on each date and matched "
            "across dates (arrived, departed, stayed, moved), counts per class and a summary. Everything is "
            "written to one GeoPackage (analysis.gpkg) with the change score and mask beside it, in "
            "OUTPUT_FOLDER or, with a site WORKSPACE, in the site's history where the panel lists it. "
            "The parameters have the names and defaults of detectchanges, detectequipment and "
            "compareequipment."
        )

    def createInstance(self) -> "AnalyzeSiteAlgorithm":  # noqa: N802
        return AnalyzeSiteAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        polygons = [QgsProcessing.SourceType.TypeVectorPolygon]
        add_parameters(self, [
            (QgsProcessingParameterRasterLayer(self.BEFORE, tr("Before capture")), tr("The earlier capture.")),
            (QgsProcessingParameterRasterLayer(self.AFTER, tr("After capture")), tr("The later capture.")),
            (QgsProcessingParameterFeatureSource(self.AOI, tr("Area of interest (the site)"), polygons, optional=True),
             tr("The site's outline: nothing outside it is analysed. Empty: the site of WORKSPACE, else where "
                "the captures overlap.")),
            (QgsProcessingParameterFeatureSource(self.LEAVE_OUT, tr("Areas to leave out"), polygons, optional=True),
             tr("Polygons over clouds, haze or anything not to judge on either date: no change is reported "
                "and nothing is counted inside them.")),
            (QgsProcessingParameterBoolean(self.DETECT_CHANGES, tr("Detect changes"), ChangeOptions.enabled),
             tr("Find where the ground changed between the two dates.")),
            *change_parameter_entries(self),
            (QgsProcessingParameterBoolean(self.COUNT_EQUIPMENT, tr("Count equipment"), EquipmentOptions.enabled),
             tr("Detect equipment on each date, count it per class and match it across dates.")),
            *detection_parameter_entries(self),
            (QgsProcessingParameterEnum(self.EXEMPLARS_CAPTURE, tr("Capture the examples were drawn on"),
                                        list(EXEMPLAR_CAPTURES.values()),
                                        defaultValue=choice_index(EXEMPLAR_CAPTURES, DEFAULT_EXEMPLAR_CAPTURE)),
             tr("The example boxes take their look from this capture; on the other date an example whose "
                "object has left keeps that look.")),
            *match_parameter_entries(self, self.BEFORE),
            pixel_size_entry(),
            (QgsProcessingParameterString(self.SITE_NAME, tr("Site name"), optional=True),
             tr("Shown in the title and the summary. Empty: the WORKSPACE's site, else the AOI layer's name."),
             ADVANCED),
            (QgsProcessingParameterString(self.BEFORE_DATE, tr("Before date (YYYY-MM-DD)"), optional=True),
             tr("Empty: read from the capture's metadata or name, as the panel does."), ADVANCED),
            (QgsProcessingParameterString(self.AFTER_DATE, tr("After date (YYYY-MM-DD)"), optional=True),
             tr("Empty: read from the capture's metadata or name, as the panel does."), ADVANCED),
            (QgsProcessingParameterFile(self.WORKSPACE, tr("Site workspace (GeoPackage)"), extension="gpkg",
                                        optional=True),
             tr("A SiteWatch site workspace (workspace.gpkg): the analysis is added to the site's history, "
                "its outline is the AOI when none is given, and its entered capture dates are used.")),
            (QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, tr("Output folder"), optional=True),
             tr("Where the analysis is written (analysis.gpkg, change_score.tif, change_mask.tif, summary.txt). "
                "A folder that holds other files gets the analysis in a new subfolder. Empty with a WORKSPACE: "
                "the workspace's analyses folder.")),
            (QgsProcessingParameterFileDestination(self.OUTPUT_REPORT, tr("Report (HTML, the PDF beside it)"),
                                                   tr("HTML files (*.html)"), optional=True, createByDefault=False),
             tr("A report to hand on: dates and sources, before/after maps with the change and the equipment, counts, "
                "events, method and parameters; with a WORKSPACE of more than two dates, the site's timeline.")),
        ])
        outputs = [
            (QgsProcessingOutputFile(self.OUTPUT_GPKG, tr("Analysis GeoPackage"))),
            (QgsProcessingOutputFile(self.OUTPUT_SCORE, tr("Change score"))),
            (QgsProcessingOutputVectorLayer(self.OUTPUT_REGIONS, tr("Change regions"),
                                            QgsProcessing.SourceType.TypeVectorPolygon)),
            (QgsProcessingOutputVectorLayer(self.OUTPUT_DETECTIONS_BEFORE, tr("Detections, before"),
                                            QgsProcessing.SourceType.TypeVectorPolygon)),
            (QgsProcessingOutputVectorLayer(self.OUTPUT_DETECTIONS_AFTER, tr("Detections, after"),
                                            QgsProcessing.SourceType.TypeVectorPolygon)),
            (QgsProcessingOutputVectorLayer(self.OUTPUT_COUNTS, tr("Counts per class"),
                                            QgsProcessing.SourceType.TypeVector)),
            QgsProcessingOutputNumber(self.N_REGIONS, tr("Number of change regions")),
            QgsProcessingOutputNumber(self.CHANGED_AREA, tr("Changed area (m²)")),
            QgsProcessingOutputNumber(self.N_BEFORE, tr("Objects on the before capture")),
            QgsProcessingOutputNumber(self.N_AFTER, tr("Objects on the after capture")),
            *(QgsProcessingOutputNumber(name, tr("Objects {}").format(name.lower())) for name in EVENT_OUTPUTS),
            QgsProcessingOutputString(self.SUMMARY, tr("Summary")),
        ]
        for output in outputs:
            self.addOutput(output)

    def runs_on_pixel_grid(self, parameters, context) -> bool:
        """Without equipment counts, two captures without georeferencing may be compared on their
        pixel grid (warned); detection needs sizes in metres."""
        return not self.parameterAsBoolean(parameters, self.COUNT_EQUIPMENT, context)

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        run_change = self.parameterAsBoolean(parameters, self.DETECT_CHANGES, context)
        run_equipment = self.parameterAsBoolean(parameters, self.COUNT_EQUIPMENT, context)
        if not run_change and not run_equipment:
            return False, tr("Choose change detection, equipment counts, or both.")
        if not self.parameterAsString(parameters, self.OUTPUT_FOLDER, context) and not self._workspace(parameters, context):
            return False, tr("Give an output folder (OUTPUT_FOLDER) or a site workspace (WORKSPACE).")
        try:
            if run_change:
                change_settings(self, parameters, context).validate()
            if run_equipment:
                match_settings(self, parameters, context).validate()
        except SiteWatchError as exc:
            return False, str(exc)
        return check_detection_settings(self, parameters, context) if run_equipment else (True, "")

    def _workspace(self, parameters, context) -> Optional[SiteWorkspace]:
        path = self.parameterAsFile(parameters, self.WORKSPACE, context)
        return SiteWorkspace(path) if path else None

    def analysis_parameters(self, parameters, context, feedback=None) -> AnalysisParameters:
        """The AnalysisParameters of these parameter values (what the panel builds from its widgets)."""
        from ..qgisio.captures import layer_capture

        before = self.parameterAsRasterLayer(parameters, self.BEFORE, context)
        after = self.parameterAsRasterLayer(parameters, self.AFTER, context)
        if before is None or after is None:
            raise QgsProcessingException(tr("Both BEFORE and AFTER rasters are required."))
        for layer in (before, after):
            if layer.providerType() != "gdal":
                raise QgsProcessingException(tr("{} is not a file-based raster: save it as GeoTIFF first.").format(
                    layer.name()))
        workspace = self._workspace(parameters, context)
        site = workspace.site() if workspace is not None else None  # (name, polygon WKT, CRS WKT)
        aoi_wkt, left_out_wkt, crs_wkt = area_to_analyse(self, parameters, context, before.crs(),
                                                         fallback_aoi=(site[1], site[2]) if site else None)
        remembered = workspace.capture_dates() if workspace is not None else {}
        dates = []
        for layer, name in ((before, self.BEFORE_DATE), (after, self.AFTER_DATE)):
            given = self.parameterAsString(parameters, name, context).strip()
            found = layer_capture(layer, project=context.project(), remembered=remembered).date
            dates.append(given or (found.iso_date if found else ""))
        run_equipment = self.parameterAsBoolean(parameters, self.COUNT_EQUIPMENT, context)
        exemplars_path = exemplars_layer = None
        if run_equipment and self.parameterAsSource(parameters, self.EXEMPLARS, context) is not None:
            exemplars_path, exemplars_layer = self.parameterAsCompatibleSourceLayerPathAndLayerName(
                parameters, self.EXEMPLARS, context, ["gpkg", "geojson", "shp"], "gpkg", feedback)
        return AnalysisParameters(
            site_name=self._site_name(parameters, context, site),
            before_path=before.source(), after_path=after.source(),
            output_dir=self._output_dir(parameters, context, workspace),
            before_date=dates[0], after_date=dates[1],
            aoi_wkt=aoi_wkt, aoi_crs_wkt=crs_wkt if aoi_wkt else None, left_out_wkt=left_out_wkt,
            pixel_size_m=pixel_size(self, parameters, context),
            change=ChangeOptions(enabled=self.parameterAsBoolean(parameters, self.DETECT_CHANGES, context),
                                 **vars(change_settings(self, parameters, context))),
            equipment=EquipmentOptions(
                enabled=run_equipment,
                **vars(detection_settings(self, parameters, context)),
                **vars(match_settings(self, parameters, context)),
                exemplars_path=exemplars_path, exemplars_layer=exemplars_layer or None,
                exemplars_capture=choice_id(self, parameters, self.EXEMPLARS_CAPTURE, context, EXEMPLAR_CAPTURES),
            ),
        )

    def _site_name(self, parameters, context, site) -> str:
        given = self.parameterAsString(parameters, self.SITE_NAME, context).strip()
        if given:
            return given
        if site is not None:
            return site[0]
        aoi = self.parameterAsVectorLayer(parameters, self.AOI, context)
        return aoi.name() if aoi is not None else tr("Site")

    def _output_dir(self, parameters, context, workspace: Optional[SiteWorkspace]) -> str:
        """The analysis folder: OUTPUT_FOLDER when it is new, empty or an earlier analysis (replaced),
        else a new subfolder of it; without one, a new folder in the workspace's analyses."""
        folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        if not folder:
            if workspace is None:
                raise QgsProcessingException(tr("Give an output folder (OUTPUT_FOLDER) or a site workspace (WORKSPACE)."))
            return str(workspace.analyses_dir() / new_analysis_id())
        path = Path(folder)
        if path.is_dir() and not replaceable_folder(path):
            return str(path / new_analysis_id())  # never replace a folder of other files
        return str(path)

    @guarded
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        params = self.analysis_parameters(parameters, context, feedback)
        if feedback.isCanceled():
            return {}
        try:
            result = run_analysis(params, feedback_progress(feedback))
            workspace = self._workspace(parameters, context)
            if workspace is not None:
                from ..store.history import record_analysis

                record_analysis(workspace.path, result)
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for line in result.summary_lines:
            feedback.pushInfo(line)
        outputs = self._outputs(result)
        report = self.parameterAsFileOutput(parameters, self.OUTPUT_REPORT, context)
        if report:  # the analyst's report (plugin/report/)
            from ..report.report import report_for_analysis

            workspace = self._workspace(parameters, context)
            outputs[self.OUTPUT_REPORT] = report_for_analysis(result, report, workspace.path if workspace else None).html
        return outputs

    def _outputs(self, result) -> dict:
        gpkg = result.gpkg_path
        change, match = result.change, result.match
        totals = {name: 0 for name in ("before", "after", "arrived", "departed", "stayed", "moved")}
        for count in (match.counts if match is not None else []):
            for name in totals:
                totals[name] += int(getattr(count, name))
        return {
            self.OUTPUT_FOLDER: result.output_dir,
            self.OUTPUT_GPKG: gpkg,
            self.OUTPUT_SCORE: result.score_path or "",
            self.OUTPUT_REGIONS: f"{gpkg}|layername={LAYER_REGIONS}" if change is not None else "",
            self.OUTPUT_DETECTIONS_BEFORE: f"{gpkg}|layername={LAYER_BEFORE}" if match is not None else "",
            self.OUTPUT_DETECTIONS_AFTER: f"{gpkg}|layername={LAYER_AFTER}" if match is not None else "",
            self.OUTPUT_COUNTS: f"{gpkg}|layername={LAYER_COUNTS}" if match is not None else "",
            self.N_REGIONS: change.n_regions if change is not None else 0,
            self.CHANGED_AREA: change.changed_area_m2 if change is not None else 0.0,
            self.N_BEFORE: totals["before"],
            self.N_AFTER: totals["after"],
            **{name: totals[name.lower()] for name in EVENT_OUTPUTS},
            self.SUMMARY: "\n".join(result.summary_lines),
        }
