"""Processing algorithm sitewatch:detectchanges: change score, mask and regions of two captures."""
from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..core.change import METHODS, ChangeParameters, detect_changes
from ..core.errors import SiteWatchError
from ..core.polygons import area_less_left_out
from ..layers.postprocess import style_output_on_completion
from ..qgisio.vectors import aoi_wkt_from_source, aoi_wkt_in_crs
from .alg_coregister import feedback_progress


class DetectChangesAlgorithm(QgsProcessingAlgorithm):
    BEFORE = "BEFORE"
    AFTER = "AFTER"
    AOI = "AOI"
    LEAVE_OUT = "LEAVE_OUT"
    METHOD = "METHOD"
    SENSITIVITY = "SENSITIVITY"
    MIN_AREA = "MIN_AREA"
    COREGISTER = "COREGISTER"
    NORMALIZE = "NORMALIZE"
    HALF_RESOLUTION = "HALF_RESOLUTION"
    DROP_SHADOW_MOVES = "DROP_SHADOW_MOVES"
    OUTPUT_SCORE = "OUTPUT_SCORE"
    OUTPUT_MASK = "OUTPUT_MASK"
    OUTPUT_REGIONS = "OUTPUT_REGIONS"
    N_REGIONS = "N_REGIONS"
    CHANGED_AREA = "CHANGED_AREA_M2"

    def name(self) -> str:
        return "detectchanges"

    def displayName(self) -> str:  # noqa: N802
        return "Detect changes between two captures"

    def group(self) -> str:
        return "Change detection"

    def groupId(self) -> str:  # noqa: N802
        return "changedetection"

    def shortHelpString(self) -> str:  # noqa: N802
        return (
            "Aligns two captures of a site on a common grid (overlap, optionally inside an area of "
            "interest), co-registers them to sub-pixel accuracy, normalises the radiometry of the after "
            "capture on no-change pixels, scores change (0-1, 0.5 = automatic threshold), and writes the "
            "change mask and polygon regions (area, scores, oriented length/width, compactness). "
            "Methods: " + "; ".join(f"{k}: {v}" for k, v in METHODS.items()) + "."
        )

    def createInstance(self):  # noqa: N802
        return DetectChangesAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        method_labels = list(METHODS.values())
        params = [
            (QgsProcessingParameterRasterLayer(self.BEFORE, "Before capture"), "The earlier capture.", False),
            (QgsProcessingParameterRasterLayer(self.AFTER, "After capture"), "The later capture.", False),
            (QgsProcessingParameterFeatureSource(self.AOI, "Area of interest", [QgsProcessing.SourceType.TypeVectorPolygon],
                                                 optional=True),
             "Optional polygons: changes are looked for only inside them.", False),
            (QgsProcessingParameterFeatureSource(self.LEAVE_OUT, "Areas to leave out", [
                QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             "Optional polygons over clouds, haze or anything not to judge on either date: no change is "
             "reported inside them (no data in the score and the mask).", False),
            (QgsProcessingParameterEnum(self.METHOD, "Method", method_labels, defaultValue=0),
             "Change method; the first is the most robust to illumination and season.", False),
            (QgsProcessingParameterNumber(self.SENSITIVITY, "Sensitivity (0-1)", QgsProcessingParameterNumber.Type.Double,
                                          0.5, False, 0.0, 1.0),
             "0.5 uses the automatic threshold; higher finds more (and fainter) changes.", False),
            (QgsProcessingParameterNumber(self.MIN_AREA, "Minimum region area (m²)",
                                          QgsProcessingParameterNumber.Type.Double, 50.0, False, 0.0),
             "Change regions smaller than this are dropped (holes smaller than it are filled).", False),
            (QgsProcessingParameterBoolean(self.COREGISTER, "Co-register the captures", True),
             "Estimate and remove a sub-pixel shift before comparing.", True),
            (QgsProcessingParameterBoolean(self.NORMALIZE, "Normalise radiometry", True),
             "Match the after capture's radiometry to the before capture on no-change pixels.", True),
            (QgsProcessingParameterBoolean(self.HALF_RESOLUTION, "Score at half resolution (faster)", False),
             "Score change on 2 x 2-averaged pixels: the scoring does a quarter of the work (the whole "
             "run is about 20 % faster on an 8192 px pair), region outlines are about a pixel blunter. "
             "The outputs keep the full resolution.", True),
            (QgsProcessingParameterBoolean(self.DROP_SHADOW_MOVES, "Drop shadows moved by the sun", True),
             "When both captures carry their sun angles (metadata or a .IMD sidecar), drop change regions "
             "that are only the shadow of an object present on both dates, moved because the sun moved.", True),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_SCORE, "Change score"),
             "Float32 0-1 change score.", False),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_MASK, "Change mask"),
             "Byte mask: 1 changed, 0 unchanged, 255 no data.", False),
            (QgsProcessingParameterVectorDestination(self.OUTPUT_REGIONS, "Change regions",
                                                     QgsProcessing.SourceType.TypeVectorPolygon),
             "Polygons of changed regions with their attributes (GeoPackage layer change_regions).", False),
        ]
        for param, help_text, advanced in params:
            param.setHelp(help_text)
            if advanced:
                param.setFlags(param.flags() | param.Flag.FlagAdvanced)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputNumber(self.N_REGIONS, "Number of change regions"))
        self.addOutput(QgsProcessingOutputNumber(self.CHANGED_AREA, "Changed area (m²)"))

    def _parameters(self, parameters, context) -> ChangeParameters:
        before = self.parameterAsRasterLayer(parameters, self.BEFORE, context)
        after = self.parameterAsRasterLayer(parameters, self.AFTER, context)
        if before is None or after is None:
            raise QgsProcessingException("Both BEFORE and AFTER rasters are required.")
        aoi_wkt, aoi_crs = aoi_wkt_from_source(self.parameterAsSource(parameters, self.AOI, context))
        left_out_source = self.parameterAsSource(parameters, self.LEAVE_OUT, context)
        if left_out_source is not None:  # cut from the AOI, in its CRS (the before capture's without one)
            crs = QgsCoordinateReferenceSystem.fromWkt(aoi_crs) if aoi_wkt else before.crs()
            left_out = aoi_wkt_in_crs(left_out_source, crs, context.project())
            if left_out:
                try:
                    aoi_wkt, aoi_crs = area_less_left_out(aoi_wkt, left_out, before.source()), crs.toWkt()
                except SiteWatchError as exc:
                    raise QgsProcessingException(str(exc)) from exc
        regions = self.parameterAsOutputLayer(parameters, self.OUTPUT_REGIONS, context)
        if not regions.lower().endswith(".gpkg"):
            regions = regions.rsplit(".", 1)[0] + ".gpkg" if "." in regions.rsplit("/", 1)[-1] else regions + ".gpkg"
        return ChangeParameters(
            before=before.source(), after=after.source(), aoi_wkt=aoi_wkt, aoi_crs_wkt=aoi_crs,
            method=list(METHODS)[self.parameterAsEnum(parameters, self.METHOD, context)],
            sensitivity=self.parameterAsDouble(parameters, self.SENSITIVITY, context),
            min_area_m2=self.parameterAsDouble(parameters, self.MIN_AREA, context),
            coregister=self.parameterAsBoolean(parameters, self.COREGISTER, context),
            normalize=self.parameterAsBoolean(parameters, self.NORMALIZE, context),
            half_resolution=self.parameterAsBoolean(parameters, self.HALF_RESOLUTION, context),
            drop_shadow_moves=self.parameterAsBoolean(parameters, self.DROP_SHADOW_MOVES, context),
            score_path=self.parameterAsOutputLayer(parameters, self.OUTPUT_SCORE, context),
            mask_path=self.parameterAsOutputLayer(parameters, self.OUTPUT_MASK, context),
            regions_path=regions,
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(2, feedback)
        params = self._parameters(parameters, context)
        if steps.isCanceled():
            return {}
        try:
            result = detect_changes(params, feedback_progress(steps))
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(1)
        if params.coregister:
            s = result.shift
            feedback.pushInfo(f"Shift of the after capture: {s.dx_px:+.2f}, {s.dy_px:+.2f} px "
                              f"({s.dx_m:+.2f}, {s.dy_m:+.2f} map units), confidence {s.confidence:.2f}")
        for band in result.normalisation.bands:
            feedback.pushInfo(f"Normalisation band {band.band_before}<-{band.band_after}: gain {band.gain:.3f}, "
                              f"offset {band.offset:.2f}, r {band.correlation:.3f} ({band.method})")
        feedback.pushInfo(f"{result.n_regions} change regions, {result.changed_area_m2:.0f} m² changed "
                          f"(method {result.method}, threshold {result.threshold:.2f})")
        if result.shadow_moves_dropped:
            feedback.pushInfo(f"{result.shadow_moves_dropped} regions dropped: shadows moved by the sun")
        if result.scoring:
            feedback.pushInfo(result.scoring)
        style_output_on_completion(context, params.score_path, "change_score.qml", threshold=result.threshold)
        style_output_on_completion(context, params.regions_path, "change_regions.qml")
        return {
            self.OUTPUT_SCORE: result.score_path,
            self.OUTPUT_MASK: result.mask_path,
            self.OUTPUT_REGIONS: f"{result.regions_path}|layername={result.regions_layer}",
            self.N_REGIONS: result.n_regions,
            self.CHANGED_AREA: result.changed_area_m2,
        }

