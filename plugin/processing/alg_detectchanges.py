"""Processing algorithm sitewatch:detectchanges: change score, mask and regions of two captures."""
from __future__ import annotations

import os
import shutil
import tempfile

from qgis.core import (
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
    QgsProcessingUtils,
)

from ..core.change import detect_changes
from ..core.errors import SiteWatchError
from ..core.parameters import DEFAULT_METHOD, METHODS, ChangeParameters, ChangeSettings
from ..layers.postprocess import style_output_on_completion
from .common import (ADVANCED, add_parameters, area_less_left_out, area_to_analyse, choice_id, choice_index,
                     feedback_progress, pixel_size, pixel_size_entry, tr)
from .guard import guarded


def change_parameter_entries(alg: QgsProcessingAlgorithm) -> list[tuple]:
    """The change settings as parameters (with their help), under the names detectchanges
    gives them; sitewatch:analyzesite uses the same entries."""
    defaults = ChangeSettings()
    return [
        (QgsProcessingParameterEnum(alg.METHOD, tr("Method"), list(METHODS.values()),
                                    defaultValue=choice_index(METHODS, DEFAULT_METHOD)),
         tr("Change method; the first is the most robust to illumination and season.")),
        (QgsProcessingParameterNumber(alg.SENSITIVITY, tr("Sensitivity (0-1)"), QgsProcessingParameterNumber.Type.Double,
                                      defaults.sensitivity, False, 0.0, 1.0),
         tr("The default uses the automatic threshold; higher finds more (and fainter) changes.")),
        (QgsProcessingParameterNumber(alg.MIN_AREA, tr("Minimum region area (m²)"),
                                      QgsProcessingParameterNumber.Type.Double, defaults.min_area_m2, False, 0.0),
         tr("Change regions smaller than this are dropped (holes smaller than it are filled).")),
        (QgsProcessingParameterBoolean(alg.COREGISTER, tr("Co-register the captures"), defaults.coregister),
         tr("Estimate and remove a sub-pixel shift before comparing."), ADVANCED),
        (QgsProcessingParameterBoolean(alg.REQUIRE_COREGISTRATION, tr("Stop when no shift can be estimated"),
                                       defaults.require_coregistration),
         tr("Off: when the captures do not correlate well enough to measure a shift (much change, clouds, "
            "little texture), the run keeps their georeferenced alignment and says so. On: the run stops "
            "with an error instead."), ADVANCED),
        (QgsProcessingParameterBoolean(alg.NORMALIZE, tr("Normalise radiometry"), defaults.normalize),
         tr("Match the after capture's radiometry to the before capture on no-change pixels."), ADVANCED),
        (QgsProcessingParameterBoolean(alg.HALF_RESOLUTION, tr("Score at half resolution (faster)"),
                                       defaults.half_resolution),
         tr("Score change on 2 x 2-averaged pixels: the scoring does a quarter of the work (the whole "
            "run is about 20 % faster on an 8192 px pair), region outlines are about a pixel blunter. "
            "The outputs keep the full resolution."), ADVANCED),
        (QgsProcessingParameterBoolean(alg.NATURAL_PRIOR, tr("Natural surfaces count less (structure method)"),
                                       defaults.natural_prior),
         tr("With the structure method, change between two natural surfaces (vegetation, soil: their "
            "yellow, brown and green hues) has its odds divided by up to 10; painted and grey surfaces "
            "are not affected. Off: every change counts alike (crops, clearings, land cover)."), ADVANCED),
        (QgsProcessingParameterBoolean(alg.DROP_SHADOW_MOVES, tr("Drop shadows moved by the sun"),
                                       defaults.drop_shadow_moves),
         tr("When both captures carry their sun angles (metadata or a .IMD sidecar), drop change regions "
            "that are only the shadow of an object present on both dates, moved because the sun moved."), ADVANCED),
    ]


