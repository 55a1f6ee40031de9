"""The two-date site analysis: change detection, equipment per date, cross-date matching.

The dock (through a QgsTask), the demo and batch scripts all call `run_analysis`; it writes
one GeoPackage per analysis with every result layer, so a run can be reopened later.
"""
from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from . import scratch
from .errors import InputError
from .gdal_scope import gdal_exceptions
from .parameters import (  # noqa: F401  (the contract, re-exported for the dock and the batch tools)
    AnalysisParameters,
    ChangeOptions,
    ChangeParameters,
    ChangeSettings,
    DetectionParameters,
    DetectionSettings,
    EquipmentOptions,
    MatchSettings,
    settings_of,
)
from .progress import Progress

LOG = logging.getLogger(__name__)

GPKG_NAME = "analysis.gpkg"
LAYER_REGIONS = "change_regions"
LAYER_BEFORE = "detections_before"
LAYER_AFTER = "detections_after"
LAYER_COUNTS = "counts"
LAYER_LEFT_OUT = "left_out"  # the areas left out (params.left_out_wkt), kept with the results
LAYER_MATCHES = "matches"  # one row per event: the object ids of its before and after detection


@dataclass
class AnalysisResult:
    params: AnalysisParameters
    output_dir: str
    gpkg_path: str
    score_path: Optional[str] = None
    mask_path: Optional[str] = None
    change: object = None  # change.ChangeResult
    detections_before: list = field(default_factory=list)
    detections_after: list = field(default_factory=list)
    match: object = None  # equipment.matching.MatchResult
    summary_lines: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    left_out_m2: float = 0.0  # ground area of the site left out (params.left_out_wkt)
    warnings: list[str] = field(default_factory=list)  # inputs that could not be judged (also in the summary)

    @property
    def title(self) -> str:
        p = self.params
        return f"SiteWatch: {p.site_name} {p.before_date} -> {p.after_date}".strip()


def _exemplars(options: EquipmentOptions) -> Optional[list]:
    if not options.exemplars_path:
        return None
    from .equipment.api import read_detections

    return read_detections(options.exemplars_path, options.exemplars_layer)


def _exemplar_raster(params: AnalysisParameters) -> Optional[str]:
    """The capture the example boxes were drawn on (None: "each", every capture its own)."""
    return {"before": params.before_path, "after": params.after_path}.get(params.equipment.exemplars_capture)


def analysis_area(params: AnalysisParameters) -> tuple[Optional[str], Optional[str]]:
    """The area to analyse (WKT) and its CRS (WKT): the AOI less the areas left out."""
    if not params.left_out_wkt:
        return params.aoi_wkt, params.aoi_crs_wkt
    from .polygons import area_less_left_out, footprint_wkt

    crs = params.aoi_crs_wkt if params.aoi_wkt else footprint_wkt(params.before_path)[1]
    return area_less_left_out(params.aoi_wkt, params.left_out_wkt, params.before_path), crs


def left_out_m2(params: AnalysisParameters, area: Optional[tuple[Optional[str], Optional[str]]] = None) -> float:
    """Ground area of the site that params.left_out_wkt removes (m²; 0 in a geographic CRS);
    area: analysis_area(params) when already computed."""
    if not params.left_out_wkt:
        return 0.0
    from .polygons import footprint_wkt

    area_wkt, area_crs = area or analysis_area(params)
    whole = params.aoi_wkt or footprint_wkt(params.before_path)[0]
    scale = _frame(params).metres_per_unit  # a capture without georeferencing: its shown frame, in metres
    return (_ground_area_m2(whole, area_crs) - _ground_area_m2(area_wkt, area_crs)) * scale * scale


def _frame(params: AnalysisParameters):
    """The frame QGIS shows captures without georeferencing in (metric.PixelFrame)."""
    from .metric import pixel_frame

    return pixel_frame(params.pixel_size_m, params.before_path, params.after_path)


