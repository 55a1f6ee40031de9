"""Robustness: every algorithm fed a table of awkward inputs gives either a correct result or one
clear error, never a traceback, and leaves no file behind when it fails; a subset runs through
qgis_process, whose exit code must then be non-zero."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest
from osgeo import gdal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from robustness_inputs import corner_scene, make_inputs, wrong_metadata_onnx  # noqa: E402

QGIS_PROCESS = "/usr/bin/qgis_process.bin"
DC, CR, DE, CE, TR, AS = (f"sitewatch:{n}" for n in ("detectchanges", "coregister", "detectequipment",
                                                     "compareequipment", "trainequipmentdetector", "analyzesite"))


@dataclass
class Case:
    id: str
    alg: str
    params: Callable[[dict, Path], dict]  # (inputs, output folder) -> parameters
    error: Optional[str] = None  # regex the failure message must match; None: the run must succeed
    check: Optional[Callable] = None  # (results, output folder, feedback text) for successes
    cancel: bool = False
    cli: bool = False  # also run through qgis_process
    needs: tuple = field(default_factory=tuple)  # optional modules


def _changes(d, o, before="before", after="after", **extra):
    return {"BEFORE": d[before], "AFTER": d[after], "COREGISTER": False, "OUTPUT_SCORE": str(o / "score.tif"),
            "OUTPUT_MASK": str(o / "mask.tif"), "OUTPUT_REGIONS": str(o / "regions.gpkg"), **extra}


def _coreg(d, o, source="after", reference="before", **extra):
    return {"INPUT": d[source], "REFERENCE": d[reference], "OUTPUT": str(o / "aligned.tif"), **extra}


def _detect(d, o, raster="scene", **extra):
    return {"INPUT": d[raster], "ENGINE": 0, "EXEMPLARS": d["exemplars"], "MIN_SCORE": 0.5,
            "OUTPUT": str(o / "detections.gpkg"), **extra}


def _compare(d, o, before="dets_before", after="dets_after", **extra):
    return {"BEFORE": d[before], "AFTER": d[after], "OUTPUT": str(o / "events.gpkg"),
            "OUTPUT_COUNTS": str(o / "counts.gpkg"), **extra}


def _train(d, o, **extra):
    return {"TIME_BUDGET": 0.25, "OUTPUT_MODEL": str(o / "model.onnx"), **extra}


def _analysis(d, o, after="after", **extra):
    return {"BEFORE": d["before"], "AFTER": d[after], "COUNT_EQUIPMENT": False, "OUTPUT_FOLDER": str(o / "analysis"),
            **extra}


def _read_only(o: Path) -> Path:
    """A folder this process cannot write in (root writes anywhere on a normal disk: /sys then)."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = o.parent / "read_only"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    return folder


def _regions(results, o, text, n=None, area=None, warn=None):
    if n is not None:
        assert results["N_REGIONS"] == n
    if area is not None:
        assert results["CHANGED_AREA_M2"] == pytest.approx(area, rel=0.35)
    if warn:
        assert re.search(warn, text), text
    assert Path(results["OUTPUT_SCORE"]).exists() and Path(results["OUTPUT_MASK"]).exists()


def _in_pixel_frame(results):
    """Outputs of rasters without georeferencing (PIXEL_SIZE 0.5) overlay them as QGIS shows them
    (x = column, y = -row): rasters on that grid, regions over the changed 30 x 30 pixels."""
    from qgis.core import QgsRasterLayer, QgsVectorLayer

    for key in ("OUTPUT", "OUTPUT_SCORE", "OUTPUT_MASK"):
        if key in results:
            assert gdal.Open(results[key]).GetGeoTransform() == (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), key
            layer = QgsRasterLayer(results[key], key)
            assert layer.extent().xMinimum() == 0.0 and layer.extent().yMaximum() == 0.0, layer.extent()
    if "OUTPUT_REGIONS" in results:
        regions = QgsVectorLayer(results["OUTPUT_REGIONS"], "r", "ogr")
        box = regions.extent()
        changed = _changed_pixels(results)
        feats = list(regions.getFeatures())
        # geometry in pixels² (the frame), area_m2 in m²: pixels x 0.25
        assert sum(f.geometry().area() for f in feats) * 0.25 == pytest.approx(sum(f["area_m2"] for f in feats))
        assert box.contains(changed), (box.toString(), changed.toString())  # in metres it would lie at half
        assert sum(f["area_m2"] for f in regions.getFeatures()) == pytest.approx(900 * 0.25, rel=0.35)


