"""QgsField types that work from QGIS 3.22 to QGIS 4: QgsField takes QVariant.Type up to 3.36
and QMetaType.Type from 3.38, and PyQt6 (QGIS 4) has no QVariant type enums at all."""
from __future__ import annotations

from qgis.core import Qgis

if Qgis.QGIS_VERSION_INT >= 33800:
    from qgis.PyQt.QtCore import QMetaType

    STRING, DOUBLE, INT = QMetaType.Type.QString, QMetaType.Type.Double, QMetaType.Type.Int
else:
    from qgis.PyQt.QtCore import QVariant

    STRING, DOUBLE, INT = QVariant.String, QVariant.Double, QVariant.Int