def _ground_area_m2(wkt: Optional[str], crs_wkt: Optional[str]) -> float:
    """Area of a WKT polygon in m² (its CRS's linear unit; 0 in a geographic CRS)."""
    from osgeo import ogr, osr

    if not wkt:
        return 0.0
    unit = 1.0
    if crs_wkt:
        srs = osr.SpatialReference()
        srs.ImportFromWkt(crs_wkt)
        if srs.IsGeographic():
            return 0.0
        unit = srs.GetLinearUnits() or 1.0
    return ogr.CreateGeometryFromWkt(wkt).GetArea() * unit * unit


def _detect(raster: str, capture: str, params: AnalysisParameters, exemplars, area_wkt: Optional[str],
            progress: Progress):
    """The DetectionResult of one capture, inside area_wkt (analysis_area)."""
    from .equipment.api import detect_equipment

    return detect_equipment(
        DetectionParameters(
            raster=raster, **settings_of(DetectionSettings, params.equipment), exemplars=exemplars,
            exemplar_raster=_exemplar_raster(params) if exemplars else None, aoi_wkt=area_wkt, capture=capture,
            pixel_size_m=params.pixel_size_m,
        ),
        progress,
    )


# The exemplar engine searches both captures at the same time: each search has serial parts
# (reading, Python loops) that the other fills; numpy and the FFT release the GIL. Threads only.
PARALLEL_DATES = True


def _detect_both(params: AnalysisParameters, exemplars, area_wkt: Optional[str], progress: Progress) -> tuple:
    """DetectionResults of the before and the after capture; progress is their mean."""
    jobs = ((params.before_path, params.before_date or "before"), (params.after_path, params.after_date or "after"))
    if not PARALLEL_DATES or params.equipment.engine != "exemplar":  # model engines: one model in memory
        return tuple(_detect(path, label, params, exemplars, area_wkt, progress.stage(0.5 * k, 0.5 * k + 0.5))
                     for k, (path, label) in enumerate(jobs))
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()
    done = [0.0, 0.0]
    failed = threading.Event()  # one search failed: the other stops at its next report

    def reporter(k: int) -> Progress:
        def report(fraction: float, message: str) -> bool:
            with lock:
                done[k] = fraction
                progress.report(sum(done) / 2.0, f"{jobs[k][1]}: {message}")
            return not failed.is_set()
        return Progress(report)

    with ThreadPoolExecutor(1) as pool:
        after = pool.submit(_detect, jobs[1][0], jobs[1][1], params, exemplars, area_wkt, reporter(1))
        try:
            before = _detect(jobs[0][0], jobs[0][1], params, exemplars, area_wkt, reporter(0))
        except BaseException:
            failed.set()
            raise
        try:
            return before, after.result()
        except BaseException:
            failed.set()
            raise


def _open_for_writing(gpkg: str):
    """The analysis GeoPackage opened for update, created when it does not exist yet."""
    from osgeo import ogr

    return ogr.Open(gpkg, 1) if Path(gpkg).exists() else ogr.GetDriverByName("GPKG").CreateDataSource(gpkg)


def _write_counts(gpkg: str, counts: list) -> None:
    from osgeo import ogr

    ds = _open_for_writing(gpkg)
    layer = ds.CreateLayer(LAYER_COUNTS, geom_type=ogr.wkbNone, options=["OVERWRITE=YES"])
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    names = ("before", "after", "delta", "arrived", "departed", "stayed", "moved")
    for name in names:
        layer.CreateField(ogr.FieldDefn(name, ogr.OFTInteger))
    for count in counts:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("class", count.class_name)
        for name in names:
            feature.SetField(name, int(getattr(count, name)))
        layer.CreateFeature(feature)
    ds = None


def object_ids(layer: str, n: int) -> list[str]:
    """Stable ids of a layer's objects within their analysis: `<layer>:<feature id>` (GeoPackage ids
    start at 1), so analyses written before ids existed get the same ids from their feature ids. The
    site's review history prefixes them with the analysis id."""
    return [f"{layer}:{k + 1}" for k in range(n)]


