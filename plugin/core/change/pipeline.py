"""detect_changes and coregister: align -> co-register -> normalise -> score -> mask -> regions.

Every pass streams block by block; statistics come from sample tiles spread over the grid."""
from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from dataclasses import replace
from functools import partial
from typing import Optional

import numpy as np
from osgeo import gdal, ogr

from .. import scratch
from ..deps import is_available
from ..errors import EmptyRaster, InputError
from ..gdal_scope import gdal_exceptions
from ..input_checks import PIXEL_AREAS_WARNING, PIXEL_SHIFT_WARNING, is_georeferenced, judge_pair
from ..metric import PixelFrame, pixel_frame
from ..memory import release_free_memory
from ..parallel import SideThread, thread_map
from ..progress import Progress
from . import acceleration
from .coregistration import ShiftModel, ShiftNotEstimated, estimate_shift
from .grid import AlignedPair, align_pair, check_not_empty, open_source
from .filters import half_bands, half_valid
from .methods import Tile, make_method
from .model import ChangeParameters, ChangeResult, CoregistrationResult, NormalisationFit, Shift
from .normalisation import apply_normalisation, fit_normalisation
from .outputs import blocks, build_overviews, create_raster, metres_per_unit, publish, remove_quietly, temp_name
from .scoring import fill_invalid, score_grid
from .shadows import capture_suns, drop_shadow_moves, visible_bands
from .zones import clean_and_polygonise

LOG = logging.getLogger(__name__)

SAMPLE_TILE = 256
SAMPLE_TILES = 24