def change_settings(alg: QgsProcessingAlgorithm, parameters, context) -> ChangeSettings:
    """The ChangeSettings the user chose in the parameters of change_parameter_entries."""
    return ChangeSettings(
        method=choice_id(alg, parameters, alg.METHOD, context, METHODS),
        sensitivity=alg.parameterAsDouble(parameters, alg.SENSITIVITY, context),
        min_area_m2=alg.parameterAsDouble(parameters, alg.MIN_AREA, context),
        coregister=alg.parameterAsBoolean(parameters, alg.COREGISTER, context),
        require_coregistration=alg.parameterAsBoolean(parameters, alg.REQUIRE_COREGISTRATION, context),
        normalize=alg.parameterAsBoolean(parameters, alg.NORMALIZE, context),
        half_resolution=alg.parameterAsBoolean(parameters, alg.HALF_RESOLUTION, context),
        natural_prior=alg.parameterAsBoolean(parameters, alg.NATURAL_PRIOR, context),
        drop_shadow_moves=alg.parameterAsBoolean(parameters, alg.DROP_SHADOW_MOVES, context),
    )


class DetectChangesAlgorithm(QgsProcessingAlgorithm):
    BEFORE = "BEFORE"
    AFTER = "AFTER"
    AOI = "AOI"
    LEAVE_OUT = "LEAVE_OUT"
    METHOD = "METHOD"
    SENSITIVITY = "SENSITIVITY"
    MIN_AREA = "MIN_AREA"
    COREGISTER = "COREGISTER"
    REQUIRE_COREGISTRATION = "REQUIRE_COREGISTRATION"
    NORMALIZE = "NORMALIZE"
    HALF_RESOLUTION = "HALF_RESOLUTION"
    NATURAL_PRIOR = "NATURAL_PRIOR"
    DROP_SHADOW_MOVES = "DROP_SHADOW_MOVES"
    OUTPUT_SCORE = "OUTPUT_SCORE"
    OUTPUT_MASK = "OUTPUT_MASK"
    OUTPUT_REGIONS = "OUTPUT_REGIONS"
    N_REGIONS = "N_REGIONS"
    CHANGED_AREA = "CHANGED_AREA_M2"

    def name(self) -> str:
        return "detectchanges"

    def displayName(self) -> str:  # noqa: N802
        return tr("Detect changes between two captures")

    def group(self) -> str:
        return tr("Change detection")

    def groupId(self) -> str:  # noqa: N802
        return "changedetection"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr(
            "Aligns two captures of a site on a common grid (overlap, optionally inside an area of "
            "interest), co-registers them to sub-pixel accuracy, normalises the radiometry of the after "
            "capture on no-change pixels, scores change (0-1; the default sensitivity uses the automatic "
            "threshold), and writes the change mask and polygon regions (area, scores, oriented length/width, "
            "compactness). Methods: "
        ) + "; ".join(f"{k}: {v}" for k, v in METHODS.items()) + "."

    def createInstance(self):  # noqa: N802
        return DetectChangesAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterRasterLayer(self.BEFORE, tr("Before capture")), tr("The earlier capture.")),
            (QgsProcessingParameterRasterLayer(self.AFTER, tr("After capture")), tr("The later capture.")),
            (QgsProcessingParameterFeatureSource(self.AOI, tr("Area of interest"),
                                                 [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Optional polygons: changes are looked for only inside them.")),
            (QgsProcessingParameterFeatureSource(self.LEAVE_OUT, tr("Areas to leave out"), [
                QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Optional polygons over clouds, haze or anything not to judge on either date: no change is "
                "reported inside them (no data in the score and the mask).")),
            *change_parameter_entries(self),
            pixel_size_entry(),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_SCORE, tr("Change score"), optional=True,
                                                     createByDefault=False),
             tr("Float32 0-1 change score (optional: skipped when not given).")),
            (QgsProcessingParameterRasterDestination(self.OUTPUT_MASK, tr("Change mask")),
             tr("Byte mask: 1 changed, 0 unchanged, 255 no data.")),
            (QgsProcessingParameterVectorDestination(self.OUTPUT_REGIONS, tr("Change regions"),
                                                     QgsProcessing.SourceType.TypeVectorPolygon, optional=True,
                                                     createByDefault=False),
             tr("Polygons of changed regions with their attributes (GeoPackage layer change_regions; "
                "optional: skipped when not given).")),
        ])
        self.addOutput(QgsProcessingOutputNumber(self.N_REGIONS, tr("Number of change regions")))
        self.addOutput(QgsProcessingOutputNumber(self.CHANGED_AREA, tr("Changed area (m²)")))

    def runs_on_pixel_grid(self, parameters, context) -> bool:  # noqa: ARG002 (the guard's question)
        """Two captures without georeferencing may be compared on their pixel grid (warned)."""
        return True

    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        try:
            change_settings(self, parameters, context).validate()
        except SiteWatchError as exc:
            return False, str(exc)
        return True, ""

    def _parameters(self, parameters, context, scratch: str) -> ChangeParameters:
        """The core's parameters; outputs not asked for go to `scratch` (removed after the run)."""
        before = self.parameterAsRasterLayer(parameters, self.BEFORE, context)
        after = self.parameterAsRasterLayer(parameters, self.AFTER, context)
        if before is None or after is None:
            raise QgsProcessingException(tr("Both BEFORE and AFTER rasters are required."))
        aoi_wkt, left_out_wkt, aoi_crs = area_to_analyse(self, parameters, context, before.crs())
        aoi_wkt = area_less_left_out(aoi_wkt, left_out_wkt, before.source())
        regions = (self.parameterAsOutputLayer(parameters, self.OUTPUT_REGIONS, context)
                   or os.path.join(scratch, "change_regions.gpkg"))
        if not regions.lower().endswith(".gpkg"):
            regions = regions.rsplit(".", 1)[0] + ".gpkg" if "." in regions.rsplit("/", 1)[-1] else regions + ".gpkg"
        return ChangeParameters(
            before=before.source(), after=after.source(), aoi_wkt=aoi_wkt, aoi_crs_wkt=aoi_crs if aoi_wkt else None,
            **vars(change_settings(self, parameters, context)),
            score_path=(self.parameterAsOutputLayer(parameters, self.OUTPUT_SCORE, context)
                        or os.path.join(scratch, "change_score.tif")),
            mask_path=self.parameterAsOutputLayer(parameters, self.OUTPUT_MASK, context),
            regions_path=regions, pixel_size_m=pixel_size(self, parameters, context),
        )

    @guarded
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        # the score and the regions are optional outputs (a shell user names only what is wanted):
        # the run still needs them, so the ones not asked for are written here and removed
        scratch = tempfile.mkdtemp(prefix="detectchanges-", dir=QgsProcessingUtils.tempFolder())
        try:
            return self._process(parameters, context, feedback, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _process(self, parameters, context, feedback, scratch: str) -> dict:
        steps = QgsProcessingMultiStepFeedback(2, feedback)
        params = self._parameters(parameters, context, scratch)
        if steps.isCanceled():
            return {}
        try:
            result = detect_changes(params, feedback_progress(steps))
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(1)
        s = result.shift
        if s.status == "estimated":
            feedback.pushInfo(tr("Shift of the after capture: {:+.2f}, {:+.2f} px ({:+.2f}, {:+.2f} map units), "
                                 "confidence {:.2f}").format(s.dx_px, s.dy_px, s.dx_m, s.dy_m, s.confidence))
        elif s.status == "not estimated":
            feedback.pushWarning(s.describe())
        for band in result.normalisation.bands:
            feedback.pushInfo(tr("Normalisation band {}<-{}: gain {:.3f}, offset {:.2f}, r {:.3f} ({})").format(
                band.band_before, band.band_after, band.gain, band.offset, band.correlation, band.method))
        feedback.pushInfo(tr("{} change regions, {:.0f} m² changed (method {}, threshold {:.2f})").format(
            result.n_regions, result.changed_area_m2, result.method, result.threshold))
        if result.shadow_moves_dropped:
            feedback.pushInfo(tr("{} regions dropped: shadows moved by the sun").format(result.shadow_moves_dropped))
        if result.scoring:
            feedback.pushInfo(result.scoring)
        outputs = {self.OUTPUT_MASK: result.mask_path, self.N_REGIONS: result.n_regions,
                   self.CHANGED_AREA: result.changed_area_m2}
        if not result.score_path.startswith(scratch):
            style_output_on_completion(context, params.score_path, "change_score.qml", threshold=result.threshold)
            outputs[self.OUTPUT_SCORE] = result.score_path
        if not result.regions_path.startswith(scratch):
            style_output_on_completion(context, params.regions_path, "change_regions.qml")
            outputs[self.OUTPUT_REGIONS] = f"{result.regions_path}|layername={result.regions_layer}"
        return outputs