def _changed_pixels(results):
    """The box of the mask's changed pixels in QGIS's frame of the inputs (columns, -rows)."""
    from qgis.core import QgsRectangle

    mask = gdal.Open(results["OUTPUT_MASK"]).ReadAsArray()
    rows, cols = np.nonzero(mask == 1)
    return QgsRectangle(cols.min(), -rows.max() - 1, cols.max() + 1, -rows.min())


def _shift(results, dx_m, dy_m):
    """The co-registration's shift, in metres on the ground whatever the rasters' CRS."""
    assert (results["DX_M"], results["DY_M"]) == (pytest.approx(dx_m, abs=0.15), pytest.approx(dy_m, abs=0.15))
    assert Path(results["OUTPUT"]).exists()


def _detections(results, o, text, count=None, length=None):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(results["OUTPUT"], "d", "ogr")
    feats = list(layer.getFeatures())
    if count is not None:
        assert len(feats) >= count if count else not feats, text
    for f in feats:
        assert f.geometry().area() > 50.0  # boxes in m², not collapsed degrees
        if length is not None:
            assert f["length_m"] == pytest.approx(length, rel=0.3)
    assert not layer.crs().isGeographic()


def _no(text: str, pattern: str) -> None:
    assert not re.search(pattern, text), text


def _same_detections(results, o, text):
    """The detections of a run on scene.png with PIXEL_SIZE equal (count, length_m) those of the
    same run on the same image georeferenced at that pixel size."""
    from qgis.core import QgsProcessingContext, QgsVectorLayer

    import processing

    def lengths(path):
        return sorted(f["length_m"] for f in QgsVectorLayer(path, "d", "ogr").getFeatures())

    found = lengths(results["OUTPUT"])
    folder = o.parent / "reference"
    folder.mkdir()
    scene, exemplars = corner_scene(folder)
    params = _detect({"scene": scene, "exemplars": exemplars}, folder, OUTPUT=str(folder / "reference.gpkg"))
    expected = lengths(processing.run("sitewatch:detectequipment", params, context=QgsProcessingContext())["OUTPUT"])
    assert len(found) == len(expected) >= 3, text
    assert found == pytest.approx(expected, abs=0.5), text
    assert 20 < found[0] and found[-1] < 36  # metres (the aircraft are 28 m long), not pixels
    # the boxes lie over the aircraft as QGIS shows the PNG (x = column, y = -row): the
    # reference's centres (metres from the corner) divided by the pixel size
    centres = sorted(_centres(results["OUTPUT"]))
    expected_px = sorted((x / 0.5, y / 0.5) for x, y in _centres(str(folder / "reference.gpkg")))
    assert len(centres) == len(expected_px)
    for (x, y), (ex, ey) in zip(centres, expected_px):
        assert (x, y) == (pytest.approx(ex, abs=2.0), pytest.approx(ey, abs=2.0)), text
    for f in QgsVectorLayer(results["OUTPUT"], "d", "ogr").getFeatures():
        _box_in_png_frame(f)


def _png_analysis(results, text):
    """The same PNG on both dates: every object stayed, its box over the PNG in QGIS's frame."""
    from qgis.core import QgsVectorLayer

    assert results["N_BEFORE"] == results["N_AFTER"] == results["STAYED"] >= 3, text
    assert results["MOVED"] == results["ARRIVED"] == results["DEPARTED"] == 0, text
    layer = QgsVectorLayer(results["OUTPUT_DETECTIONS_BEFORE"], "d", "ogr")
    for f in layer.getFeatures():
        assert 20 < f["length_m"] < 36
        _box_in_png_frame(f)


