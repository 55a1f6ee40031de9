"""Awkward inputs for the robustness suite, made once in one folder with GDAL and OGR only (files,
so that qgis_process can be given them too)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr
from test_equipment_algorithms import _aircraft  # the same synthetic aircraft as the algorithm tests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "change"))
from change_helpers import shifted, textured  # noqa: E402

gdal.UseExceptions()
ogr.UseExceptions()

UTM = 32633
ORIGIN = (500000.0, 4000000.0)
GSD = 0.5
SIZE = 96


def _srs(epsg: int) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def raster(path: Path, bands: np.ndarray, gt=(ORIGIN[0], GSD, 0.0, ORIGIN[1], 0.0, -GSD), epsg=UTM,
           nodata=None, dtype=gdal.GDT_UInt16) -> str:
    bands = np.asarray(bands)
    bands = bands[None] if bands.ndim == 2 else bands
    ds = gdal.GetDriverByName("GTiff").Create(str(path), bands.shape[2], bands.shape[1], bands.shape[0], dtype)
    if gt is not None:
        ds.SetGeoTransform(gt)
    if epsg is not None:
        ds.SetProjection(_srs(epsg).ExportToWkt())
    for i, band in enumerate(bands):
        ds.GetRasterBand(i + 1).WriteArray(band)
        if nodata is not None:
            ds.GetRasterBand(i + 1).SetNoDataValue(nodata)
    ds = None
    return str(path)


def texture(size: int = SIZE, seed: int = 0, bands: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(size // 8 + 2, size // 8 + 2))
    big = np.kron(base, np.ones((8, 8)))[:size, :size] * 40 + rng.normal(0, 6, (size, size))
    return np.stack([big * (1 + 0.1 * b) + 300 + 20 * b for b in range(bands)]).clip(1, 4000)


def scene_pixels(size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(1)
    img = 90 + rng.normal(0, 5, (size, size))
    for cx, cy, heading in ((64, 64, 0), (190, 70, 90), (70, 190, 135), (190, 190, 40)):
        img[_aircraft(size, size, cx, cy, heading, 56)] = 210
    return np.clip(img, 0, 255).astype(np.uint8)


def png(path: Path, pixels: np.ndarray) -> str:
    mem = gdal.GetDriverByName("MEM").Create("", pixels.shape[1], pixels.shape[0], 1, gdal.GDT_Byte)
    mem.GetRasterBand(1).WriteArray(pixels)
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
    return str(path)


def vector(path: Path, geometries: list[str], epsg: int = UTM, geom_type=ogr.wkbPolygon,
           fields: dict[str, list] | None = None) -> str:
    """A GeoPackage layer of WKT geometries with string/real fields (name -> one value each)."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer(Path(path).stem, _srs(epsg) if epsg else None, geom_type)
    fields = fields or {}
    for name, values in fields.items():
        kind = ogr.OFTReal if values and isinstance(values[0], float) else ogr.OFTString
        layer.CreateField(ogr.FieldDefn(name, kind))
    for i, wkt in enumerate(geometries):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        for name, values in fields.items():
            feature.SetField(name, values[i])
        layer.CreateFeature(feature)
    ds = None
    return str(path)


def square(px: float, py: float, side_m: float, origin=ORIGIN, gsd=GSD) -> str:
    x, y, h = origin[0] + px * gsd, origin[1] - py * gsd, side_m / 2
    return f"POLYGON(({x - h} {y - h},{x + h} {y - h},{x + h} {y + h},{x - h} {y + h},{x - h} {y - h}))"


def corner_scene(root: Path) -> tuple[str, str]:
    """The scene of scene.png georeferenced as the PNG is measured with PIXEL_SIZE=GSD (metres
    from its top-left corner), and an example box in those coordinates: (raster, exemplars)."""
    scene = raster(root / "scene_corner.tif", scene_pixels(), gt=(0.0, GSD, 0.0, 0.0, 0.0, -GSD), dtype=gdal.GDT_Byte)
    return scene, vector(root / "exemplars_corner.gpkg", [square(64, 64, 32.0, origin=(0.0, 0.0))],
                         fields={"class": ["su24"]})


