"""Processing algorithm sitewatch:exportannotations: a site's reviewed objects as training data."""
from __future__ import annotations

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
)

from ..core.annotations.formats import FORMAT_NAMES
from ..core.errors import Cancelled, SiteWatchError
from ..store.review import ReviewStore
from ..store.workspace import WorkspaceError
from .alg_coregister import feedback_progress


class ExportAnnotationsAlgorithm(QgsProcessingAlgorithm):
    WORKSPACE = "WORKSPACE"
    FORMAT = "FORMAT"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OBJECTS = "OBJECTS"
    IMAGES = "IMAGES"

    def name(self) -> str:
        return "exportannotations"

    def displayName(self) -> str:  # noqa: N802
        return "Export reviewed annotations"

    def group(self) -> str:
        return "Review"

    def groupId(self) -> str:  # noqa: N802
        return "review"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Writes the reviewed objects of a site (accepted, relabelled, redrawn or added; rejected and "
                "unreviewed ones left out) as training data: georeferenced PNG image chips cut from the "
                "captures and labels in COCO, YOLO, YOLO oriented, DOTA or GeoJSON.")

    def createInstance(self) -> "ExportAnnotationsAlgorithm":  # noqa: N802
        return ExportAnnotationsAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        workspace = QgsProcessingParameterFile(self.WORKSPACE, "Site workspace", extension="gpkg")
        fmt = QgsProcessingParameterEnum(self.FORMAT, "Format", options=FORMAT_NAMES, defaultValue=0)
        out = QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, "Output folder")
        helps = {
            workspace: "The site's workspace.gpkg (in the site folder) that holds the review history.",
            fmt: "COCO (json, oriented boxes as four-corner segmentations), YOLO (axis-aligned), YOLO oriented "
                 "(Ultralytics OBB), DOTA (labelTxt) or GeoJSON (map coordinates).",
            out: "Folder for images/ and the labels (created).",
        }
        for param, help_text in helps.items():
            param.setHelp(help_text)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputNumber(self.OBJECTS, "Objects exported"))
        self.addOutput(QgsProcessingOutputNumber(self.IMAGES, "Image chips written"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..store.review_exchange import export_reviewed

        workspace = self.parameterAsFile(parameters, self.WORKSPACE, context)
        fmt = FORMAT_NAMES[self.parameterAsEnum(parameters, self.FORMAT, context)]
        folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        try:
            result = export_reviewed(ReviewStore(workspace), folder, fmt, feedback_progress(feedback))
        except Cancelled:
            feedback.reportError("Export cancelled.")
            return {}
        except (SiteWatchError, WorkspaceError) as exc:
            raise QgsProcessingException(str(exc)) from exc
        feedback.pushInfo(f"{result.objects} reviewed objects in {result.images} image chips, {fmt}: {result.path}")
        return {self.OUTPUT_FOLDER: folder, self.OBJECTS: result.objects, self.IMAGES: result.images}
