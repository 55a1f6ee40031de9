"""sitewatch:trainequipmentdetector: boxes layer over rasters, dataset folder, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr

gdal.UseExceptions()
SIZE = 192


def scene(path: Path, rng: np.random.Generator, n: int = 5) -> list[tuple[int, int, int, int]]:
    """A 1 m GeoTIFF (UTM 33N) with bright plus-shaped objects; their pixel boxes."""
    img = 70 + rng.normal(0, 5, (SIZE, SIZE))
    boxes = []
    while len(boxes) < n:
        s = int(rng.integers(14, 22))
        cx, cy = (int(v) for v in rng.integers(16, SIZE - 16, size=2))
        box = (cx - s // 2, cy - s // 2, cx - s // 2 + s, cy - s // 2 + s)
        if any(not (box[2] + 3 < b[0] or b[2] + 3 < box[0] or box[3] + 3 < b[1] or b[3] + 3 < box[1]) for b in boxes):
            continue
        boxes.append(box)
        img[box[1]:box[3], cx - 1:cx + 2] = 220
        img[cy - 1:cy + 2, box[0]:box[2]] = 220
    ds = gdal.GetDriverByName("GTiff").Create(str(path), SIZE, SIZE, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((400000.0, 1.0, 0, 5000000.0, 0, -1.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(np.clip(img, 0, 255).astype(np.uint8))
    ds = None
    return boxes


@pytest.fixture()
def algorithm(qgis_app, qgis_processing):
    pytest.importorskip("torch", reason="training needs torch")
    pytest.importorskip("onnx", reason="training writes ONNX")
    from sitewatch.plugin.processing.alg_trainequipmentdetector import TrainEquipmentDetectorAlgorithm

    alg = TrainEquipmentDetectorAlgorithm()
    alg.initAlgorithm()
    return alg


def run(alg, params: dict):
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    ok, msg = alg.checkParameterValues(params, context)
    assert ok, msg
    return alg.processAlgorithm(params, context, feedback)


def boxes_layer(rasters: list[tuple[str, list]], field: str = "class"):
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    layer = QgsVectorLayer("Polygon?crs=EPSG:32633", "boxes", "memory")
    layer.dataProvider().addAttributes([QgsField(field, QVariant.String)])
    layer.updateFields()
    feats = []
    for _path, boxes in rasters:
        for x0, y0, x1, y1 in boxes:
            f = QgsFeature(layer.fields())
            mx0, mx1, my0, my1 = 400000.0 + x0, 400000.0 + x1, 5000000.0 - y1, 5000000.0 - y0
            f.setGeometry(QgsGeometry.fromWkt(f"POLYGON(({mx0} {my0},{mx1} {my0},{mx1} {my1},{mx0} {my1},{mx0} {my0}))"))
            f.setAttributes(["vehicle"])
            feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_train_from_layer(algorithm, tmp_path):
    from qgis.core import QgsRasterLayer

    rng = np.random.default_rng(3)
    rasters = []
    for i in range(3):
        path = tmp_path / f"img{i}.tif"
        rasters.append((str(path), scene(path, rng)))
    layers = [QgsRasterLayer(p, Path(p).stem) for p, _ in rasters]
    out = tmp_path / "model.onnx"
    result = run(algorithm, {"TRAINING_DATA": boxes_layer(rasters), "CLASS_FIELD": "class", "IMAGES": layers,
                             "CLASSES": "", "TIME_BUDGET": 0.25, "OUTPUT_MODEL": str(out)})
    assert set(result) == {"OUTPUT_MODEL", "VALIDATION_F1", "CLASS_NAMES"}
    assert result["OUTPUT_MODEL"] == str(out) and out.is_file()
    assert result["CLASS_NAMES"] == "vehicle" and 0.0 <= result["VALIDATION_F1"] <= 1.0
    import onnx

    meta = {p.key: json.loads(p.value) for p in onnx.load(str(out)).metadata_props}
    assert meta["class_names"] == {"0": "vehicle"} and meta["resolution"] == 100.0


def test_bad_input_messages(algorithm, tmp_path):
    from qgis.core import QgsProcessingException, QgsRasterLayer

    rng = np.random.default_rng(4)
    path = tmp_path / "img.tif"
    rasters = [(str(path), scene(path, rng))]
    layer = QgsRasterLayer(str(path), "img")
    out = str(tmp_path / "m.onnx")
    with pytest.raises(QgsProcessingException, match="No training example of class tank"):
        run(algorithm, {"TRAINING_DATA": boxes_layer(rasters), "IMAGES": [layer], "CLASSES": "tank",
                        "OUTPUT_MODEL": out})
    with pytest.raises(QgsProcessingException, match="Give training boxes"):
        run(algorithm, {"IMAGES": [layer], "OUTPUT_MODEL": out})
    with pytest.raises(QgsProcessingException, match="no field 'kind'"):
        run(algorithm, {"TRAINING_DATA": boxes_layer(rasters), "CLASS_FIELD": "kind", "IMAGES": [layer],
                        "OUTPUT_MODEL": out})
    empty = tmp_path / "yolo"
    (empty / "images").mkdir(parents=True)
    (empty / "labels").mkdir()
    gdal.Translate(str(empty / "images" / "a.tif"), str(path))
    with pytest.raises(QgsProcessingException, match="no annotated object"):
        run(algorithm, {"DATASET": str(empty), "OUTPUT_MODEL": out})
    assert not Path(out).exists()


def test_train_from_yolo_dataset_path(algorithm, tmp_path):
    rng = np.random.default_rng(5)
    root = tmp_path / "yolo"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(2):
        boxes = scene(root / "images" / f"s{i}.tif", rng)
        (root / "labels" / f"s{i}.txt").write_text("".join(
            f"0 {(x0 + x1) / 2 / SIZE} {(y0 + y1) / 2 / SIZE} {(x1 - x0) / SIZE} {(y1 - y0) / SIZE}\n"
            for x0, y0, x1, y1 in boxes))
    (root / "classes.txt").write_text("vehicle\n")
    out = tmp_path / "m.onnx"
    result = run(algorithm, {"TRAINING_DATA": str(root), "TIME_BUDGET": 0.25, "OUTPUT_MODEL": str(out)})
    assert result["CLASS_NAMES"] == "vehicle" and out.is_file()
