"""Processing algorithm sitewatch:trainequipmentdetector: train a detector, write an ONNX model."""
from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)

from ..core.equipment.learned.train import TrainingParameters, train_detector
from ..core.errors import Cancelled, SiteWatchError
from .common import ADVANCED, add_parameters, feedback_progress, tr
from .guard import guarded


class TrainEquipmentDetectorAlgorithm(QgsProcessingAlgorithm):
    TRAINING_DATA = "TRAINING_DATA"
    CLASS_FIELD = "CLASS_FIELD"
    DATASET = "DATASET"
    IMAGES = "IMAGES"
    CLASSES = "CLASSES"
    TIME_BUDGET = "TIME_BUDGET"
    MODEL_GSD = "MODEL_GSD"
    IMAGE_GSD = "IMAGE_GSD"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    VALIDATION_F1 = "VALIDATION_F1"
    CLASS_NAMES = "CLASS_NAMES"

    def name(self) -> str:
        return "trainequipmentdetector"

    def displayName(self) -> str:  # noqa: N802
        return tr("Train equipment detector")

    def group(self) -> str:
        return tr("Equipment")

    def groupId(self) -> str:  # noqa: N802
        return "equipment"

    def shortHelpString(self) -> str:  # noqa: N802
        return tr("Trains a small object detector on the CPU from boxes drawn over images (a polygon layer with a "
                "class field) or from a COCO, YOLO or DOTA dataset, within a time budget, and writes it as an "
                "ONNX model for the 'learned' detection engine (also readable by Deepness). Needs PyTorch.")

    def createInstance(self) -> "TrainEquipmentDetectorAlgorithm":  # noqa: N802
        return TrainEquipmentDetectorAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        add_parameters(self, [
            (QgsProcessingParameterVectorLayer(self.TRAINING_DATA, tr("Training boxes"),
                                               [QgsProcessing.SourceType.TypeVectorPolygon], optional=True),
             tr("Polygons drawn around objects on the images, with the class in CLASS_FIELD. A dataset "
                "path (COCO .json, YOLO or DOTA folder) is also accepted here.")),
            (QgsProcessingParameterField(self.CLASS_FIELD, tr("Class field"), defaultValue="class",
                                         parentLayerParameterName=self.TRAINING_DATA, optional=True),
             tr("Field of the training boxes that holds the class name (e.g. aircraft).")),
            (QgsProcessingParameterFile(self.DATASET, tr("Or a dataset folder (COCO, YOLO, DOTA)"),
                                        behavior=QgsProcessingParameterFile.Behavior.Folder, optional=True),
             tr("A COCO (.json inside), YOLO (images/, labels/) or DOTA (images/, labelTxt/) folder, "
                "used when no training layer is given.")),
            (QgsProcessingParameterMultipleLayers(self.IMAGES, tr("Images"), QgsProcessing.SourceType.TypeRaster,
                                                  optional=True),
             tr("Rasters the boxes were drawn on; with a dataset, only these images are used.")),
            (QgsProcessingParameterString(self.CLASSES, tr("Classes to learn (comma separated)"), optional=True),
             tr("Keep only these classes; empty: every class found in the training data.")),
            (QgsProcessingParameterNumber(self.TIME_BUDGET, tr("Time budget (minutes)"),
                                          QgsProcessingParameterNumber.Type.Double, defaultValue=20.0, minValue=0.25),
             tr("Training stops after this many minutes (loading and export included) and keeps "
                "the best model found.")),
            (QgsProcessingParameterNumber(self.MODEL_GSD, tr("Working pixel size of the model (m)"),
                                          QgsProcessingParameterNumber.Type.Double, defaultValue=1.0, minValue=0.05),
             tr("Images are resampled to this pixel size for training and detection (1 m suits aircraft)."), ADVANCED),
            (QgsProcessingParameterNumber(self.IMAGE_GSD, tr("Pixel size of images without georeferencing (m)"),
                                          QgsProcessingParameterNumber.Type.Double, defaultValue=0.0, minValue=0.0),
             tr("Pixel size of dataset images that carry no georeferencing (DOTA gives its own)."), ADVANCED),
            (QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, tr("Trained model"), tr("ONNX models (*.onnx)")),
             tr("The ONNX model file to write (class names, pixel size and tiling in its metadata).")),
        ])
        self.addOutput(QgsProcessingOutputNumber(self.VALIDATION_F1, tr("Validation F1 (IoU 0.5)")))
        self.addOutput(QgsProcessingOutputString(self.CLASS_NAMES, tr("Classes learned")))

    def _dataset_in_training_data(self, parameters) -> str:
        """A COCO .json or a dataset folder given as TRAINING_DATA (instead of a layer), else ''."""
        raw = parameters.get(self.TRAINING_DATA)
        if isinstance(raw, str) and raw and (Path(raw).is_dir() or raw.lower().endswith(".json")):
            return raw
        return ""

    def checkParameterValues(self, parameters, context):  # noqa: N802
        if self._dataset_in_training_data(parameters):
            parameters = {k: v for k, v in parameters.items() if k != self.TRAINING_DATA}
        return super().checkParameterValues(parameters, context)

    @guarded
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        steps = QgsProcessingMultiStepFeedback(2, feedback)
        dataset = self._dataset_in_training_data(parameters)
        layer = None if dataset else self.parameterAsVectorLayer(parameters, self.TRAINING_DATA, context)
        dataset = dataset or self.parameterAsFile(parameters, self.DATASET, context)
        rasters = self.parameterAsLayerList(parameters, self.IMAGES, context)
        classes = [c.strip() for c in self.parameterAsString(parameters, self.CLASSES, context).split(",")
                   if c.strip()]
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        image_gsd = self.parameterAsDouble(parameters, self.IMAGE_GSD, context)
        try:
            examples = []
            if layer is not None:
                from ..qgisio.training import layer_examples

                field = self.parameterAsString(parameters, self.CLASS_FIELD, context) or "class"
                examples = layer_examples(layer, rasters, field, context.project())
            elif not dataset:
                raise QgsProcessingException(tr("Give training boxes (a polygon layer) or a dataset folder."))
            steps.setCurrentStep(1)
            if steps.isCanceled():
                return {}
            params = TrainingParameters(
                output_model=output, examples=examples, dataset=dataset or "",
                images=[r.source() for r in rasters] if dataset and layer is None else [],
                classes=classes or None, time_budget_min=self.parameterAsDouble(parameters, self.TIME_BUDGET, context),
                gsd_m=self.parameterAsDouble(parameters, self.MODEL_GSD, context),
                image_gsd_m=image_gsd if image_gsd > 0 else None)
            result = train_detector(params, feedback_progress(steps, first_clause_only=True))
        except Cancelled:
            feedback.reportError(tr("Training cancelled; no model was written."))
            return {}
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(2)
        feedback.pushInfo(tr("{} training steps in {:.0f} s on {} image(s), {} object(s); validation F1 {}; "
                             "score threshold {:.2f}").format(result.steps, result.seconds, result.images_train,
                                                              result.objects, result.validation_f1, result.det_conf))
        return {self.OUTPUT_MODEL: result.model_path, self.VALIDATION_F1: result.validation_f1 or 0.0,
                self.CLASS_NAMES: ",".join(result.class_names)}
