"""QGIS -> core for training: a polygon layer with a class field over raster layers -> examples."""
from __future__ import annotations

from typing import Optional, Sequence

from qgis.core import QgsFeatureSource, QgsProject, QgsRasterLayer

from ..core.equipment.detection import Detection
from ..core.errors import InputError
from .captures import layer_file_path
from .detections import features_to_detections


def layer_examples(source: QgsFeatureSource, rasters: Sequence[QgsRasterLayer], class_field: str = "class",
                   project: Optional[QgsProject] = None) -> list[tuple[str, list[Detection]]]:
    """(raster file, boxes in the raster's CRS whose centre lies on it) for each raster with examples.

    Rasters without any example are left out (their objects are unlabelled, not absent).
    """
    if class_field and class_field not in source.fields().names():
        raise InputError(f"The training layer has no field '{class_field}'; choose the field that holds "
                         f"the class (fields: {', '.join(source.fields().names())}).")
    if not rasters:
        raise InputError("Choose the images the training boxes were drawn on.")
    examples: list[tuple[str, list[Detection]]] = []
    for layer in rasters:
        path = layer_file_path(layer)
        if path is None:
            raise InputError(f"'{layer.name()}' is not a local raster file; training reads image files "
                             "(save web or service layers to GeoTIFF first).")
        extent = layer.extent()
        dets = [d for d in features_to_detections(source, layer.crs(), class_field, project)
                if extent.xMinimum() <= d.cx <= extent.xMaximum() and extent.yMinimum() <= d.cy <= extent.yMaximum()]
        if dets:
            examples.append((path, dets))
    if not examples:
        raise InputError("No training box lies on the chosen images (check the layers' CRS and extents).")
    return examples
