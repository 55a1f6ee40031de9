"""The Graphical Modeler models shipped in resources/models/, listed by the provider.

Each model keeps its file name as its id (sitewatch:siteanalysismodel, ...): scripts and
qgis_process calls depend on it. The Toolbox shows a readable name.
"""
from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsMessageLog, QgsProcessingModelAlgorithm

MODELS_DIR = Path(__file__).resolve().parents[2] / "resources" / "models"
DISPLAY_NAMES = {
    "siteanalysismodel": "Site analysis model (co-registration, change, equipment, comparison)",
    "sitetimelinemodel": "Site timeline model (a folder of captures)",
}


class ShippedModel(QgsProcessingModelAlgorithm):
    """A model read from resources/models/, shown under its readable name."""

    def displayName(self) -> str:  # noqa: N802
        return DISPLAY_NAMES.get(self.name(), self.name())


def shipped_models() -> list[QgsProcessingModelAlgorithm]:
    models = []
    for path in sorted(MODELS_DIR.glob("*.model3")):
        model = ShippedModel()
        if model.fromFile(str(path)):
            help_texts = model.helpContent()  # the Modeler keeps parameter help there, by parameter name
            for parameter in model.parameterDefinitions():
                if not parameter.help() and help_texts.get(parameter.name()):
                    parameter.setHelp(help_texts[parameter.name()])
            models.append(model)
        else:
            QgsMessageLog.logMessage(f"SiteWatch could not read the model {path}", "SiteWatch",
                                     Qgis.MessageLevel.Warning)
    return models
