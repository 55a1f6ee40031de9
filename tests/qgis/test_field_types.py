"""Field types chosen for the running QGIS: QVariant types up to 3.36, QMetaType types from
3.38 (QGIS 4's PyQt6 has no QVariant type enums)."""
from __future__ import annotations

import importlib


def test_detection_fields_have_their_types():
    from qgis.PyQt.QtCore import QVariant

    from sitewatch.plugin.qgisio.detections import detection_fields
    from sitewatch.plugin.qgisio.field_types import INT

    fields = detection_fields([("in_change", INT)])
    kinds = {fields.field(i).name(): fields.field(i).type() for i in range(fields.count())}
    assert kinds["class"] == QVariant.String and kinds["score"] == QVariant.Double
    assert kinds["in_change"] == QVariant.Int


def test_newer_qgis_gets_qmetatype_types(monkeypatch):
    from qgis.core import Qgis
    from qgis.PyQt.QtCore import QMetaType

    from sitewatch.plugin.qgisio import field_types

    monkeypatch.setattr(Qgis, "QGIS_VERSION_INT", 40000)
    try:
        importlib.reload(field_types)
        assert (field_types.STRING, field_types.DOUBLE, field_types.INT) == (
            QMetaType.Type.QString, QMetaType.Type.Double, QMetaType.Type.Int)
        assert type(field_types.STRING) is type(QMetaType.Type.QString)
    finally:
        monkeypatch.undo()
        importlib.reload(field_types)
