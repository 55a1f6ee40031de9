"""The error boundary of every SiteWatch algorithm: `@guarded` on processAlgorithm.

Before the work: the parameters the definitions describe are checked (polygon layers where
polygons are asked for and not empty where they must hold something, class fields present,
rasters georeferenced, outputs distinct, not overwriting an input and writable). During it:
the core's warnings reach the feedback. After a failure: the user reads one sentence (a defect
also names the log file holding its traceback), no traceback, and the outputs this run created
are removed; Processing then reports failure (qgis_process exits non-zero)."""
from __future__ import annotations

import functools
import logging
import os
from typing import Callable, Optional

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
    QgsWkbTypes,
)

from ..core import scratch
from ..core.errors import Cancelled, SiteWatchError
from ..core.failures import unraisable_to_log, user_message
from ..core.input_checks import check_georeferenced, is_georeferenced
from ..core.output_checks import check_outputs, check_writable
from ..qgisio.logfile import log_folder
from .common import PIXEL_SIZE, pixel_size

# layers that must hold at least one feature when given
MUST_HOLD_FEATURES = {"AOI": "the area of interest", "EXEMPLARS": "the example boxes"}
# pairs of detection layers compared class by class (both need the class field, or neither)
CLASS_COMPARED = {"compareequipment": ("BEFORE", "AFTER")}
CLASS_FIELD = "class"
_SIDE_FILES = ("", "-wal", "-shm", ".aux.xml", ".ovr", ".dbf", ".shx", ".prj", ".cpg", ".qix")


class _ToFeedback(logging.Handler):
    """Forwards the core's warnings to the run's feedback (the log panel, qgis_process's output)."""

    def __init__(self, feedback):
        super().__init__(logging.WARNING)
        self.feedback = feedback

    def emit(self, record: logging.LogRecord) -> None:
        # errors are this boundary's to report (as one sentence; their traceback to the log file)
        if self.feedback is not None and record.levelno < logging.ERROR:
            self.feedback.pushWarning(record.getMessage())


def _file_path(value: str) -> Optional[str]:
    """The file behind an output or input value; None for memory layers, databases and services."""
    text = str(value or "")
    if text.startswith("ogr:"):
        return None
    text = text.split("|", 1)[0]
    if not text or text.startswith(("memory:", "TEMPORARY_OUTPUT", "postgres", "/vsi")) or "://" in text \
            or "dbname=" in text:
        return None
    return text


def _outputs(alg, parameters, context) -> dict[str, str]:
    paths = {}
    for definition in alg.destinationParameterDefinitions():
        name = definition.name()
        if parameters.get(name) in (None, "") or isinstance(definition, QgsProcessingParameterFolderDestination):
            continue
        if isinstance(definition, QgsProcessingParameterFileDestination):
            value = alg.parameterAsFileOutput(parameters, name, context)
        else:
            value = alg.parameterAsOutputLayer(parameters, name, context)
        path = _file_path(value)
        if path:
            paths[name] = path
    return paths


def _check_rasters(alg, parameters, context, rasters: dict[str, tuple[str, str]]) -> None:
    """Rasters (name -> (path, role)) georeferenced with a CRS; without georeferencing, accepted
    when PIXEL_SIZE is given or the algorithm compares two captures on their pixel grid (it warns
    then), never beside a georeferenced one (the two cannot be put on one grid)."""
    has_size = alg.parameterDefinition(PIXEL_SIZE) is not None
    size = pixel_size(alg, parameters, context)
    on_pixels = bool(getattr(alg, "runs_on_pixel_grid", lambda *_: False)(parameters, context))
    plain = {name for name, (path, _) in rasters.items() if is_georeferenced(path) is False}
    if plain and len(plain) < len(rasters) and (size or on_pixels):
        lacking, other = ", ".join(sorted(plain)), ", ".join(sorted(set(rasters) - plain))
        raise SiteWatchError(f"{lacking} carries no georeferencing while {other} does: they cannot be put on one "
                             f"grid. Georeference both (Raster > Georeferencer, or a world file).")
    for name, (path, role) in rasters.items():
        if name in plain and (size or on_pixels):
            continue
        check_georeferenced(path, role, size, PIXEL_SIZE if has_size else "")


def _inputs(alg, parameters, context) -> dict[str, str]:
    """Raster inputs (checked for georeferencing) and every file input (not to be overwritten)."""
    paths = {}
    rasters: dict[str, tuple[str, str]] = {}
    for definition in alg.parameterDefinitions():
        name = definition.name()
        if parameters.get(name) in (None, "") or definition.isDestination():
            continue
        if isinstance(definition, QgsProcessingParameterRasterLayer):
            layer = alg.parameterAsRasterLayer(parameters, name, context)
            if layer is not None and layer.providerType() == "gdal":
                rasters[name] = (layer.source(), f"raster {name} ({definition.description()})")
                paths[name] = _file_path(layer.source()) or ""
        elif isinstance(definition, (QgsProcessingParameterFeatureSource, QgsProcessingParameterVectorLayer)):
            layer = alg.parameterAsVectorLayer(parameters, name, context)
            if layer is not None:
                paths[name] = _file_path(layer.source()) or ""
    _check_rasters(alg, parameters, context, rasters)
    return paths


def _wants_polygons_only(definition) -> bool:
    types = list(definition.dataTypes())
    return bool(types) and all(int(t) == int(QgsProcessing.SourceType.TypeVectorPolygon) for t in types)