def _add_object_ids(gpkg: str, layer_name: str) -> None:
    """An `object_id` field on a copied layer (its rows untouched otherwise)."""
    from osgeo import ogr

    ds = _open_for_writing(gpkg)
    layer = ds.GetLayerByName(layer_name)
    if layer.GetLayerDefn().GetFieldIndex("object_id") < 0:
        layer.CreateField(ogr.FieldDefn("object_id", ogr.OFTString))
    layer.StartTransaction()
    for feature in layer:
        feature.SetField("object_id", f"{layer_name}:{feature.GetFID()}")
        layer.SetFeature(feature)
    layer.CommitTransaction()
    ds = None


def _write_matches(gpkg: str, match, before: list, after: list) -> None:
    """The matches table: per event, the object ids of its before and after detection (empty when none)."""
    from osgeo import ogr

    ids_before = {id(d): i for i, d in zip(object_ids(LAYER_BEFORE, len(before)), before)}
    ids_after = {id(d): i for i, d in zip(object_ids(LAYER_AFTER, len(after)), after)}
    ds = _open_for_writing(gpkg)
    layer = ds.CreateLayer(LAYER_MATCHES, geom_type=ogr.wkbNone, options=["OVERWRITE=YES"])
    for name, ftype in (("before_id", ogr.OFTString), ("after_id", ogr.OFTString), ("event", ogr.OFTString),
                        ("distance_m", ogr.OFTReal), ("in_change", ogr.OFTInteger)):
        layer.CreateField(ogr.FieldDefn(name, ftype))
    layer.StartTransaction()
    for event in match.events:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("before_id", ids_before.get(id(event.before), ""))
        feature.SetField("after_id", ids_after.get(id(event.after), ""))
        feature.SetField("event", event.event)
        if event.distance_m is not None:
            feature.SetField("distance_m", float(event.distance_m))
        feature.SetField("in_change", int(event.in_change))
        layer.CreateFeature(feature)
    layer.CommitTransaction()
    ds = None


def _write_left_out(gpkg: str, wkt: str, crs_wkt: Optional[str]) -> None:
    from osgeo import ogr

    from .raster import srs_from_wkt

    ds = _open_for_writing(gpkg)
    layer = ds.CreateLayer(LAYER_LEFT_OUT, srs=srs_from_wkt(crs_wkt), geom_type=ogr.wkbMultiPolygon,
                           options=["OVERWRITE=YES"])
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(ogr.ForceToMultiPolygon(ogr.CreateGeometryFromWkt(wkt)))
    layer.CreateFeature(feature)
    ds = None


def _copy_layer(src_path: str, src_layer: str, dst_path: str, dst_layer: str) -> None:
    from osgeo import gdal

    gdal.VectorTranslate(
        dst_path, src_path, layers=[src_layer], layerName=dst_layer,
        accessMode="append" if Path(dst_path).exists() else None, format="GPKG",
    )


def replaceable_folder(folder: Path) -> bool:
    """Whether an analysis may write `folder`, replacing it: it is new, empty or an earlier analysis
    (never a folder of other files, a file or a link to one)."""
    if not folder.exists():
        return not folder.is_symlink()
    if not folder.is_dir():
        return False
    return (folder / GPKG_NAME).exists() or not any(folder.iterdir())


@gdal_exceptions()
def run_analysis(params: AnalysisParameters, progress: Optional[Progress] = None) -> AnalysisResult:
    """Run the whole two-date analysis into params.output_dir (replaced only on success)."""
    progress = progress or Progress()
    params.validate()
    final_dir = Path(params.output_dir)
    if not replaceable_folder(final_dir):
        what = "holds other files" if final_dir.is_dir() else "is a file or a broken link"
        raise InputError(f"The output folder {final_dir} {what}; an analysis replaces its folder, so "
                         "choose a new or empty folder (or an earlier analysis folder).")
    work_dir = Path(scratch.run_folder(str(final_dir.parent))) / (final_dir.name + ".partial")
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    try:
        result = _run(params, work_dir, progress)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        scratch.release(str(work_dir))
        raise
    if final_dir.exists():
        shutil.rmtree(final_dir)
    work_dir.rename(final_dir)
    scratch.release(str(work_dir))
    _relocate(result, work_dir, final_dir)
    return result


