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
from ..core.progress import Progress


def _progress(feedback) -> Progress:
    last = {"message": None}

    def callback(fraction: float, message: str):
        feedback.setProgress(100.0 * fraction)
        if message and message.split(",")[0] != last["message"]:
            last["message"] = message.split(",")[0]
            feedback.setProgressText(message)
        return not feedback.isCanceled()

    return Progress(callback)


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
        return "Train equipment detector"

    def group(self) -> str:
        return "Equipment"

    def groupId(self) -> str:  # noqa: N802
        return "equipment"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Trains a small object detector on the CPU from boxes drawn over images (a polygon layer with a "
                "class field) or from a COCO, YOLO or DOTA dataset, within a time budget, and writes it as an "
                "ONNX model for the 'learned' detection engine (also readable by Deepness). Needs PyTorch.")

    def createInstance(self) -> "TrainEquipmentDetectorAlgorithm":  # noqa: N802
        return TrainEquipmentDetectorAlgorithm()

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        data = QgsProcessingParameterVectorLayer(self.TRAINING_DATA, "Training boxes",
                                                 [QgsProcessing.TypeVectorPolygon], optional=True)
        field = QgsProcessingParameterField(self.CLASS_FIELD, "Class field", defaultValue="class",
                                            parentLayerParameterName=self.TRAINING_DATA, optional=True)
        dataset = QgsProcessingParameterFile(self.DATASET, "Or a dataset folder (COCO, YOLO, DOTA)",
                                             behavior=QgsProcessingParameterFile.Folder, optional=True)
        images = QgsProcessingParameterMultipleLayers(self.IMAGES, "Images", QgsProcessing.TypeRaster, optional=True)
        classes = QgsProcessingParameterString(self.CLASSES, "Classes to learn (comma separated)", optional=True)
        budget = QgsProcessingParameterNumber(self.TIME_BUDGET, "Time budget (minutes)",
                                              QgsProcessingParameterNumber.Double, defaultValue=20.0, minValue=0.25)
        gsd = QgsProcessingParameterNumber(self.MODEL_GSD, "Working pixel size of the model (m)",
                                           QgsProcessingParameterNumber.Double, defaultValue=1.0, minValue=0.05)
        gsd.setFlags(gsd.flags() | QgsProcessingParameterNumber.FlagAdvanced)
        image_gsd = QgsProcessingParameterNumber(self.IMAGE_GSD, "Pixel size of images without georeferencing (m)",
                                                 QgsProcessingParameterNumber.Double, defaultValue=0.0, minValue=0.0)
        image_gsd.setFlags(image_gsd.flags() | QgsProcessingParameterNumber.FlagAdvanced)
        out = QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Trained model", "ONNX models (*.onnx)")
        helps = {
            data: "Polygons drawn around objects on the images, with the class in CLASS_FIELD. A dataset "
                  "path (COCO .json, YOLO or DOTA folder) is also accepted here.",
            field: "Field of the training boxes that holds the class name (e.g. aircraft).",
            dataset: "A COCO (.json inside), YOLO (images/, labels/) or DOTA (images/, labelTxt/) folder, "
                     "used when no training layer is given.",
            images: "Rasters the boxes were drawn on; with a dataset, only these images are used.",
            classes: "Keep only these classes; empty: every class found in the training data.",
            budget: "Training stops after this many minutes (loading and export included) and keeps "
                    "the best model found.",
            gsd: "Images are resampled to this pixel size for training and detection (1 m suits aircraft).",
            image_gsd: "Pixel size of dataset images that carry no georeferencing (DOTA gives its own).",
            out: "The ONNX model file to write (class names, pixel size and tiling in its metadata).",
        }
        for param, help_text in helps.items():
            param.setHelp(help_text)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputNumber(self.VALIDATION_F1, "Validation F1 (IoU 0.5)"))
        self.addOutput(QgsProcessingOutputString(self.CLASS_NAMES, "Classes learned"))

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
                raise QgsProcessingException("Give training boxes (a polygon layer) or a dataset folder.")
            steps.setCurrentStep(1)
            if steps.isCanceled():
                return {}
            params = TrainingParameters(
                output_model=output, examples=examples, dataset=dataset or "",
                images=[r.source() for r in rasters] if dataset and layer is None else [],
                classes=classes or None, time_budget_min=self.parameterAsDouble(parameters, self.TIME_BUDGET, context),
                gsd_m=self.parameterAsDouble(parameters, self.MODEL_GSD, context),
                image_gsd_m=image_gsd if image_gsd > 0 else None)
            result = train_detector(params, _progress(steps))
        except Cancelled:
            feedback.reportError("Training cancelled; no model was written.")
            return {}
        except SiteWatchError as exc:
            raise QgsProcessingException(str(exc)) from exc
        steps.setCurrentStep(2)
        feedback.pushInfo(f"{result.steps} training steps in {result.seconds:.0f} s on {result.images_train} "
                          f"image(s), {result.objects} object(s); validation F1 {result.validation_f1}; "
                          f"score threshold {result.det_conf:.2f}")
        return {self.OUTPUT_MODEL: result.model_path, self.VALIDATION_F1: result.validation_f1 or 0.0,
                self.CLASS_NAMES: ",".join(result.class_names)}
