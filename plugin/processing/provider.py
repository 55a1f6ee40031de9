"""The SiteWatch Processing provider (id `sitewatch`)."""
from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..resources import icon_path
from .models import shipped_models
from .registry import algorithm_classes


class SiteWatchProvider(QgsProcessingProvider):
    def id(self) -> str:  # noqa: A003 (QGIS API name)
        return "sitewatch"

    def name(self) -> str:
        return "SiteWatch"

    def longName(self) -> str:  # noqa: N802
        return "SiteWatch: two-date site monitoring"

    def icon(self) -> QIcon:
        return QIcon(icon_path())

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm_class in algorithm_classes():
            self.addAlgorithm(algorithm_class())
        for model in shipped_models():  # resources/models/*.model3
            self.addAlgorithm(model)