def _run(params: AnalysisParameters, work_dir: Path, progress: Progress) -> AnalysisResult:
    gpkg = str(work_dir / GPKG_NAME)
    result = AnalysisResult(params=params, output_dir=str(work_dir), gpkg_path=gpkg)
    change_share = 0.45 if params.change.enabled and params.equipment.enabled else 1.0
    dx_m = dy_m = 0.0
    regions_wkt: Optional[list[str]] = None
    area_wkt, area_crs = analysis_area(params)
    result.left_out_m2 = left_out_m2(params, (area_wkt, area_crs))
    if params.left_out_wkt:
        _write_left_out(gpkg, params.left_out_wkt, area_crs or _crs_wkt(params.before_path))

    if params.change.enabled:
        from .change import detect_changes

        started = time.perf_counter()
        change_params = ChangeParameters(
            before=params.before_path, after=params.after_path, output_dir=str(work_dir),
            aoi_wkt=area_wkt, aoi_crs_wkt=area_crs, **settings_of(ChangeSettings, params.change),
            cloud_mask_before=params.cloud_mask_before, cloud_mask_after=params.cloud_mask_after,
            pixel_size_m=params.pixel_size_m,
        )
        change = detect_changes(change_params, progress.stage(0.0, change_share))
        result.change = change
        result.score_path, result.mask_path = change.score_path, change.mask_path
        _copy_layer(change.regions_path, change.regions_layer, gpkg, LAYER_REGIONS)
        _add_object_ids(gpkg, LAYER_REGIONS)
        Path(change.regions_path).unlink()  # one copy of the regions: the analysis GeoPackage's
        change.regions_path, change.regions_layer = gpkg, LAYER_REGIONS
        regions_wkt = [region.wkt for region in change.regions]
        if change.shift is not None:
            dx_m, dy_m = change.shift.dx_m, change.shift.dy_m
        result.timings_s["change"] = time.perf_counter() - started

    if params.equipment.enabled:
        from .equipment.api import write_detections
        from .equipment.catalogue import load_catalogue
        from .equipment.matching import match_detections

        started = time.perf_counter()
        exemplars = _exemplars(params.equipment)
        found = _detect_both(params, exemplars, area_wkt, progress.stage(change_share, 0.98))
        LOG.info("equipment search: before %.1f s, after %.1f s", found[0].seconds, found[1].seconds)
        before, after = (one.detections for one in found)
        # matched on the ground (the before grid); kept where each capture shows them. Captures
        # without georeferencing are in their shown frame: distances scaled to it and back to metres
        scale = _frame(params).metres_per_unit
        match_settings = {k: v / scale for k, v in settings_of(MatchSettings, params.equipment).items()}
        match = match_detections(before, after, **match_settings, catalogue=load_catalogue(),
                                 change_regions_wkt=regions_wkt, after_shift_m=(dx_m / scale, dy_m / scale))
        for event in match.events:
            if event.distance_m is not None:
                event.distance_m *= scale
        result.detections_before, result.detections_after, result.match = before, after, match
        result.warnings += [w for one in found for w in one.warnings]
        crs_wkt = found[0].crs_wkt or _crs_wkt(params.before_path)  # a capture in degrees: its UTM zone
        for layer, detections, side in ((LAYER_BEFORE, before, "before"), (LAYER_AFTER, after, "after")):
            events = {id(getattr(e, side)): e for e in match.events if getattr(e, side) is not None}
            write_detections(gpkg, layer, detections, crs_wkt, extra_fields={
                "event": [events[id(d)].event if id(d) in events else "" for d in detections],
                "in_change": [int(events[id(d)].in_change) if id(d) in events else 0 for d in detections],
                "object_id": object_ids(layer, len(detections)),
            })
        _write_matches(gpkg, match, before, after)
        _write_counts(gpkg, match.counts)
        result.timings_s["equipment"] = time.perf_counter() - started

    result.summary_lines = summary_lines(result)
    (work_dir / "summary.txt").write_text("\n".join(result.summary_lines) + "\n", encoding="utf-8")
    (work_dir / "parameters.json").write_text(json.dumps(asdict(params), indent=2), encoding="utf-8")
    progress.report(1.0, "Done")
    return result


