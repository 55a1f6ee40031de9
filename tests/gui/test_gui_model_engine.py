"""Choosing the ONNX model engine: classes, GSD and execution provider shown before Run."""
from __future__ import annotations

import json

import numpy as np
import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsRasterLayer

from analysis_fixtures import capture_pair, site_wkt

onnx = pytest.importorskip("onnx", reason="onnx builds the test model")
pytest.importorskip("onnxruntime", reason="onnxruntime reads the model")


def _model(path, det_conf=None):
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 1, 7])
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"]),
             helper.make_node("Add", ["const", "z"], ["output0"])]
    inits = [numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
             numpy_helper.from_array(np.zeros((1, 1, 7), np.float32), "const")]
    model = helper.make_model(helper.make_graph(nodes, "fixed", [x], [y], initializer=inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in {"model_type": "Detector", "class_names": {"0": "tank", "1": "truck"}, "resolution": 100,
                       "tile_size": 64, **({"det_conf": det_conf} if det_conf is not None else {})}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return path


def test_model_engine_describes_the_model(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    for path in capture_pair(tmp_path / "captures"):
        QgsProject.instance().addMapLayer(QgsRasterLayer(str(path), path.stem))
    dock = SiteWatchDock(qgis_iface)
    try:
        dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), QgsCoordinateReferenceSystem("EPSG:32636"))
        dock._refresh_timer.stop()
        dock.refresh_captures()
        options = dock.equipment_options
        options.engine_combo.setCurrentIndex(options.engine_combo.findData("model"))
        assert options.model_widget.isVisibleTo(options) and not options.exemplar_combo.isVisibleTo(options)
        assert not dock.run_button.isEnabled() and "ONNX model file" in dock.plan_label.text()
        options.model_widget.setFilePath(str(_model(tmp_path / "detector.onnx")))
        info = options.model_info_label.text()
        assert info.startswith("2 classes; trained at 1.00 m/pixel; runs on CPU")
        assert [options.classes_combo.itemText(i) for i in range(options.classes_combo.count())] == ["tank", "truck"]
        assert dock.run_button.isEnabled()
        plan = dock.plan_label.text()
        assert "model" in plan and "execution provider" in plan and "Estimated time" in plan
        params = dock.build_parameters()
        assert params.equipment.engine == "model" and params.equipment.model_path.endswith("detector.onnx")

        (tmp_path / "broken.onnx").write_bytes(b"not a model")
        options.model_widget.setFilePath(str(tmp_path / "broken.onnx"))
        assert options.model_info_label.text().startswith("This model cannot be used:")
    finally:
        dock.shutdown()
        dock.deleteLater()