def make_inputs(root: Path) -> dict[str, str]:
    """Every input the cases use, by name."""
    d: dict[str, str] = {}
    img = texture()
    changed = img.copy()
    changed[:, 30:60, 30:60] = 3500
    d["before"] = raster(root / "before.tif", img)
    d["after"] = raster(root / "after.tif", changed)
    d["far"] = raster(root / "far.tif", img, gt=(ORIGIN[0] + 100000, GSD, 0, ORIGIN[1], 0, -GSD))
    d["black"] = raster(root / "black.tif", np.zeros_like(img))
    dead = changed.copy()
    dead[1] = 700
    d["dead_band"] = raster(root / "dead_band.tif", dead)
    mostly_empty = changed.copy()
    mostly_empty[:, :, 20:] = 0
    d["mostly_nodata"] = raster(root / "mostly_nodata.tif", mostly_empty, nodata=0)
    d["nan"] = raster(root / "nan.tif", np.full(img.shape, np.nan, np.float32), dtype=gdal.GDT_Float32)
    holes = changed.astype(np.float32)
    holes[:, 70:, :] = np.nan  # a quarter without data, marked by NaN only
    d["partial_nan"] = raster(root / "partial_nan.tif", holes, dtype=gdal.GDT_Float32)
    d["one_pixel"] = raster(root / "one_pixel.tif", img[:, :1, :1])
    d["four_bands"] = raster(root / "four_bands.tif", texture(bands=4))
    d["no_crs"] = raster(root / "no_crs.tif", changed, epsg=None)
    d["no_georef_b"] = raster(root / "no_georef_b.tif", img, gt=None, epsg=None)
    d["no_georef_a"] = raster(root / "no_georef_a.tif", changed, gt=None, epsg=None)
    d["zero_size"] = str(root / "zero_size.tif")
    Path(d["zero_size"]).write_bytes(b"")
    d["text"] = str(root / "notes.tif")
    Path(d["text"]).write_text("these are not pixels\n")
    d["truncated"] = str(root / "truncated.tif")
    Path(d["truncated"]).write_bytes(Path(d["after"]).read_bytes()[:2000])
    d["wrong_extension"] = str(root / "after.jpg")
    Path(d["wrong_extension"]).write_bytes(Path(d["after"]).read_bytes())
    d["missing"] = str(root / "nowhere" / "gone.tif")
    base = textured(224, 8)
    d["coreg_ref"] = raster(root / "coreg_ref.tif", base[:, :192, :192])
    d["coreg_moved"] = raster(root / "coreg_moved.tif", shifted(base, 2.0, -1.0)[:, :192, :192] * 0.8 + 20)
    d["coreg_ref_plain"] = raster(root / "coreg_ref_plain.tif", base[:, :192, :192], gt=None, epsg=None)
    d["coreg_moved_plain"] = raster(root / "coreg_moved_plain.tif", shifted(base, 2.0, -1.0)[:, :192, :192] * 0.8 + 20,
                                    gt=None, epsg=None)
    for name in ("before", "after", "coreg_ref", "coreg_moved"):
        d[f"{name}_4326"] = str(root / f"{name}_4326.tif")
        gdal.Warp(d[f"{name}_4326"], d[name], dstSRS="EPSG:4326", resampleAlg="near")

    inside = square(SIZE / 2, SIZE / 2, SIZE * GSD * 0.8)
    d["aoi_line"] = vector(root / "aoi_line.gpkg", [f"LINESTRING({ORIGIN[0]} {ORIGIN[1] - 10},{ORIGIN[0] + 40} "
                                                    f"{ORIGIN[1] - 30})"], geom_type=ogr.wkbLineString)
    d["aoi_points"] = vector(root / "aoi_points.gpkg", [f"POINT({ORIGIN[0] + 10} {ORIGIN[1] - 10})"],
                             geom_type=ogr.wkbPoint)
    d["aoi_empty"] = vector(root / "aoi_empty.gpkg", [])
    d["aoi_outside"] = vector(root / "aoi_outside.gpkg", [square(SIZE * 40, SIZE * 40, 20.0)])
    d["aoi"] = vector(root / "aoi.gpkg", [inside])

    pixels = scene_pixels()
    d["scene"] = raster(root / "scene.tif", pixels, dtype=gdal.GDT_Byte)
    d["scene_png"] = png(root / "scene.png", pixels)
    d["scene_corner"], d["exemplars_corner"] = corner_scene(root)
    # the same example box drawn on scene.png as QGIS shows it (x = column, y = -row, no CRS)
    d["exemplars_png"] = vector(root / "exemplars_png.gpkg", [square(64, 64, 32.0 / GSD, origin=(0.0, 0.0), gsd=1.0)],
                                epsg=None, fields={"class": ["su24"]})
    d["scene_black"] = raster(root / "scene_black.tif", np.zeros_like(pixels), dtype=gdal.GDT_Byte)
    d["scene_4326"] = str(root / "scene_4326.tif")
    gdal.Warp(d["scene_4326"], d["scene"], dstSRS="EPSG:4326", resampleAlg="near")
    d["exemplars"] = vector(root / "exemplars.gpkg", [square(64, 64, 32.0)], fields={"class": ["su24"]})
    d["exemplars_line"] = vector(root / "exemplars_line.gpkg", [f"LINESTRING({ORIGIN[0]} {ORIGIN[1]},"
                                                                f"{ORIGIN[0] + 30} {ORIGIN[1] - 30})"],
                                 geom_type=ogr.wkbLineString, fields={"class": ["su24"]})
    d["exemplars_empty"] = vector(root / "exemplars_empty.gpkg", [], fields={"class": []})
    boxes = [square(64, 64, 28.0), square(190, 70, 28.0)]
    d["dets_before"] = vector(root / "dets_before.gpkg", boxes, fields={"class": ["su24", "su24"]})
    d["dets_after"] = vector(root / "dets_after.gpkg", boxes[:1], fields={"class": ["su24"]})
    d["dets_no_class"] = vector(root / "dets_no_class.gpkg", boxes, fields={"kind": ["su24", "su24"]})
    d["dets_empty"] = vector(root / "dets_empty.gpkg", [], fields={"class": []})
    d["dets_lines"] = vector(root / "dets_lines.gpkg", [f"LINESTRING({ORIGIN[0]} {ORIGIN[1]},{ORIGIN[0] + 9} "
                                                        f"{ORIGIN[1] - 9})"], geom_type=ogr.wkbLineString,
                             fields={"class": ["su24"]})
    d["dets_4326"] = str(root / "dets_4326.gpkg")
    gdal.VectorTranslate(d["dets_4326"], d["dets_before"], dstSRS="EPSG:4326")

    d["corrupt_onnx"] = str(root / "corrupt.onnx")
    Path(d["corrupt_onnx"]).write_bytes(np.random.default_rng(3).bytes(4096))
    d["empty_onnx"] = str(root / "empty.onnx")
    Path(d["empty_onnx"]).write_bytes(b"")

    coco = root / "coco"
    coco.mkdir()
    (coco / "annotations.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "missing_1.tif", "width": 64, "height": 64}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 12, 12]}],
        "categories": [{"id": 1, "name": "vehicle"}]}))
    d["coco_missing_images"] = str(coco)
    d["coco_broken_json"] = str(root / "broken.json")
    Path(d["coco_broken_json"]).write_text("{\"images\": [")
    d["empty_folder"] = str(root / "empty_folder")
    Path(d["empty_folder"]).mkdir()
    d["train_boxes"] = vector(root / "train_boxes.gpkg", [square(64, 64, 28.0)], fields={"class": ["su24"]})
    d["a_file"] = str(root / "a_file.txt")
    Path(d["a_file"]).write_text("x")
    return d


def wrong_metadata_onnx(path: Path) -> str:
    """A valid ONNX graph that says nothing of classes, tiles or pixel size."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 64, 64])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "class_names", "not json at all {"
    onnx.save(model, str(path))
    return str(path)