def _crs_wkt(path: str) -> str:
    from osgeo import gdal

    ds = gdal.Open(path)
    return ds.GetProjection() if ds is not None else ""


def _relocate(result: AnalysisResult, old: Path, new: Path) -> None:
    """Point the result's paths at the final folder after the rename."""
    def moved(path: Optional[str]) -> Optional[str]:
        if not path:
            return path
        try:
            return str(new / Path(path).relative_to(old))
        except ValueError:
            return path

    result.output_dir = str(new)
    result.gpkg_path = moved(result.gpkg_path)
    result.score_path = moved(result.score_path)
    result.mask_path = moved(result.mask_path)
    if result.change is not None:
        for name in ("score_path", "mask_path", "regions_path"):
            setattr(result.change, name, moved(getattr(result.change, name)))


def summary_lines(result: AnalysisResult) -> list[str]:
    """A short printed summary: change area, counts per class per date, events."""
    lines = [result.title]
    change = result.change
    if change is not None:
        lines.append(f"Change: {change.changed_area_m2:,.0f} m² in {change.n_regions} regions "
                     f"(method {change.method})")
        if getattr(change, "shadow_moves_dropped", 0):
            lines.append(f"  {change.shadow_moves_dropped} more regions left out: shadows moved by the sun")
        if getattr(change, "scoring_advice", ""):  # which path scored goes to the log; here only what to do
            lines.append(f"  {change.scoring_advice}")
        lines.extend(f"  Warning: {w}" for w in getattr(change, "warnings", []))
        if change.shift is not None:
            lines.append(change.shift.describe())
    if result.left_out_m2 > 0:
        lines.append(f"Left out on both dates: {result.left_out_m2:,.0f} m² (areas marked as clouds, haze or not to judge)")
    lines.extend(f"Warning: {w}" for w in getattr(result, "warnings", []))
    if result.match is not None:
        lines.append("Equipment (before -> after):")
        lines.extend("  " + line for line in result.match.summary_lines())
    return lines


# Throughput on one 2-core machine (megapixels per second), measured by `make bench`;
# only used to tell the user roughly how long a run takes. Change: a fixed part (reading,
# co-registration windows, model fit, regions) and a part per pixel: the sample site's 16.8 MP
# pair takes 7.4-8.5 s (`make demo`), the 8192 px bench pair 13.2 s (`make bench ARGS=change`).
CHANGE_BASE_S = 6.3
CHANGE_MP_PER_S = 9.7  # per pair of captures, with numba's compiled kernels
CHANGE_NUMPY_MP_PER_S = 4.6  # without numba: the bench pair takes 21.0 s
ENGINE_MP_PER_S = {"exemplar": 1.2, "learned": 5.0, "model": 3.0}  # per capture; exemplar: with 3 examples
# numba (when installed) compiles the change kernels on their first use on a machine, then loads
# them from its disk cache: a first run takes this much longer (14.2 s of one core to compile them
# with an empty NUMBA_CACHE_DIR; `make bench ARGS=estimate` compares first and second runs)
KERNEL_COMPILE_S = 15.0


def _compiled_kernels_expected() -> bool:
    """Whether the change step will use numba's kernels (without importing numba: it is slow)."""
    import importlib.util
    import os

    from .change import acceleration

    return os.environ.get(acceleration.DISABLE_ENV, "").strip() in ("", "0") and importlib.util.find_spec("numba") is not None


def _kernel_compile_s() -> float:
    """KERNEL_COMPILE_S while the change kernels have no disk cache yet (and numba is there), else 0."""
    import hashlib
    import os
    import sys

    from .change import acceleration

    if not _compiled_kernels_expected():
        return 0.0
    module_dir = os.path.dirname(os.path.abspath(acceleration.__file__))
    # numba's cache folders: beside the module, or <cache root>/<folder name>_<sha1 of its path>
    mirrored = f"{os.path.basename(module_dir)}_{hashlib.sha1(module_dir.encode()).hexdigest()}"
    roots = [Path(module_dir) / "__pycache__", Path.home() / ".cache" / "numba" / mirrored]
    if os.environ.get("NUMBA_CACHE_DIR"):  # then numba uses that folder only
        roots = [Path(os.environ["NUMBA_CACHE_DIR"]) / mirrored]
    pattern = f"compiled.*.py{sys.version_info[0]}{sys.version_info[1]}.nbi"
    return 0.0 if any(next(root.glob(pattern), None) for root in roots if root.is_dir()) else KERNEL_COMPILE_S


