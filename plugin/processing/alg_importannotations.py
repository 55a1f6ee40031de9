"""Processing algorithm sitewatch:importannotations: annotations made elsewhere become reviewed objects."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
)

from ..core.annotations.formats import FORMAT_NAMES
from ..core.errors import Cancelled, SiteWatchError
from ..store.review import ReviewStore
from ..store.workspace import WorkspaceError
from .common import add_parameters, feedback_progress, tr


class ImportAnnotationsAlgorithm(QgsProcessingAlgorithm):
    INPUT = "INPUT"
    FORMAT = "FORMAT"
    IMAGES = "IMAGES"
    WORKSPACE = "WORKSPACE"
    OBJECTS = "OBJECTS"
    IMPORT_ID = "IMPORT_ID"

    def name(self) -> str:
        return "importannotations"

    def displayName(self) -> str:  # noqa: N802
        return tr("Import annotations as reviewed objects")

    def group(self) -> str:
        return tr("Review")

    def groupId(self) -> str:  # noqa: N802
        return "review"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr("Adds the boxes of a COCO, YOLO, YOLO oriented, DOTA or GeoJSON dataset to a site's review "
                  "history as reviewed objects (an 'add' decision each, kept like any other decision), placed "
                  "on the map through the images' georeferencing. Retrain from my reviews and exports then use them.")

    def createInstance(self) -> "ImportAnnotationsAlgorithm":  # noqa: N802
        return ImportAnnotationsAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterFile(self.INPUT, tr("Annotations (file or folder)"),
                                        behavior=QgsProcessingParameterFile.Behavior.File),
             tr("A COCO .json, a GeoJSON file, or a YOLO / YOLO oriented / DOTA dataset folder (images/ with "
                "labels/ or labelTxt/); a folder path may be typed in for those.")),
            (QgsProcessingParameterEnum(self.FORMAT, tr("Format"), options=FORMAT_NAMES, defaultValue=0),
             tr("The format of the annotations.")),
            (QgsProcessingParameterFile(self.IMAGES, tr("Georeferenced images (folder)"),
                                        behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True),
             tr("Where the georeferenced originals of images without georeferencing are (same file names); "
                "empty: the images beside the annotations (SiteWatch's chips carry a world file).")),
            (QgsProcessingParameterFile(self.WORKSPACE, tr("Site workspace"), extension="gpkg"),
             tr("The site's workspace.gpkg that receives the objects (created if missing).")),
        ])
        self.addOutput(QgsProcessingOutputNumber(self.OBJECTS, tr("Objects imported")))
        self.addOutput(QgsProcessingOutputString(self.IMPORT_ID, tr("Import id in the review history")))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        source = parameters.get(self.INPUT)
        if isinstance(source, str) and Path(source).is_dir():  # a dataset folder is a valid INPUT too
            parameters = {**parameters, self.INPUT: str(next((p for p in Path(source).rglob("*") if p.is_file()),
                                                                 source))}
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..store.review_exchange import import_annotations

        source = self.parameterAsFile(parameters, self.INPUT, context)
        fmt = FORMAT_NAMES[self.parameterAsEnum(parameters, self.FORMAT, context)]
        images = self.parameterAsFile(parameters, self.IMAGES, context) or None
        workspace = self.parameterAsFile(parameters, self.WORKSPACE, context)
        try:
            result = import_annotations(ReviewStore(workspace), source, fmt, images, feedback_progress(feedback))
        except Cancelled:
            feedback.reportError(tr("Import cancelled; nothing was added."))
            return {}
        except (SiteWatchError, WorkspaceError) as exc:
            raise QgsProcessingException(str(exc)) from exc
        feedback.pushInfo(tr("{0} objects from {1} images added to {2} ({3}).").format(
            result.objects, result.images, workspace, result.path))
        return {self.OBJECTS: result.objects, self.IMPORT_ID: result.path}
