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
from ..core.progress import Progress


def feedback_progress(feedback) -> Progress:
    """The core's Progress reporting into a QgsProcessingFeedback (False = cancel)."""
    last = {"message": None}

    def callback(fraction: float, message: str):
        if feedback is None:
            return True
        feedback.setProgress(100.0 * fraction)
        if message and message != last["message"]:
            last["message"] = message
            feedback.setProgressText(message)
        return not feedback.isCanceled()

    return Progress(callback)


class CoregisterAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    REFERENCE = "REFERENCE"
    MAX_SHIFT = "MAX_SHIFT"
    OUTPUT = "OUTPUT"
    DX_PX, DY_PX, DX_M, DY_M, CONFIDENCE = "DX_PX", "DY_PX", "DX_M", "DY_M", "CONFIDENCE"

    def name(self) -> str:
        return "coregister"

    def displayName(self) -> str:  # noqa: N802
        return "Co-register a capture to a reference"

    def group(self) -> str:
        return "Change detection"

    def groupId(self) -> str:  # noqa: N802
        return "changedetection"

    def shortHelpString(self) -> str:  # noqa: N802
        return (
            "Estimates the sub-pixel shift of INPUT relative to REFERENCE by phase correlation of "
            "gradient-magnitude images (robust to illumination changes), with a tile-wise shift field "
            "when the displacement varies, and writes INPUT resampled onto the reference grid with the "
            "shift removed. The shift is reported in pixels and metres with a confidence (0-1); the "
            "algorithm fails when the images do not correlate or the shift exceeds the search range."
        )

    def createInstance(self):  # noqa: N802
        return CoregisterAlgorithm()

    def initAlgorithm(self, config=None):  # noqa: N802
        params = [
            (QgsProcessingParameterRasterLayer(self.INPUT, "Input raster (to be aligned)"),
             "The capture to shift onto the reference."),
            (QgsProcessingParameterRasterLayer(self.REFERENCE, "Reference raster"),
             "The capture whose grid and position are kept."),
            (QgsProcessingParameterNumber(self.MAX_SHIFT, "Search range (pixels)",
                                          QgsProcessingParameterNumber.Type.Double, 32.0, False, 1.0, 512.0),
             "Largest shift searched for, in reference pixels."),
            (QgsProcessingParameterRasterDestination(self.OUTPUT, "Co-registered raster"),
             "INPUT resampled onto the reference grid with the shift removed."),
        ]
        for param, help_text in params:
            param.setHelp(help_text)
            if param.name() == self.MAX_SHIFT:
                param.setFlags(param.flags() | param.Flag.FlagAdvanced)
            self.addParameter(param)
        for name, label in ((self.DX_PX, "Shift x (pixels)"), (self.DY_PX, "Shift y (pixels)"),
                            (self.DX_M, "Shift x (map units)"), (self.DY_M, "Shift y (map units)"),
                            (self.CONFIDENCE, "Shift confidence")):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(1, feedback)
        source = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        reference = self.parameterAsRasterLayer(parameters, self.REFERENCE, context)
        if source is None or reference is None:
            raise QgsProcessingException("Both INPUT and REFERENCE rasters are required.")
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        max_shift = self.parameterAsDouble(parameters, self.MAX_SHIFT, context)
        try:
            result = coregister(source.source(), reference.source(), output, feedback_progress(steps),
                                max_shift_px=max_shift)
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        s = result.shift
        feedback.pushInfo(
            f"Shift of the input: {s.dx_px:+.2f} px, {s.dy_px:+.2f} px ({s.dx_m:+.2f}, {s.dy_m:+.2f} map units), "
            f"confidence {s.confidence:.2f}" + (f"; local shift field from {s.n_tiles} tiles" if s.local else "")
        )
        return {self.OUTPUT: output, self.DX_PX: s.dx_px, self.DY_PX: s.dy_px, self.DX_M: s.dx_m,
                self.DY_M: s.dy_m, self.CONFIDENCE: s.confidence}