@dataclass
class RunEstimate:
    seconds: float
    lines: list[str]


@gdal_exceptions()
def describe_run(params: AnalysisParameters) -> RunEstimate:
    """What a run will do and roughly how long it takes, for the panel before Run."""
    from osgeo import gdal

    lines: list[str] = []
    megapixels = 0.0
    pending = False  # a web capture not saved over the site yet: no size, no estimate
    for label, path in (("Before", params.before_path), ("After", params.after_path)):
        if not Path(path).exists() and "://" not in path and not path.startswith("/vsi"):
            pending = True
            lines.append(f"{label}: {Path(path).name} is first saved over the site (the time depends on the service)")
            continue
        try:
            ds = gdal.Open(path)
        except RuntimeError:
            ds = None
        if ds is None:
            lines.append(f"{label}: cannot be read ({path})")
            continue
        gsd = abs(ds.GetGeoTransform()[1])
        megapixels = max(megapixels, ds.RasterXSize * ds.RasterYSize / 1e6)
        lines.append(f"{label}: {ds.RasterXSize} x {ds.RasterYSize} px, {ds.RasterCount} bands, {gsd:.2f} m/px")
    if params.left_out_wkt:
        lines.append(f"Left out on both dates: {left_out_m2(params):,.0f} m² of the site")
    seconds = 0.0
    if params.change.enabled:
        compile_s = _kernel_compile_s()
        rate = CHANGE_MP_PER_S if _compiled_kernels_expected() else CHANGE_NUMPY_MP_PER_S
        seconds += CHANGE_BASE_S + megapixels / rate + compile_s
        if compile_s:
            lines.append(f"First run on this computer: about {compile_s:.0f} s more to prepare the fast change kernels (once)")
        lines.append(f"Change detection: method {params.change.method or 'default'}, "
                     f"sensitivity {params.change.sensitivity:.2f}, minimum area {params.change.min_area_m2:g} m²")
    if params.equipment.enabled:
        options = params.equipment
        per_capture = megapixels / ENGINE_MP_PER_S.get(options.engine, 3.0)
        if options.engine == "exemplar":
            per_capture *= (_count_features(options.exemplars_path) or 3) / 3.0  # unknown yet: 3
        seconds += 2 * per_capture
        lines.append(f"Equipment: {options.engine} engine, minimum score {options.min_score:.2f}")
        if options.engine in ("learned", "model") and options.model_path:
            lines.extend(_model_lines(options.model_path))
    if pending:
        lines.append("Time estimate: available once the web captures are saved.")
    else:
        lines.append(f"Estimated time: about {max(1, round(seconds))} s")
    return RunEstimate(seconds, lines)


def _count_features(path: Optional[str]) -> int:
    from osgeo import ogr

    try:
        ds = ogr.Open(path) if path else None
    except RuntimeError:  # unreadable: the run itself says why
        return 0
    return ds.GetLayer(0).GetFeatureCount() if ds is not None and ds.GetLayerCount() else 0


def _model_lines(model_path: str) -> list[str]:
    try:
        from .equipment.onnx_model import model_summary

        summary = model_summary(model_path)
    except Exception as exc:  # shown to the user as is; the run itself reports it properly
        return [f"Model: {Path(model_path).name} cannot be used: {exc}"]
    return [
        f"Model: {Path(model_path).name}, classes {', '.join(summary.class_names)}",
        f"Model ground sample distance: {summary.gsd_m or 0:.2f} m/px; execution provider: {summary.device} "
        f"({', '.join(summary.providers)})",
    ]