def _box_in_png_frame(feature, pixel_size=0.5, columns=256, rows=256):
    """A detection box over a PNG shown by QGIS (x = column, y = -row): inside the image, its
    area in pixels² that of its length_m x width_m at the pixel size."""
    box = feature.geometry()
    centre = box.centroid().asPoint()
    assert 0 < centre.x() < columns and -rows < centre.y() < 0, centre
    assert box.area() * pixel_size ** 2 == pytest.approx(feature["length_m"] * feature["width_m"], rel=0.02)


def _centres(path: str) -> list[tuple[float, float]]:
    from qgis.core import QgsVectorLayer

    out = []
    for f in QgsVectorLayer(path, "d", "ogr").getFeatures():
        c = f.geometry().centroid().asPoint()
        out.append((c.x(), c.y()))
    return out


def _events(results, expected: dict):
    """The compared events, in a CRS in metres: {event: count}."""
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(results["OUTPUT"], "e", "ogr")
    assert not layer.crs().isGeographic()
    found: dict = {}
    for f in layer.getFeatures():
        found[f["event"]] = found.get(f["event"], 0) + 1
    assert found == expected


CASES = [
    # detectchanges
    Case("dc_reference_run", DC, lambda d, o: _changes(d, o), check=lambda r, o, t: _regions(r, o, t, 1, 225)),
    Case("dc_no_overlap", DC, lambda d, o: _changes(d, o, after="far"), "share no area", cli=True),
    Case("dc_missing_file", DC, lambda d, o: _changes(d, o, after="missing"), r"AFTER|gone\.tif|not.*(exist|found)"),
    Case("dc_zero_size_file", DC, lambda d, o: _changes(d, o, after="zero_size"), r"AFTER|zero_size\.tif"),
    Case("dc_text_as_tif", DC, lambda d, o: _changes(d, o, after="text"), r"AFTER|notes\.tif"),
    Case("dc_truncated_tif", DC, lambda d, o: _changes(d, o, after="truncated"),
         r"AFTER|truncated\.tif|GDAL cannot read"),
    Case("dc_wrong_extension", DC, lambda d, o: _changes(d, o, after="wrong_extension"),
         check=lambda r, o, t: _regions(r, o, t, 1, 225)),
    Case("dc_black_after", DC, lambda d, o: _changes(d, o, after="black"), "black.tif is uniform", cli=True),
    Case("dc_dead_band", DC, lambda d, o: _changes(d, o, after="dead_band"),
         check=lambda r, o, t: _regions(r, o, t, warn="band 2 hold one value")),
    Case("dc_mostly_nodata", DC, lambda d, o: _changes(d, o, after="mostly_nodata"),
         check=lambda r, o, t: _regions(r, o, t, warn=r"Only \d+ % of the site has data")),
    Case("dc_all_nan", DC, lambda d, o: _changes(d, o, after="nan"), r"only nodata|no valid pixels|uniform"),
    Case("dc_partial_nan", DC, lambda d, o: _changes(d, o, after="partial_nan"),
         check=lambda r, o, t: _regions(r, o, t, 1, 225)),
    Case("dc_one_pixel", DC, lambda d, o: _changes(d, o, after="one_pixel"), "less than 8 pixels"),
    Case("dc_band_counts", DC, lambda d, o: _changes(d, o, after="four_bands"), "band mapping"),
    Case("dc_no_crs", DC, lambda d, o: _changes(d, o, after="no_crs"), "no coordinate reference system"),
    # without georeferencing and PIXEL_SIZE: the pixel grid, areas in pixels (30 x 30), said so
    Case("dc_no_georeferencing", DC, lambda d, o: _changes(d, o, "no_georef_b", "no_georef_a"),
         check=lambda r, o, t: _regions(r, o, t, 1, 900, warn="no PIXEL_SIZE was given: areas are measured in pixels")),
    Case("dc_no_georeferencing_pixel_size", DC,
         lambda d, o: _changes(d, o, "no_georef_b", "no_georef_a", PIXEL_SIZE=0.5, MIN_AREA=20),
         check=lambda r, o, t: _regions(r, o, t, 1, 900 * 0.25) or _no(t, "measured in pixels")
         or _in_pixel_frame(r)),
    Case("dc_one_without_georeferencing", DC, lambda d, o: _changes(d, o, after="no_georef_a"),
         "AFTER carries no georeferencing while BEFORE does.*Georeference both"),
    Case("dc_degrees", DC, lambda d, o: _changes(d, o, "before_4326", "after_4326"),
         check=lambda r, o, t: _regions(r, o, t, 1, 225)),
    Case("dc_line_aoi", DC, lambda d, o: _changes(d, o, AOI=d["aoi_line"]), "must be a polygon layer.*line", cli=True),
    Case("dc_point_leave_out", DC, lambda d, o: _changes(d, o, LEAVE_OUT=d["aoi_points"]), "polygon layer.*point"),
    Case("dc_empty_aoi", DC, lambda d, o: _changes(d, o, AOI=d["aoi_empty"]), "holds no features"),
    Case("dc_aoi_outside", DC, lambda d, o: _changes(d, o, AOI=d["aoi_outside"]), "area of interest"),
    Case("dc_aoi_inside", DC, lambda d, o: _changes(d, o, AOI=d["aoi"]), check=lambda r, o, t: _regions(r, o, t, 1)),
    Case("dc_same_score_and_mask", DC, lambda d, o: _changes(d, o, OUTPUT_MASK=str(o / "score.tif")),
         "OUTPUT_SCORE and OUTPUT_MASK are the same file", cli=True),
    Case("dc_output_over_input", DC, lambda d, o: _changes(d, o, OUTPUT_SCORE=d["before"]), "would overwrite the input"),
    Case("dc_output_in_missing_folder", DC, lambda d, o: _changes(d, o / "new" / "deeper"),
         check=lambda r, o, t: _regions(r, o, t, 1)),
    Case("dc_read_only_folder", DC, lambda d, o: _changes(d, _read_only(o)), "cannot be written", cli=True),
    Case("dc_folder_through_a_file", DC, lambda d, o: _changes(d, Path(d["a_file"])), "is a file, not a folder"),
    Case("dc_disk_full", DC, lambda d, o: _changes(d, Path(d["full_disk"]) / "run"), "disk is (probably )?full",
         needs=("full_disk",)),
    Case("dc_cancelled", DC, lambda d, o: _changes(d, o), r"[Cc]ancel", cancel=True),
    # coregister
    Case("cr_no_overlap", CR, lambda d, o: _coreg(d, o, source="far"), "before.tif and far.tif share no area"),
    Case("cr_read_only_folder", CR, lambda d, o: _coreg(d, _read_only(o)), "cannot be written"),
    Case("cr_output_over_input", CR, lambda d, o: _coreg(d, o, OUTPUT=d["after"]), "would overwrite the input"),
    Case("cr_black_input", CR, lambda d, o: _coreg(d, o, source="black"), "black.tif is uniform"),
    Case("cr_no_crs", CR, lambda d, o: _coreg(d, o, source="no_crs"), "no coordinate reference system"),
    Case("cr_zero_size", CR, lambda d, o: _coreg(d, o, reference="zero_size"), r"REFERENCE|zero_size\.tif"),
    Case("cr_reference_run", CR, lambda d, o: _coreg(d, o, "coreg_moved", "coreg_ref"),
         check=lambda r, o, t: _shift(r, 1.0, 0.5)),
    # without georeferencing: the shift in pixels (said so), or in metres with PIXEL_SIZE
    Case("cr_no_georeferencing", CR, lambda d, o: _coreg(d, o, "coreg_moved_plain", "coreg_ref_plain"),
         check=lambda r, o, t: _shift(r, 2.0, 1.0) or re.search(r"\(DX_M, DY_M\) is in pixels", t) or pytest.fail(t)),
    Case("cr_no_georeferencing_pixel_size", CR,
         lambda d, o: _coreg(d, o, "coreg_moved_plain", "coreg_ref_plain", PIXEL_SIZE=0.5),
         check=lambda r, o, t: _shift(r, 1.0, 0.5) or _no(t, "in pixels") or _in_pixel_frame(r)),
    Case("cr_degrees", CR, lambda d, o: _coreg(d, o, "coreg_moved_4326", "coreg_ref_4326"),
         check=lambda r, o, t: _shift(r, 1.0, 0.5)),
    # detectequipment
    Case("de_reference_run", DE, lambda d, o: _detect(d, o), check=lambda r, o, t: _detections(r, o, t, 3, 28)),
    Case("de_degrees", DE, lambda d, o: _detect(d, o, "scene_4326"),
         check=lambda r, o, t: _detections(r, o, t, 3, 28)),
    Case("de_png_without_georeferencing", DE, lambda d, o: _detect(d, o, "scene_png"),
         "no georeferencing.*PIXEL_SIZE", cli=True),
    # with PIXEL_SIZE: the objects and sizes of the same image georeferenced at that pixel size
    Case("de_png_pixel_size", DE, lambda d, o: _detect(d, o, "scene_png", EXEMPLARS=d["exemplars_png"],
                                                       PIXEL_SIZE=0.5),
         check=lambda r, o, t: _same_detections(r, o, t)),
    Case("de_black_capture", DE, lambda d, o: _detect(d, o, "scene_black"),
         check=lambda r, o, t: _detections(r, o, t, 0) or re.search("one value everywhere", t) or
         pytest.fail(t)),
    Case("de_line_exemplars", DE, lambda d, o: _detect(d, o, EXEMPLARS=d["exemplars_line"]), "polygon layer.*line"),
    Case("de_empty_exemplars", DE, lambda d, o: _detect(d, o, EXEMPLARS=d["exemplars_empty"]), "holds no features"),
    Case("de_line_aoi", DE, lambda d, o: _detect(d, o, AOI=d["aoi_line"]), "polygon layer.*line"),
    Case("de_corrupt_model", DE, lambda d, o: _detect(d, o, ENGINE=2, MODEL=d["corrupt_onnx"]),
         r"corrupt\.onnx|model", needs=("onnxruntime",)),
    Case("de_empty_model", DE, lambda d, o: _detect(d, o, ENGINE=2, MODEL=d["empty_onnx"]), r"empty\.onnx|model",
         needs=("onnxruntime",)),
    Case("de_model_wrong_metadata", DE, lambda d, o: _detect(d, o, ENGINE=2, MODEL=d["wrong_meta_onnx"]),
         r"wrong_meta\.onnx|metadata|class", needs=("onnx", "onnxruntime")),
    Case("de_aoi_outside", DE, lambda d, o: _detect(d, o, AOI=d["aoi_outside"]), r"area of interest|AOI|outside"),
    Case("de_one_pixel", DE, lambda d, o: _detect(d, o, "one_pixel"), r"one_pixel\.tif|pixel|small"),
    Case("de_output_in_missing_folder", DE, lambda d, o: _detect(d, o, OUTPUT=str(o / "new" / "d.gpkg")),
         check=lambda r, o, t: _detections(r, o, t, 3, 28)),
    Case("de_read_only_folder", DE, lambda d, o: _detect(d, o, OUTPUT=str(_read_only(o) / "d.gpkg")),
         "cannot be written"),
    # compareequipment
    Case("ce_reference_run", CE, lambda d, o: _compare(d, o), check=lambda r, o, t: Path(r["OUTPUT"]).exists()),
    Case("ce_class_field_missing", CE, lambda d, o: _compare(d, o, after="dets_no_class"),
         "no 'class' field.*cannot be compared", cli=True),
    Case("ce_degrees", CE, lambda d, o: _compare(d, o, before="dets_4326"),
         check=lambda r, o, t: _events(r, {"stayed": 1, "departed": 1})),
    Case("ce_empty_before", CE, lambda d, o: _compare(d, o, before="dets_empty"),
         check=lambda r, o, t: Path(r["OUTPUT_COUNTS"]).exists()),
    Case("ce_missing_layer", CE, lambda d, o: _compare(d, o, after="missing"), r"AFTER|gone\.tif"),
    Case("ce_lines", CE, lambda d, o: _compare(d, o, after="dets_lines"), "polygon layer.*line"),
    Case("ce_same_outputs", CE, lambda d, o: _compare(d, o, OUTPUT_COUNTS=str(o / "events.gpkg")),
         "OUTPUT and OUTPUT_COUNTS are the same file"),
    # analyzesite (the panel's whole analysis)
    Case("as_no_georeferencing", AS, lambda d, o: _analysis(d, o, BEFORE=d["no_georef_b"], after="no_georef_a"),
         check=lambda r, o, t: re.search("no PIXEL_SIZE was given: areas are measured in pixels", t) or pytest.fail(t)),
    Case("as_no_georeferencing_counts", AS, lambda d, o: _analysis(d, o, BEFORE=d["no_georef_b"], after="no_georef_a",
                                                                   COUNT_EQUIPMENT=True, EXEMPLARS=d["exemplars"]),
         "no georeferencing.*PIXEL_SIZE"),
    # with PIXEL_SIZE: counted and matched in metres, the objects where QGIS shows the PNGs
    Case("as_png_pixel_size_counts", AS, lambda d, o: _analysis(d, o, BEFORE=d["scene_png"], after="scene_png",
                                                                COUNT_EQUIPMENT=True, EXEMPLARS=d["exemplars_png"],
                                                                PIXEL_SIZE=0.5),
         check=lambda r, o, t: _png_analysis(r, t)),
    Case("as_black_after", AS, lambda d, o: _analysis(d, o, after="black"), "black.tif is uniform"),
    Case("as_line_aoi", AS, lambda d, o: _analysis(d, o, AOI=d["aoi_line"]), "must be a polygon layer.*line"),
    Case("as_read_only_folder", AS, lambda d, o: _analysis(d, o, OUTPUT_FOLDER=str(_read_only(o) / "analysis")),
         "cannot be written"),
    # trainequipmentdetector (failures only: they must come before the time budget is spent)
    Case("tr_coco_missing_images", TR, lambda d, o: _train(d, o, DATASET=d["coco_missing_images"]),
         r"missing_1\.tif|image", needs=("torch", "onnx")),
    Case("tr_broken_json", TR, lambda d, o: _train(d, o, TRAINING_DATA=d["coco_broken_json"]), r"broken\.json|JSON",
         needs=("torch", "onnx")),
    Case("tr_empty_dataset_folder", TR, lambda d, o: _train(d, o, DATASET=d["empty_folder"]),
         r"empty_folder|dataset|COCO|YOLO|DOTA", needs=("torch", "onnx")),
    Case("tr_nothing_given", TR, lambda d, o: _train(d, o), "training boxes", needs=("torch", "onnx")),
    Case("tr_class_field_missing", TR, lambda d, o: _train(d, o, TRAINING_DATA=d["train_boxes"],
                                                           IMAGES=[d["scene"]], CLASS_FIELD="kind"),
         "no field 'kind'", needs=("torch", "onnx")),
    Case("tr_model_in_read_only_folder", TR, lambda d, o: _train(d, o, TRAINING_DATA=d["train_boxes"],
                                                                 IMAGES=[d["scene"]],
                                                                 OUTPUT_MODEL=str(_read_only(o) / "m.onnx")),
         "cannot be written", needs=("torch", "onnx")),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("awkward")
    d = make_inputs(root)
    try:
        d["wrong_meta_onnx"] = wrong_metadata_onnx(root / "wrong_meta.onnx")
    except ImportError:
        pass
    full = root / "full_disk"  # a 64 KiB file system: outputs fill it half-way through a run
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)],
                             capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    if mounted:
        d["full_disk"] = str(full)
    yield d
    if mounted:
        subprocess.run(["umount", "-l", str(full)], check=False)  # lazily: a leaked handle must not keep it


