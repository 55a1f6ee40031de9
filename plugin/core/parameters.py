"""The one contract between the panel, the Toolbox, the batch tools and the core.

Every knob a user can tune is a field of a *settings* dataclass below, with its default
written here and nowhere else; every choice list (change methods, detection engines,
resolution rules, the capture examples were drawn on) lives here with its labels. The
operations' parameters add their inputs and outputs to those settings:

    ChangeParameters    = change inputs    + ChangeSettings            -> change.detect_changes
    DetectionParameters = one capture      + DetectionSettings         -> equipment.api.detect_equipment
    (matching)          = two detection lists + MatchSettings          -> equipment.matching.match_detections
    AnalysisParameters  = two captures + ChangeOptions + EquipmentOptions -> pipeline.run_analysis

`validate()` on each raises InputError with a sentence for the user; the core calls it
before any work, the dock and the algorithms call it to say early what is wrong.
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .errors import InputError

if TYPE_CHECKING:
    from .equipment.detection import Detection

# ---------------------------------------------------------------- choice lists (id -> label)
# change methods; the first is the default (best pooled F1 on real pairs, see tools/eval_change.py)
METHODS: dict[str, str] = {
    "structure": "Structure and context (gradient and local-structure dissimilarity, multi-scale, man-made surfaces first)",
    "cva": "Change vector analysis (Otsu threshold)",
    "irmad": "IR-MAD (chi-square change probability)",
    "pcakmeans": "PCA + k-means on difference neighbourhoods",
}
DEFAULT_METHOD = next(iter(METHODS))

# the common grid of the two captures: a rule, or a pixel size in CRS units
RESOLUTION_RULES = ("coarser", "finer", "before", "after")

# detection engines; the first is the default. Their code: equipment/engines (ENGINES there maps
# the same ids to the classes; a test keeps both lists the same)
ENGINES: dict[str, str] = {
    "exemplar": "Exemplar (learns from boxes you drew)",
    "learned": "Learned (built-in detector)",
    "model": "ONNX model file",
}
DEFAULT_ENGINE = next(iter(ENGINES))

# the capture the example boxes were drawn on; the first is the default. On the other date, an
# example whose object has left keeps the look it has on its own capture; "each": every capture
# takes the look under the boxes from itself.
EXEMPLAR_CAPTURES: dict[str, str] = {
    "before": "Before capture",
    "after": "After capture",
    "each": "Each capture (the boxes fit both dates)",
}
DEFAULT_EXEMPLAR_CAPTURE = next(iter(EXEMPLAR_CAPTURES))


def _choice(value: str, choices: dict[str, str], what: str, known: str) -> None:
    if value not in choices:
        raise InputError(f"Unknown {what} '{value}'. Known {known}: {', '.join(choices)}.")


def _between(value: float, low: float, high: float, what: str) -> None:
    if not low <= float(value) <= high:
        raise InputError(f"{what} must be between {low:g} and {high:g} (got {value}).")


# ---------------------------------------------------------------- settings (the tunable knobs)
@dataclass
class ChangeSettings:
    """How change is detected between two captures."""

    method: str = DEFAULT_METHOD
    sensitivity: float = 0.5  # 0..1; the default uses the method's automatic threshold
    min_area_m2: float = 50.0  # smaller change regions are dropped (holes smaller than it filled)
    coregister: bool = True  # estimate and remove a sub-pixel shift first
    # when no shift window correlates confidently: False keeps the georeferenced alignment
    # (zero shift) and says so in the result; True stops the run with CoregistrationFailed
    require_coregistration: bool = False
    # default method: change between two natural surfaces (vegetation, soil) counts less
    # (change.methods.StructureContext); off: every change counts alike, as for the other methods
    natural_prior: bool = True
    normalize: bool = True  # match the after capture's radiometry on no-change pixels
    # score on a 2 x 2-averaged grid: a quarter of the scoring work, outlines about a pixel
    # blunter (the outputs keep the grid's resolution)
    half_resolution: bool = False
    # drop change regions that are only a shadow moved by the sun (when both captures carry
    # their sun angles in metadata or a .IMD sidecar)
    drop_shadow_moves: bool = True

    def validate(self) -> None:
        _choice(self.method, METHODS, "change method", "methods")
        _between(self.sensitivity, 0.0, 1.0, "Sensitivity")
        if float(self.min_area_m2) < 0:
            raise InputError(f"The minimum area cannot be negative (got {self.min_area_m2} m²).")


@dataclass
class DetectionSettings:
    """How equipment is found on one capture."""

    engine: str = DEFAULT_ENGINE
    model_path: Optional[str] = None  # ONNX file: needed by 'model', optional for 'learned'
    classes: Optional[list[str]] = None  # keep only these classes (None = all)
    min_score: float = 0.3  # detections less confident than this are dropped

    def validate(self) -> None:
        _choice(self.engine, ENGINES, "detection engine", "engines")
        _between(self.min_score, 0.0, 1.0, "The minimum score")
        if self.engine == "model" and not self.model_path:
            raise InputError("The 'model' engine needs an ONNX model file.")


@dataclass
class MatchSettings:
    """How the detections of two dates are matched (arrived, departed, stayed, moved)."""

    max_distance_m: float = 20.0  # objects farther apart are never the same object
    stay_tolerance_m: float = 3.0  # a matched object that moved less than this stayed

    def validate(self) -> None:
        if float(self.max_distance_m) <= 0:
            raise InputError(f"The maximum distance for a match must be above 0 m (got {self.max_distance_m}).")
        if float(self.stay_tolerance_m) < 0:
            raise InputError(f"The stay tolerance cannot be negative (got {self.stay_tolerance_m} m).")


def settings_of(settings_class: type, source: object) -> dict[str, Any]:
    """The fields of a settings dataclass as `source` (any object holding them) has them:
    `ChangeParameters(before=..., after=..., **settings_of(ChangeSettings, options))`."""
    return {f.name: getattr(source, f.name) for f in fields(settings_class)}


# ---------------------------------------------------------------- operations
@dataclass
class _ChangeInputs:
    before: str
    after: str
    output_dir: str = ""  # default outputs: change_score.tif, change_mask.tif, change_regions.gpkg
    aoi_wkt: Optional[str] = None  # AOI polygon (WKT); CRS defaults to the before raster's
    aoi_crs_wkt: Optional[str] = None


@dataclass
class ChangeParameters(ChangeSettings, _ChangeInputs):
    """Everything detect_changes needs: the inputs, then the settings, then expert knobs."""

    score_path: Optional[str] = None
    mask_path: Optional[str] = None
    regions_path: Optional[str] = None
    # band pairs (before band, after band), 1-based; None = match by meaning, else by order
    band_map: Optional[list[tuple[int, int]]] = None
    resolution: object = RESOLUTION_RULES[0]  # one of RESOLUTION_RULES or a pixel size in CRS units
    cloud_mask_before: Optional[str] = None  # rasters, non-zero = cloud/invalid
    cloud_mask_after: Optional[str] = None
    # ground size of a pixel (m) of rasters without georeferencing; None: measured in pixels
    # (1 unit = 1 pixel), with a warning in the result
    pixel_size_m: Optional[float] = None
    max_shift_px: float = 32.0  # co-registration search range
    local_shift: bool = True  # tile-wise shift field when the displacement varies
    cleanup_radius_m: Optional[float] = 2.0  # opening/closing radius (m); None = 1 pixel
    block_size: int = 512

    def validate(self) -> None:
        ChangeSettings.validate(self)
        if isinstance(self.resolution, str) and self.resolution not in RESOLUTION_RULES:
            raise InputError(f"Unknown resolution rule '{self.resolution}'; choose one of: "
                             f"{', '.join(RESOLUTION_RULES)}, or a pixel size.")


@dataclass
class _DetectionInputs:
    raster: str


@dataclass
class DetectionParameters(DetectionSettings, _DetectionInputs):
    """Everything detect_equipment needs for one capture."""

    exemplars: Optional[list["Detection"]] = None  # example boxes in the raster's map coords
    # raster the example boxes were drawn on (None: `raster`), e.g. another date of the site: an
    # example whose object has left `raster` keeps the look it has there
    exemplar_raster: Optional[str] = None
    aoi_wkt: Optional[str] = None  # polygon in the raster's CRS
    capture: str = ""  # label stored on each detection (e.g. the date)
    pixel_size_m: Optional[float] = None  # for a raster without georeferencing (refused without it)
    options: dict[str, Any] = field(default_factory=dict)  # engine-specific tuning knobs


@dataclass
class ChangeOptions(ChangeSettings):
    """The change step of an analysis: its settings, and whether it runs."""

    enabled: bool = True


@dataclass
class EquipmentOptions(MatchSettings, DetectionSettings):
    """The equipment step of an analysis: detection on each date, then matching across dates."""

    enabled: bool = True
    exemplars_path: Optional[str] = None  # vector file: polygons with a `class` field
    exemplars_layer: Optional[str] = None
    exemplars_capture: str = DEFAULT_EXEMPLAR_CAPTURE  # EXEMPLAR_CAPTURES

    def validate(self) -> None:
        DetectionSettings.validate(self)
        MatchSettings.validate(self)
        _choice(self.exemplars_capture, EXEMPLAR_CAPTURES, "capture for the example boxes", "captures")
        if self.engine == "exemplar" and not self.exemplars_path:
            raise InputError("The 'exemplar' engine needs a layer of example boxes drawn on a capture.")


@dataclass
class AnalysisParameters:
    """The whole two-date analysis (run_analysis): what the panel's Run and
    sitewatch:analyzesite both build."""

    site_name: str
    before_path: str
    after_path: str
    output_dir: str
    before_date: str = ""  # ISO date, shown in layer names and summaries
    after_date: str = ""
    aoi_wkt: Optional[str] = None
    aoi_crs_wkt: Optional[str] = None
    # polygons left out on both dates (clouds, haze, anything not to judge), in the AOI's CRS
    # (the before capture's without an AOI): no change is reported and nothing counted there
    left_out_wkt: Optional[str] = None
    cloud_mask_before: Optional[str] = None  # vendor cloud masks (non-zero = cloud), when the products have them
    cloud_mask_after: Optional[str] = None
    # ground size of a pixel (m) of captures without georeferencing; None: from the georeferencing
    # (change then measures in pixels, with a warning; equipment detection refuses)
    pixel_size_m: Optional[float] = None
    change: ChangeOptions = field(default_factory=ChangeOptions)
    equipment: EquipmentOptions = field(default_factory=EquipmentOptions)
    # the cloud masks' former names, still accepted (use cloud_mask_before / cloud_mask_after)
    before_cloud_mask: InitVar[Optional[str]] = None
    after_cloud_mask: InitVar[Optional[str]] = None

    def __post_init__(self, before_cloud_mask: Optional[str], after_cloud_mask: Optional[str]) -> None:
        self.cloud_mask_before = self.cloud_mask_before or before_cloud_mask
        self.cloud_mask_after = self.cloud_mask_after or after_cloud_mask

    def validate(self) -> None:
        for label, path in (("before", self.before_path), ("after", self.after_path)):
            if not path:
                raise InputError(f"Choose the {label} capture.")
            if not Path(path).exists() and "://" not in path and not path.startswith("/vsi"):
                raise InputError(f"Capture not found: {path}")
        if not self.output_dir:
            raise InputError("Choose an output folder for the analysis.")
        if not self.change.enabled and not self.equipment.enabled:
            raise InputError("Choose change detection, equipment counts, or both.")
        if self.change.enabled:
            self.change.validate()
        if self.equipment.enabled:
            self.equipment.validate()
