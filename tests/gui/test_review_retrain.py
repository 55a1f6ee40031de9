"""Retrain from my reviews: the reviewed objects become training examples, the model lands in the site workspace."""
from __future__ import annotations

import pytest

from review_gui_helpers import copy_sample, open_panel


def test_reviewed_objects_train_the_learned_engine_into_the_site_workspace(qgis_app, qgis_iface, qgis_new_project,
                                                                            review_sample_root, tmp_path):
    pytest.importorskip("torch", reason="training needs python3-torch")
    pytest.importorskip("onnxruntime", reason="the trained model is checked by running it")
    from sitewatch.plugin.core.equipment.onnx_model import model_summary
    from sitewatch.plugin.gui.review.retrain import RetrainTask
    from sitewatch.plugin.store.models import learned_model_path
    from sitewatch.plugin.store.review_training import reviewed_examples

    analysis = copy_sample(review_sample_root, tmp_path / "sample")
    panel, _group = open_panel(qgis_iface, analysis)
    try:
        session = panel.session
        task = RetrainTask(session.store.path, time_budget_min=0.2)
        assert not task.run() and "No reviewed object" in task.error  # nothing reviewed yet: says what to do
        detections = [s for s in session.state.detections()]
        for s in detections[:12]:
            session.accept(s.object_id)
        session.reject(detections[12].object_id)
        session.relabel(detections[13].object_id, "truck")
        examples = reviewed_examples(session.store)
        assert sum(len(d) for _r, d in examples) == 13
        assert {r for r, _d in examples} <= {s.obj.raster_path for s in detections}
        classes = {d.class_name for _r, dets in examples for d in dets}
        assert "truck" in classes
        task = RetrainTask(session.store.path, time_budget_min=0.2)
        assert task.run(), task.error
        model = learned_model_path(session.store.path)
        assert model == analysis.parent.parent / "models" / "learned.onnx" and model.is_file()
        assert not list(model.parent.glob("*.partial.onnx"))
        assert set(model_summary(model).class_names) == classes
    finally:
        panel.shutdown()