def _feedback(cancel: bool):
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.lines: list[str] = []
            self.errors: list[str] = []

        def reportError(self, error, fatalError=False):  # noqa: N802,N803
            self.errors.append(error)
            self.lines.append(error)

        def pushWarning(self, warning):  # noqa: N802
            self.lines.append(warning)

        def pushInfo(self, info):  # noqa: N802
            self.lines.append(info)

        def pushConsoleInfo(self, info):  # noqa: N802
            self.lines.append(info)

        def pushDebugInfo(self, info):  # noqa: N802
            self.lines.append(info)

    feedback = Recorder()
    if cancel:  # the user cancels once the run is under way
        feedback.progressChanged.connect(lambda value: value > 1 and feedback.cancel())
    return feedback


def _files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _run(case: Case, inputs: dict, out: Path):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProject

    params = case.params(inputs, out)
    alg = QgsApplication.processingRegistry().createAlgorithmById(case.alg)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = _feedback(case.cancel)
    ok, message = alg.checkParameterValues(params, context)
    if not ok:
        return False, message, {}, message
    results, ok = alg.run(params, context, feedback)
    return ok, " ".join(feedback.errors), results or {}, "\n".join(feedback.lines)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_awkward_input(case, inputs, provider, tmp_path, monkeypatch):
    for need in case.needs:
        if need == "full_disk":
            if need not in inputs:
                pytest.skip("a small file system to fill needs root and tmpfs mounts")
            out_of_space = Path(inputs[need]) / "run"
        else:
            pytest.importorskip(need)
    monkeypatch.setenv("SITEWATCH_LOG_DIR", str(tmp_path / "logs"))
    out = tmp_path / "out"
    out.mkdir()
    ok, error, results, text = _run(case, inputs, out)
    assert "Traceback" not in text + error, text
    assert "Unexpected error" not in error, error  # every case here is an expected failure or a success
    if case.error is None:
        assert ok, f"{case.id} failed: {error}\n{text}"
        case.check(results, out, text)
        assert not [f for f in _files(out) if Path(f).name.startswith(".")], _files(out)
    else:
        assert not ok or (case.cancel and not results), f"{case.id} succeeded: {results}"
        assert re.search(case.error, error), f"{case.id}: {error!r} does not match {case.error!r}"
        assert len(error) < 600, error
        assert _files(out) == [], _files(out)
        if case.needs == ("full_disk",):
            assert not out_of_space.exists() or _files(out_of_space) == [], _files(out_of_space)
    assert not (Path(inputs["before"]).parent / "nowhere").exists()


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    if not Path(QGIS_PROCESS).exists():
        pytest.skip("qgis_process.bin not installed")
    home = tmp_path_factory.mktemp("qgis_home")
    plugins = Path(__file__).resolve().parents[2] / "build" / "pkg"  # holds the `sitewatch` link
    env = dict(os.environ, HOME=str(home), QGIS_PLUGINPATH=str(plugins), QT_QPA_PLATFORM="offscreen",
               QGIS_CUSTOM_CONFIG_PATH=str(home / "profile"), SITEWATCH_LOG_DIR=str(home / "logs"))
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", "sitewatch"], env=env, capture_output=True,
                            text=True, timeout=180)
    assert enable.returncode == 0, enable.stderr
    return env