def sample_tiles(pair: AlignedPair, shift: ShiftModel, halo: int, n_tiles: int = SAMPLE_TILES,
                 scale: int = 1) -> list[Tile]:
    """Tiles spread regularly over the grid (whole grid when small); halo in analysis pixels,
    scale 2: each tile handed over 2 x 2-averaged (the analysis grid). Read on this thread (the
    after capture on a side thread), resampled on the thread pool."""
    halo_px = scale * halo
    g = pair.grid
    tw, th = min(SAMPLE_TILE, g.width), min(SAMPLE_TILE, g.height)
    nx = max(1, min(math.ceil(g.width / tw), int(math.sqrt(n_tiles * g.width / g.height)) or 1))
    ny = max(1, min(math.ceil(g.height / th), n_tiles // nx or 1))

    def jobs():
        with SideThread("sitewatch-read-after") as side:
            for y in np.linspace(0, g.height - th, ny).astype(int):
                for x in np.linspace(0, g.width - tw, nx).astype(int):
                    x0, y0 = int(x) // 2 * 2 - halo_px, int(y) // 2 * 2 - halo_px
                    w, h = tw + 2 * halo_px, th + 2 * halo_px
                    (before, vb), (raw_after, va_raw) = side.both(partial(pair.before.read, x0, y0, w, h),
                                                                  partial(shift.read_raw, pair.after, x0, y0, w, h))
                    yield before, vb, raw_after, va_raw, pair.aoi(x0, y0, w, h), (x0, y0, w, h)

    def tile(before, vb, raw_after, va_raw, aoi, window) -> Tile:
        after, va = shift.resample(raw_after, va_raw, *window)
        valid = vb & va
        if aoi is not None:
            valid &= aoi
        if scale == 2:
            before, after, valid = half_bands(before), half_bands(after), half_valid(valid)
        return Tile(before, after, valid, halo)

    return [t for t in thread_map(tile, jobs()) if t.core(t.valid).sum() > 0]


def _outputs(params: ChangeParameters) -> tuple[str, str, str]:
    def pick(explicit, default):
        if explicit:
            return explicit
        if not params.output_dir:
            raise InputError("Give an output folder or explicit output paths for the change outputs.")
        return os.path.join(params.output_dir, default)

    paths = (pick(params.score_path, "change_score.tif"), pick(params.mask_path, "change_mask.tif"),
             pick(params.regions_path, "change_regions.gpkg"))
    for p in paths:
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
    return paths


def _validate(params: ChangeParameters) -> None:
    params.validate()
    make_method(params.method)  # an unknown id fails before any work


# GDAL's block cache defaults to 5 % of RAM: cap it. Strips are read whole and their shared
# rows and columns kept (scoring._StripReader), so the cache only buffers the tiles being written.
CACHE_BYTES = 16 * 1024 * 1024


class _GdalSettings:
    """Caps GDAL's block cache during a run; restores the caller's setting.

    GDAL_NUM_THREADS is left as the caller has it (unset: GDAL decodes on the reading thread).
    The score pass reads the two inputs on two threads of its own, which takes about 10 % less
    CPU than GDAL's worker pool decoding them in turn; the outputs are compressed on GDAL's
    threads (outputs.GTIFF_OPTIONS)."""

    def __enter__(self):
        self.exceptions = gdal_exceptions()  # GDAL raises inside SiteWatch's calls only
        self.exceptions.__enter__()
        self.previous = gdal.GetCacheMax()
        if self.previous > CACHE_BYTES:
            gdal.SetCacheMax(CACHE_BYTES)
        return self

    def __exit__(self, *exc):
        gdal.SetCacheMax(self.previous)
        self.exceptions.__exit__(*exc)
        return False


def detect_changes(params: ChangeParameters, progress: Optional[Progress] = None) -> ChangeResult:
    """Run the whole change detection; outputs appear only when everything succeeded."""
    with _GdalSettings():
        return _detect_changes(params, progress)


def _detect_changes(params: ChangeParameters, progress: Optional[Progress] = None) -> ChangeResult:
    progress = progress or Progress()
    _validate(params)
    score_path, mask_path, regions_path = _outputs(params)
    temps = {k: temp_name(p) for k, p in (("score", score_path), ("mask", mask_path), ("regions", regions_path))}
    work = tempfile.mkdtemp(prefix="work-", dir=scratch.run_folder(os.path.dirname(os.path.abspath(mask_path))))
    pair = None
    try:
        progress.report(0.0, "Aligning the two captures")
        frame = pixel_frame(params.pixel_size_m, params.before, params.after)
        pair = align_pair(params.before, params.after, frame.to_metric_wkt(params.aoi_wkt), params.aoi_crs_wkt,
                          params.band_map,
                          params.resolution, params.cloud_mask_before, params.cloud_mask_after,
                          params.pixel_size_m or 1.0, temp_dir=work)
        check_not_empty(pair)
        warnings = _pixel_grid_warning(params.pixel_size_m, PIXEL_AREAS_WARNING, params.before, params.after)
        warnings += judge_pair(pair) + _same_capture_warning(params.before, params.after)
        acceleration.preload()  # once the inputs are known usable; settled below whatever happens
        grid = pair.grid
        progress.report(0.03, f"Common grid {grid.width} x {grid.height} px at {grid.pixel_width:g}")
        mpu = metres_per_unit(grid)
        pixel_m = grid.pixel_width * mpu
        min_area_px = int(math.ceil(params.min_area_m2 / (grid.pixel_area * mpu * mpu))) if params.min_area_m2 > 0 else 0
        method = make_method(params.method, natural_prior=params.natural_prior)
        method.analysis_scale = 2 if params.half_resolution else 1
        method.band_keys = list(pair.band_keys)
        shift, shift_model = Shift(), ShiftModel()
        if params.coregister:
            shift, shift_model = _estimate_shift(params, pair, progress.stage(0.03, 0.12))
            progress.report(0.12, shift.describe())

        scale = method.analysis_scale
        tiles = sample_tiles(pair, shift_model, method.halo, scale=scale)
        pixels_b = np.concatenate([t.core(t.before)[:, t.core(t.valid)] for t in tiles], axis=1) if tiles else None
        if pixels_b is None or pixels_b.shape[1] < 16:
            raise EmptyRaster(f"{pair.before_name} and {pair.after_name} have no valid pixels in common "
                              f"(nodata, clouds or the area of interest cover everything).")
        fill = pixels_b.mean(1).astype(np.float32)
        norm = NormalisationFit()
        if params.normalize:
            progress.report(0.14, "Fitting the radiometric normalisation")
            pixels_a = np.concatenate([t.core(t.after)[:, t.core(t.valid)] for t in tiles], axis=1)
            norm = fit_normalisation(pixels_b.T, pixels_a.T, pair.band_pairs)
            del pixels_a
        del pixels_b  # not needed for the rest of the run (tens of MB on large grids)
        for t in tiles:
            t.after = apply_normalisation(t.after, norm)
            fill_invalid(t.before, t.valid, fill)
            fill_invalid(t.after, t.valid, fill)
        release_free_memory()  # the sample pixels, freed: the fit's peak does not land on them
        scoring = method.prepare(lambda message: progress.report(0.16, message))
        if scoring:
            progress.report(0.165, scoring)
        progress.report(0.17, "Fitting the change model")
        method.fit(tiles)
        del tiles
        release_free_memory()  # the fit's arrays, freed: the score pass's peak does not land on them

        threshold = float(min(max(1.0 - params.sensitivity, 0.0), 1.0))
        raw_path = os.path.join(work, "raw_mask.tif")
        block_size = max(32, int(params.block_size) + int(params.block_size) % 2)  # even: 2x decimation aligns
        score_grid(pair, method, shift_model, norm, fill, threshold, temps["score"], raw_path, block_size,
                   progress.stage(0.2, 0.8))
        release_free_memory()  # the blocks' arrays, freed in the threads' heaps

        # mask clean-up in ground units, overviews, regions
        radius_m = params.cleanup_radius_m if params.cleanup_radius_m is not None else pixel_m
        radius_px = int(round(radius_m / pixel_m)) if radius_m > 0 else 0
        regions, n_regions, area = clean_and_polygonise(raw_path, temps["score"], temps["mask"], temps["regions"],
                                                        "change_regions", grid, radius_px, min_area_px, mpu,
                                                        progress.stage(0.8, 0.99), block_size)
        release_free_memory()  # the clean-up's zone arrays, before the shadow test reads its windows
        shadow_moves = _drop_shadow_moves(params, pair, shift_model, temps, progress.stage(0.99, 1.0))
        if shadow_moves:
            gone = {(x, y) for x, y, _ in shadow_moves}
            regions = [r for r in regions if (r.centroid_x, r.centroid_y) not in gone]
            n_regions -= len(shadow_moves)
            area -= sum(a for _, _, a in shadow_moves)
        pair.close()
        regions = _to_shown_frame(frame, temps, regions)
        for key, final in (("score", score_path), ("mask", mask_path), ("regions", regions_path)):
            publish(temps[key], final)
        progress.report(1.0, f"{n_regions} change regions, {area:.0f} m2 changed")
        return ChangeResult(
            score_path=score_path, mask_path=mask_path, regions_path=regions_path, method=params.method,
            threshold=threshold, raw_threshold=float(method.raw_threshold), changed_area_m2=area,
            n_regions=n_regions, regions=regions, shift=shift, normalisation=norm, grid=grid,
            band_pairs=list(pair.band_pairs), shadow_moves_dropped=len(shadow_moves), scoring=scoring,
            scoring_advice=method.scoring_advice(), warnings=warnings,
        )
    except BaseException:
        remove_quietly(*temps.values())
        raise
    finally:
        if pair is not None:
            pair.close()
        shutil.rmtree(work, ignore_errors=True)
        scratch.release(work)
        acceleration.settle()


def _to_shown_frame(frame: PixelFrame, temps: dict, regions: list) -> list:
    """Outputs of captures without georeferencing moved from the metric frame to the one QGIS
    shows them in (rasters' geotransforms, regions' geometries and centroids); sizes, areas
    and attributes stay in metres. The identity otherwise."""
    if frame.identity:
        return regions
    for key in ("score", "mask"):
        ds = gdal.Open(temps[key], gdal.GA_Update)
        ds.SetGeoTransform(frame.from_metric_geotransform(ds.GetGeoTransform()))
        ds = None
    ds = ogr.Open(temps["regions"], 1)
    layer = ds.GetLayerByName("change_regions")
    layer.StartTransaction()
    for feature in layer:
        geom = feature.GetGeometryRef()
        frame.from_metric_geometry(geom)
        feature.SetGeometry(geom)
        layer.SetFeature(feature)
    layer.CommitTransaction()
    ds = None
    out = []
    for r in regions:
        cx, cy = frame.from_metric_point(r.centroid_x, r.centroid_y)
        out.append(replace(r, wkt=frame.from_metric_wkt(r.wkt), centroid_x=cx, centroid_y=cy))
    return out


def _estimate_shift(params: ChangeParameters, pair: AlignedPair, progress: Progress) -> tuple[Shift, ShiftModel]:
    """The shift of after vs before; when no window correlates confidently, the georeferenced
    alignment (zero shift), said in the log and the result, unless the shift is required."""
    try:
        return estimate_shift(pair, params.max_shift_px, params.local_shift, progress)
    except ShiftNotEstimated as exc:
        if params.require_coregistration:
            raise ShiftNotEstimated(f"{exc}. Co-registration is required for this run: turn that option off "
                                    f"to go on with the georeferenced alignment.") from exc
        shift = Shift(status="not estimated", note=str(exc))
        LOG.warning("%s", shift.describe())
        return shift, ShiftModel()


def _drop_shadow_moves(params: ChangeParameters, pair: AlignedPair, shift_model: ShiftModel, temps: dict,
                       progress: Progress) -> list[tuple[float, float, float]]:
    """Regions that are only a shadow moved by the sun, removed when both captures carry their
    sun angles (and scipy is there); [] otherwise."""
    if not params.drop_shadow_moves or not is_available("scipy"):
        return []
    suns = capture_suns(params.before, params.after)
    if suns[0] is None or suns[1] is None:
        return []
    return drop_shadow_moves(pair, shift_model, temps["mask"], temps["regions"], "change_regions", suns,
                             visible_bands(pair.band_keys), progress)


def coregister(input_path: str, reference_path: str, output_path: Optional[str], progress: Optional[Progress] = None,
               max_shift_px: float = ChangeParameters.max_shift_px,
               local: bool = ChangeParameters.local_shift,
               pixel_size_m: Optional[float] = ChangeParameters.pixel_size_m) -> CoregistrationResult:
    """Estimate the shift of input vs reference; when output_path is given, write the input
    resampled onto the reference grid with the shift removed (all input bands). pixel_size_m:
    the ground size of a pixel of rasters without georeferencing (None: shifts in pixels, warned)."""
    with _GdalSettings():
        return _coregister(input_path, reference_path, output_path, progress, max_shift_px, local, pixel_size_m)


def _same_capture_warning(before: str, after: str) -> list[str]:
    """A warning when both dates are one file: nothing can have changed between them."""
    try:
        same = os.path.samefile(before, after)
    except OSError:  # not plain files (a /vsi path, a URL): compare the names
        same = before == after
    if not same:
        return []
    text = (f"BEFORE and AFTER are the same file ({os.path.basename(before)}): no change can be found; "
            f"pick captures of two dates.")
    LOG.warning(text)
    return [text]


def _pixel_grid_warning(pixel_size_m: Optional[float], text: str, *paths: str) -> list[str]:
    """[text] (also logged) when no pixel size is given and no raster is georeferenced: the run
    measures in pixels; [] otherwise."""
    if pixel_size_m or any(is_georeferenced(p) for p in paths):
        return []
    LOG.warning(text)
    return [text]


def _coregister(input_path, reference_path, output_path, progress, max_shift_px, local,
                pixel_size_m=None) -> CoregistrationResult:
    progress = progress or Progress()
    ref = open_source(reference_path, "reference")
    inp = open_source(input_path, "input")
    band_map = [(ref.data_bands[min(k, len(ref.data_bands) - 1)], b) for k, b in enumerate(inp.data_bands)]
    dtype = inp.ds.GetRasterBand(inp.data_bands[0]).DataType
    nodata = inp.ds.GetRasterBand(inp.data_bands[0]).GetNoDataValue()
    ref = inp = None
    pair = align_pair(reference_path, input_path, band_map=band_map, resolution="before", reference_grid=True,
                      pixel_size_m=pixel_size_m or 1.0)
    warnings = _pixel_grid_warning(pixel_size_m, PIXEL_SHIFT_WARNING, reference_path, input_path)
    temp = temp_name(output_path) if output_path else None
    try:
        check_not_empty(pair)
        judge_pair(pair)  # a uniform capture cannot be registered: say so rather than "no correlation"
        shift, model = estimate_shift(pair, max_shift_px, local, progress.stage(0.0, 0.3))
        if output_path:
            fill = 0.0 if nodata is None else nodata
            frame = pixel_frame(pixel_size_m, reference_path, input_path)  # the output overlays the reference
            shown = replace(pair.grid, geotransform=frame.from_metric_geotransform(pair.grid.geotransform))
            ds = create_raster(temp, shown, len(band_map), dtype, fill)
            info = np.iinfo(gdal_array_type(dtype)) if np.issubdtype(gdal_array_type(dtype), np.integer) else None
            windows = list(blocks(pair.grid.width, pair.grid.height, 512))
            for i, (x, y, w, h) in enumerate(windows):
                progress.report(0.3 + 0.65 * i / len(windows), "Writing the co-registered raster")
                data, valid = model.read(pair.after, x, y, w, h)
                if info is not None:
                    data = np.clip(np.round(data), info.min, info.max)
                data[:, ~valid] = fill
                for b in range(len(band_map)):
                    ds.GetRasterBand(b + 1).WriteArray(data[b].astype(gdal_array_type(dtype)), x, y)
            ds = None
            progress.report(0.95, "Building overviews")
            build_overviews(temp)
            publish(temp, output_path)
        progress.report(1.0, f"Shift {shift.dx_px:+.2f}, {shift.dy_px:+.2f} px")
        return CoregistrationResult(output_path, shift, pair.grid, warnings)
    except BaseException:
        remove_quietly(temp)
        raise
    finally:
        pair.close()


def gdal_array_type(data_type: int):
    from osgeo import gdal_array

    return gdal_array.GDALTypeCodeToNumericTypeCode(data_type)
