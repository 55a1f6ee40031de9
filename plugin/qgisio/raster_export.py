"""Web and service raster layers (XYZ, WMS, WMTS) saved as GeoTIFF over a site, so the core
can read them like files.

`prepare_export` runs on the main thread (it clones the layer's provider and renderer);
`run_export` only touches those clones, so it may run in a QgsTask's worker thread.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsGeometry,
    QgsProject,
    QgsRasterBlockFeedback,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsRasterProjector,
    QgsRectangle,
)

MAX_EXPORT_PIXELS = 8000 * 8000


@dataclass
class RasterExportJob:
    layer_name: str
    provider: object  # QgsRasterDataProvider clone owned by the job
    renderer: object  # QgsRasterRenderer clone (the layer's look: RGB of tiles)
    source_crs: QgsCoordinateReferenceSystem
    crs: QgsCoordinateReferenceSystem
    extent: QgsRectangle  # in crs
    width: int
    height: int
    out_path: str
    transform_context: QgsCoordinateTransformContext

    @property
    def gsd_m(self) -> float:
        return self.extent.width() / max(1, self.width)


def utm_crs_for(geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> QgsCoordinateReferenceSystem:
    """The WGS 84 / UTM zone of a geometry's centre (metres, little distortion over a site)."""
    centre = geometry.centroid()
    to_wgs = QgsCoordinateTransform(crs, QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance())
    point = to_wgs.transform(centre.asPoint())
    zone = int(math.floor((point.x() + 180.0) / 6.0)) % 60 + 1
    return QgsCoordinateReferenceSystem(f"EPSG:{(32600 if point.y() >= 0 else 32700) + zone}")


def prepare_export(
    layer: QgsRasterLayer,
    site: QgsGeometry,
    site_crs: QgsCoordinateReferenceSystem,
    gsd_m: float,
    out_path: str,
    project: Optional[QgsProject] = None,
) -> RasterExportJob:
    """Plan the export of `layer` over the site's bounding box at `gsd_m` metres per pixel."""
    project = project or QgsProject.instance()
    if gsd_m <= 0:
        raise ValueError("The ground sample distance must be positive.")
    crs = site_crs if (site_crs.isValid() and not site_crs.isGeographic()) else utm_crs_for(site, site_crs)
    geom = QgsGeometry(site)
    if crs != site_crs:
        geom.transform(QgsCoordinateTransform(site_crs, crs, project.transformContext()))
    box = geom.boundingBox()
    width = max(1, int(math.ceil(box.width() / gsd_m)))
    height = max(1, int(math.ceil(box.height() / gsd_m)))
    if width * height > MAX_EXPORT_PIXELS:
        raise ValueError(
            f"The site is too large to download {layer.name()} at {gsd_m:.2f} m ({width} x {height} px): draw a smaller site."
        )
    extent = QgsRectangle(box.xMinimum(), box.yMaximum() - height * gsd_m, box.xMinimum() + width * gsd_m, box.yMaximum())
    return RasterExportJob(
        layer.name(), layer.dataProvider().clone(), layer.renderer().clone(), layer.crs(), crs, extent, width, height,
        str(out_path), project.transformContext(),
    )


class _Feedback(QgsRasterBlockFeedback):
    def __init__(self, on_progress: Optional[Callable[[float], bool]]):
        super().__init__()
        self._on_progress = on_progress
        self.progressChanged.connect(self._changed)

    def _changed(self, value: float) -> None:
        if self._on_progress is not None and self._on_progress(value / 100.0) is False:
            self.cancel()


def run_export(job: RasterExportJob, on_progress: Optional[Callable[[float], bool]] = None) -> str:
    """Write the job's GeoTIFF (RGB as displayed); `on_progress(fraction)` returning False cancels.

    Written to a temporary name and renamed, so a cancelled or failed export leaves no file.
    Raises RuntimeError with the reason when the service cannot be read.
    """
    out = Path(job.out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial.tif")
    pipe = QgsRasterPipe()
    if not pipe.set(job.provider):
        raise RuntimeError(f"{job.layer_name} cannot be read for saving.")
    pipe.set(job.renderer)
    projector = QgsRasterProjector()
    projector.setCrs(job.source_crs, job.crs, job.transform_context)
    pipe.insert(2, projector)
    writer = QgsRasterFileWriter(str(tmp))
    writer.setOutputFormat("GTiff")
    writer.setCreateOptions(["COMPRESS=DEFLATE", "TILED=YES"])  # a renderer last in the pipe: RGBA image mode
    feedback = _Feedback(on_progress)
    error = writer.writeRaster(pipe, job.width, job.height, job.extent, job.crs, job.transform_context, feedback)
    if feedback.isCanceled() or error != QgsRasterFileWriter.WriterError.NoError:
        for leftover in tmp.parent.glob(tmp.name + "*"):
            leftover.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
        if feedback.isCanceled():
            raise InterruptedError("cancelled")
        raise RuntimeError(f"{job.layer_name} could not be saved over the site (writer error {int(error)}).")
    os.replace(tmp, out)
    return str(out)