CLI_CASES = [c for c in CASES if c.cli]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_awkward_input_through_qgis_process(case, inputs, cli_env, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    args = [f"{k}={v}" for k, v in case.params(inputs, out).items()]
    done = subprocess.run([QGIS_PROCESS, "run", case.alg, "--", *args], env=cli_env, capture_output=True,
                          text=True, timeout=180)
    text = done.stdout + done.stderr
    assert done.returncode == 1, (done.returncode, text[-3000:])  # failed cleanly: not 0, not a crash
    assert re.search(case.error, text), text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert _files(out) == [], _files(out)


def test_unexpected_error_is_logged_not_shown_and_its_outputs_removed(inputs, provider, tmp_path, monkeypatch):
    """A defect inside an algorithm: a short message naming the log file (which holds the
    traceback), no traceback in the run's log, and the output it had begun removed."""
    from sitewatch.plugin.processing import alg_detectchanges

    def broken(params, progress=None):
        Path(params.score_path).write_bytes(b"half a raster")
        raise KeyError("band_keys")

    monkeypatch.setattr(alg_detectchanges, "detect_changes", broken)
    monkeypatch.setenv("SITEWATCH_LOG_DIR", str(tmp_path / "logs"))
    out = tmp_path / "out"
    out.mkdir()
    case = Case("defect", DC, lambda d, o: _changes(d, o))
    ok, error, _, text = _run(case, inputs, out)
    log = tmp_path / "logs" / "sitewatch.log"
    assert not ok and error.startswith("Unexpected error (KeyError: 'band_keys')") and str(log) in error
    assert "Traceback" not in text and "Traceback" in log.read_text() and "sitewatch:detectchanges" in log.read_text()
    assert _files(out) == []
