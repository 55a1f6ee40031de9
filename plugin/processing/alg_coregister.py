"""Processing algorithm sitewatch:coregister: sub-pixel shift of a raster against a reference."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core.change import coregister
from ..core.errors import SiteWatchError
from ..core.parameters import ChangeParameters
from .common import ADVANCED, add_parameters, feedback_progress, pixel_size, pixel_size_entry, tr
from .guard import guarded


class CoregisterAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    MAX_SHIFT = "MAX_SHIFT"
    OUTPUT = "OUTPUT"
    DX_PX, DY_PX, DX_M, DY_M, CONFIDENCE = "DX_PX", "DY_PX", "DX_M", "DY_M", "CONFIDENCE"

    def name(self) -> str:
        return "coregister"

    def displayName(self) -> str:  # noqa: N802
        return tr("Co-register a capture to a reference")

    def group(self) -> str:
        return tr("Change detection")

    def groupId(self) -> str:  # noqa: N802
        return "changedetection"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr(
            "Estimates the sub-pixel shift of INPUT relative to REFERENCE by phase correlation of "
            "gradient-magnitude images (robust to illumination changes), with a tile-wise shift field "
            "when the displacement varies, and writes INPUT resampled onto the reference grid with the "
            "shift removed. The shift is reported in pixels and metres with a confidence (0-1); the "
            "algorithm fails when the images do not correlate or the shift exceeds the search range."
        )

    def createInstance(self):  # noqa: N802
        return CoregisterAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterRasterLayer(self.INPUT, tr("Input raster (to be aligned)")),
             tr("The capture to shift onto the reference.")),
            (QgsProcessingParameterRasterLayer(self.REFERENCE, tr("Reference raster")),
             tr("The capture whose grid and position are kept.")),
            (QgsProcessingParameterNumber(self.MAX_SHIFT, tr("Search range (pixels)"),
                                          QgsProcessingParameterNumber.Type.Double, ChangeParameters.max_shift_px,
                                          False, 1.0, 512.0),
             tr("Largest shift searched for, in reference pixels."), ADVANCED),
            pixel_size_entry(),
            (QgsProcessingParameterRasterDestination(self.OUTPUT, tr("Co-registered raster")),
             tr("INPUT resampled onto the reference grid with the shift removed.")),
        ])
        for name, label in ((self.DX_PX, tr("Shift x (pixels)")), (self.DY_PX, tr("Shift y (pixels)")),
                            (self.DX_M, tr("Shift x (map units)")), (self.DY_M, tr("Shift y (map units)")),
                            (self.CONFIDENCE, tr("Shift confidence"))):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def runs_on_pixel_grid(self, parameters, context) -> bool:  # noqa: ARG002 (the guard's question)
        """Two captures without georeferencing may be registered on their pixel grid (warned)."""
        return True

    @guarded
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(1, feedback)
        source = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        reference = self.parameterAsRasterLayer(parameters, self.REFERENCE, context)
        if source is None or reference is None:
            raise QgsProcessingException(tr("Both INPUT and REFERENCE rasters are required."))
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        max_shift = self.parameterAsDouble(parameters, self.MAX_SHIFT, context)
        try:
            result = coregister(source.source(), reference.source(), output, feedback_progress(steps),
                                max_shift_px=max_shift, pixel_size_m=pixel_size(self, parameters, context))
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        s = result.shift
        feedback.pushInfo(tr("Shift of the input: {:+.2f} px, {:+.2f} px ({:+.2f}, {:+.2f} map units), confidence {:.2f}")
                          .format(s.dx_px, s.dy_px, s.dx_m, s.dy_m, s.confidence)
                          + (tr("; local shift field from {} tiles").format(s.n_tiles) if s.local else ""))
        return {self.OUTPUT: output, self.DX_PX: s.dx_px, self.DY_PX: s.dy_px, self.DX_M: s.dx_m,
                self.DY_M: s.dy_m, self.CONFIDENCE: s.confidence}
