"""What every SiteWatch algorithm shares: translation, parameter help and flags, the core's
Progress over a Processing feedback, the area to analyse (AOI less the areas left out), and
the defaults and choices of the one parameters contract (core/parameters.py)."""
from __future__ import annotations

from typing import Iterable, Optional

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QCoreApplication

from ..core.errors import SiteWatchError
from ..core.progress import Progress
from ..qgisio.vectors import aoi_wkt_from_source, aoi_wkt_in_crs

ADVANCED = True  # third item of an add_parameters entry: folded under "Advanced parameters"


def tr(text: str) -> str:
    """The user-visible text in the user's language (context: SiteWatch)."""
    return QCoreApplication.translate("SiteWatch", text)


def add_parameters(algorithm: QgsProcessingAlgorithm, entries: Iterable[tuple]) -> None:
    """Add (parameter, help text[, ADVANCED]) entries: every parameter gets its help; tuning
    knobs fold away."""
    for parameter, help_text, *advanced in entries:
        parameter.setHelp(help_text)
        if advanced and advanced[0]:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.Flag.FlagAdvanced)
        algorithm.addParameter(parameter)


PIXEL_SIZE = "PIXEL_SIZE"  # Toolbox only: the panel's captures are map layers, placed on the map


def pixel_size_entry() -> tuple:
    """The PIXEL_SIZE parameter (an add_parameters entry) of the algorithms that measure rasters."""
    return (QgsProcessingParameterNumber(PIXEL_SIZE, tr("Pixel size (m) of captures without georeferencing"),
                                         QgsProcessingParameterNumber.Type.Double, 0.0, True, 0.0),
            tr("Ground size of one pixel in metres, for captures without georeferencing (plain PNG/JPEG). "
               "0: taken from the georeferencing."), ADVANCED)


def pixel_size(algorithm: QgsProcessingAlgorithm, parameters, context) -> Optional[float]:
    """The PIXEL_SIZE given (metres), None when not given (0) or when the algorithm has none."""
    if algorithm.parameterDefinition(PIXEL_SIZE) is None or parameters.get(PIXEL_SIZE) in (None, ""):
        return None
    return algorithm.parameterAsDouble(parameters, PIXEL_SIZE, context) or None


def choice_index(choices: dict[str, str], default: str) -> int:
    """The index of `default` in an id -> label choice list (an enum parameter's default)."""
    return list(choices).index(default)


def choice_id(algorithm: QgsProcessingAlgorithm, parameters, name: str, context, choices: dict[str, str]) -> str:
    """The id the user chose in an enum parameter built from an id -> label choice list."""
    return list(choices)[algorithm.parameterAsEnum(parameters, name, context)]


def feedback_progress(feedback, first_clause_only: bool = False) -> Progress:
    """The core's Progress reporting into a QgsProcessingFeedback (returns False to cancel).

    A message is shown when it changes; with first_clause_only, only when its text before
    the first comma changes (training reports a loss with every step)."""
    last = {"message": None}

    def callback(fraction: float, message: str) -> bool:
        if feedback is None:
            return True
        feedback.setProgress(100.0 * fraction)
        key = message.split(",")[0] if first_clause_only and message else message
        if message and key != last["message"]:
            last["message"] = key
            feedback.setProgressText(message)
        return not feedback.isCanceled()

    return Progress(callback)


def area_to_analyse(algorithm: QgsProcessingAlgorithm, parameters, context, capture_crs: QgsCoordinateReferenceSystem,
                    in_capture_crs: bool = False, fallback_aoi: Optional[tuple[str, str]] = None,
                    aoi_name: str = "AOI", leave_out_name: str = "LEAVE_OUT",
                    ) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(AOI, areas left out over it, their CRS) as WKT in one CRS: the AOI's (the capture's
    without an AOI, or with in_capture_crs). The AOI is the polygons of the AOI parameter, else
    `fallback_aoi` (WKT, CRS WKT), else none. The core subtracts the one from the other
    (area_less_left_out, or run_analysis itself). Without an AOI the first is None; with
    nothing left out the second."""
    from qgis.core import QgsGeometry

    from ..qgisio.vectors import polygons_over_site_wkt

    aoi_source = algorithm.parameterAsSource(parameters, aoi_name, context)
    left_out_source = algorithm.parameterAsSource(parameters, leave_out_name, context)
    if in_capture_crs:
        crs = capture_crs
        aoi_wkt = aoi_wkt_in_crs(aoi_source, crs, context.project()) if aoi_source is not None else None
    else:
        aoi_wkt, crs_wkt = aoi_wkt_from_source(aoi_source)
        if aoi_wkt is None and fallback_aoi is not None:
            aoi_wkt, crs_wkt = fallback_aoi
        crs = QgsCoordinateReferenceSystem.fromWkt(crs_wkt) if crs_wkt else capture_crs
    left_out_wkt = None
    if left_out_source is not None and aoi_wkt:  # as the panel keeps it: the part over the site
        left_out_wkt = polygons_over_site_wkt(left_out_source, QgsGeometry.fromWkt(aoi_wkt), crs)
    elif left_out_source is not None:
        left_out_wkt = aoi_wkt_in_crs(left_out_source, crs, context.project())
    return aoi_wkt, left_out_wkt, crs.toWkt() if (aoi_wkt or left_out_wkt) else None


def area_less_left_out(aoi_wkt: Optional[str], left_out_wkt: Optional[str], raster_path: str) -> Optional[str]:
    """The AOI (the raster's footprint without one) less the areas left out, as the core
    computes it; the AOI unchanged when nothing is left out."""
    if not left_out_wkt:
        return aoi_wkt
    from ..core.polygons import area_less_left_out as subtract

    try:
        return subtract(aoi_wkt, left_out_wkt, raster_path)
    except SiteWatchError as exc:
        raise QgsProcessingException(str(exc)) from exc
