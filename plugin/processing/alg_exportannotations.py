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
from .common import add_parameters, feedback_progress, tr


class ExportAnnotationsAlgorithm(QgsProcessingAlgorithm):
    WORKSPACE = "WORKSPACE"
    FORMAT = "FORMAT"
    OUTPUT_FOLDER = "OUTPUT_FOLDER"
    OBJECTS = "OBJECTS"
    IMAGES = "IMAGES"

    def name(self) -> str:
        return "exportannotations"

    def displayName(self) -> str:  # noqa: N802
        return tr("Export reviewed annotations")

    def group(self) -> str:
        return tr("Review")

    def groupId(self) -> str:  # noqa: N802
        return "review"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr("Writes the reviewed objects of a site (accepted, relabelled, redrawn or added; rejected and "
                  "unreviewed ones left out) as training data: georeferenced PNG image chips cut from the "
                  "captures and labels in COCO, YOLO, YOLO oriented, DOTA or GeoJSON.")

    def createInstance(self) -> "ExportAnnotationsAlgorithm":  # noqa: N802
        return ExportAnnotationsAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterFile(self.WORKSPACE, tr("Site workspace"), extension="gpkg"),
             tr("The site's workspace.gpkg (in the site folder) that holds the review history.")),
            (QgsProcessingParameterEnum(self.FORMAT, tr("Format"), options=FORMAT_NAMES, defaultValue=0),
             tr("COCO (json, oriented boxes as four-corner segmentations), YOLO (axis-aligned), YOLO oriented "
                "(Ultralytics OBB), DOTA (labelTxt) or GeoJSON (map coordinates).")),
            (QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, tr("Output folder")),
             tr("Folder for images/ and the labels (created).")),
        ])
        self.addOutput(QgsProcessingOutputNumber(self.OBJECTS, tr("Objects exported")))
        self.addOutput(QgsProcessingOutputNumber(self.IMAGES, tr("Image chips written")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..store.review_exchange import export_reviewed

        workspace = self.parameterAsFile(parameters, self.WORKSPACE, context)
        fmt = FORMAT_NAMES[self.parameterAsEnum(parameters, self.FORMAT, context)]
        folder = self.parameterAsString(parameters, self.OUTPUT_FOLDER, context)
        try:
            result = export_reviewed(ReviewStore(workspace), folder, fmt, feedback_progress(feedback))
        except Cancelled:
            feedback.reportError(tr("Export cancelled."))
            return {}
        except (SiteWatchError, WorkspaceError) as exc:
            raise QgsProcessingException(str(exc)) from exc
        feedback.pushInfo(tr("{0} reviewed objects in {1} image chips, {2}: {3}").format(
            result.objects, result.images, fmt, result.path))
        return {self.OUTPUT_FOLDER: folder, self.OBJECTS: result.objects, self.IMAGES: result.images}