def _check_sources(alg, parameters, context, feedback) -> None:
    fields: dict[str, list[str]] = {}
    for definition in alg.parameterDefinitions():
        name = definition.name()
        if parameters.get(name) in (None, ""):
            continue
        if isinstance(definition, QgsProcessingParameterFeatureSource):
            source = alg.parameterAsSource(parameters, name, context)
        elif isinstance(definition, QgsProcessingParameterVectorLayer):
            source = alg.parameterAsVectorLayer(parameters, name, context)
        else:
            continue
        if source is None:
            continue  # a dataset path given for a layer (training), or Processing says why
        fields[name] = source.fields().names()
        label = f"{name} ({definition.description()})"
        if _wants_polygons_only(definition):
            kind = QgsWkbTypes.geometryType(source.wkbType())
            if kind != QgsWkbTypes.GeometryType.PolygonGeometry:
                found = QgsWkbTypes.geometryDisplayString(kind).lower()
                raise SiteWatchError(f"{label} must be a polygon layer; the layer given holds {found} geometries. "
                                     f"Give polygons (or draw them) instead.")
        if name in MUST_HOLD_FEATURES and source.featureCount() == 0:
            raise SiteWatchError(f"{label} holds no features: draw {MUST_HOLD_FEATURES[name]}, or leave "
                                 f"{name} empty.")
    for definition in alg.parameterDefinitions():
        parent = definition.parentLayerParameterName() if isinstance(definition, QgsProcessingParameterField) else ""
        value = alg.parameterAsString(parameters, definition.name(), context) if parent in fields else ""
        if value and value not in fields[parent]:
            raise SiteWatchError(f"The layer {parent} has no field '{value}' ({definition.name()}): its fields are "
                                 f"{', '.join(fields[parent]) or 'none'}.")
    pair = CLASS_COMPARED.get(alg.name(), ())
    lacking = [name for name in pair if name in fields and CLASS_FIELD not in fields[name]]
    if lacking and len(lacking) < len(pair):
        raise SiteWatchError(f"{' and '.join(lacking)} has no '{CLASS_FIELD}' field while the other layer has: "
                             f"classes cannot be compared. Add the field, or give two layers SiteWatch wrote.")
    if lacking:
        feedback.pushWarning(f"Neither layer has a '{CLASS_FIELD}' field: every object is compared as one class.")


def _make_folders(paths) -> list[str]:
    """Makes the missing folders of the outputs (Processing's layer outputs do not); the ones made."""
    made: list[str] = []
    for path in paths:
        folder = os.path.dirname(os.path.abspath(path))
        missing = []
        while folder and not os.path.exists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for folder in reversed(missing):
            os.mkdir(folder)
            made.append(folder)
    return made


def _remove_folders(folders: list[str]) -> None:
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except OSError:  # not empty (another program's files) or gone
            pass


def _existing(paths) -> set[str]:
    return {p for p in paths if os.path.exists(p)}


def _remove_new_outputs(paths, existed: set[str]) -> None:
    for path in paths:
        if path in existed:
            continue
        stem = os.path.splitext(path)[0]
        for candidate in {path + s for s in _SIDE_FILES} | {stem + s for s in _SIDE_FILES[5:]}:
            try:
                if os.path.isfile(candidate):
                    os.remove(candidate)
            except OSError:
                pass


def _output_folders(alg, parameters, context) -> dict[str, str]:
    """Folder outputs, as a file to be made in each (the algorithm manages the folder's content)."""
    return {d.name(): os.path.join(alg.parameterAsString(parameters, d.name(), context), ".sitewatch-output")
            for d in alg.destinationParameterDefinitions()
            if isinstance(d, QgsProcessingParameterFolderDestination) and parameters.get(d.name()) not in (None, "")}


def check_parameters(alg, parameters, context, feedback) -> dict[str, str]:
    """The checks made before the work; the output files by parameter name."""
    _check_sources(alg, parameters, context, feedback)
    inputs = {k: v for k, v in _inputs(alg, parameters, context).items() if v}
    outputs = _outputs(alg, parameters, context)
    check_outputs(outputs, inputs)
    check_writable(_output_folders(alg, parameters, context))
    for folder in {os.path.dirname(os.path.abspath(p)) for p in outputs.values()}:
        scratch.sweep(folder)  # what killed runs left there
    return outputs


def guarded(process: Callable) -> Callable:
    """Wraps an algorithm's processAlgorithm(self, parameters, context, feedback)."""

    @functools.wraps(process)
    def run(self, parameters, context, feedback):
        where = f"sitewatch:{self.name()}"
        forward = _ToFeedback(feedback)
        core_log = logging.getLogger(__name__.rsplit(".processing", 1)[0])
        core_log.addHandler(forward)
        outputs: dict[str, str] = {}
        existed: set[str] = set()
        made: list[str] = []

        def undo() -> None:
            _remove_new_outputs(outputs.values(), existed)
            _remove_folders(made)

        try:
            outputs = check_parameters(self, parameters, context, feedback)
            existed = _existing(outputs.values())
            made = _make_folders(outputs.values())
            with unraisable_to_log(where, log_folder()):
                return process(self, parameters, context, feedback)
        except QgsProcessingException:
            undo()
            raise
        except Cancelled as exc:
            undo()
            raise QgsProcessingException(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 (the boundary: everything becomes a message)
            undo()
            raise QgsProcessingException(user_message(exc, where, log_folder())) from None
        finally:
            core_log.removeHandler(forward)

    return run
