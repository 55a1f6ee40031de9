"""Parameters and results of co-registration and change detection (plain dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# id -> label; the first entry is the default (best pooled F1 on real pairs, see tools/eval_change.py)
METHODS: dict[str, str] = {
    "structure": "Structure and context (gradient and local-structure dissimilarity, multi-scale, man-made surfaces first)",
    "cva": "Change vector analysis (Otsu threshold)",
    "irmad": "IR-MAD (chi-square change probability)",
    "pcakmeans": "PCA + k-means on difference neighbourhoods",
}
DEFAULT_METHOD = next(iter(METHODS))

RESOLUTION_RULES = ("coarser", "finer", "before", "after")


@dataclass
class ChangeParameters:
    """Everything detect_changes needs; the dock and the Processing algorithm both build one."""

    before: str
    after: str
    output_dir: str = ""  # default outputs: change_score.tif, change_mask.tif, change_regions.gpkg
    aoi_wkt: Optional[str] = None  # AOI polygon (WKT); CRS defaults to the before raster's
    aoi_crs_wkt: Optional[str] = None
    method: str = DEFAULT_METHOD
    sensitivity: float = 0.5  # 0..1; 0.5 = the automatic threshold
    min_area_m2: float = 50.0
    coregister: bool = True
    normalize: bool = True
    score_path: Optional[str] = None
    mask_path: Optional[str] = None
    regions_path: Optional[str] = None
    # band pairs (before band, after band), 1-based; None = match by meaning, else by order
    band_map: Optional[list[tuple[int, int]]] = None
    resolution: object = "coarser"  # one of RESOLUTION_RULES or a pixel size in CRS units
    cloud_mask_before: Optional[str] = None  # rasters, non-zero = cloud/invalid
    cloud_mask_after: Optional[str] = None
    pixel_size_m: float = 1.0  # assumed pixel size of rasters without georeferencing
    max_shift_px: float = 32.0  # co-registration search range
    local_shift: bool = True  # tile-wise shift field when the displacement varies
    cleanup_radius_m: Optional[float] = 2.0  # opening/closing radius (m); None = 1 pixel
    block_size: int = 512
    # score on a 2 x 2-averaged grid: a quarter of the scoring work, outlines about a pixel
    # blunter (the outputs keep the grid's resolution)
    half_resolution: bool = False
    # drop change regions that are only a shadow moved by the sun (when both captures carry
    # their sun angles in metadata or a .IMD sidecar)
    drop_shadow_moves: bool = True


@dataclass
class Shift:
    """Displacement of the after (input) image relative to the before (reference) image.

    A feature at reference pixel (x, y) is found at input pixel (x + dx_px, y + dy_px);
    dx_m/dy_m are the same displacement in map units (dy_m positive towards north/up).
    """

    dx_px: float = 0.0
    dy_px: float = 0.0
    dx_m: float = 0.0
    dy_m: float = 0.0
    confidence: float = 0.0  # 0..1: how distinct the correlation peak is
    local: bool = False  # True when a tile-wise shift field was applied
    n_tiles: int = 0  # tiles that gave a confident local shift
    max_local_deviation_px: float = 0.0


@dataclass
class BandFit:
    """before ~= gain * after + offset over no-change pixels: orthogonal regression, or mean and
    spread matching ("moments") when the bands correlate too weakly for a regression slope."""

    band_before: int
    band_after: int
    gain: float
    offset: float
    correlation: float
    rmse: float
    method: str = "orthogonal"


@dataclass
class NormalisationFit:
    applied: bool = False
    n_no_change: int = 0
    n_sample: int = 0
    bands: list[BandFit] = field(default_factory=list)


@dataclass
class GridInfo:
    crs_wkt: str
    geotransform: tuple[float, float, float, float, float, float]
    width: int
    height: int

    @property
    def pixel_width(self) -> float:
        return abs(self.geotransform[1])

    @property
    def pixel_height(self) -> float:
        return abs(self.geotransform[5])

    @property
    def pixel_area(self) -> float:
        return self.pixel_width * self.pixel_height


@dataclass
class ChangeRegion:
    wkt: str
    area_m2: float
    mean_score: float
    max_score: float
    length_m: float
    width_m: float
    compactness: float
    centroid_x: float
    centroid_y: float


@dataclass
class CoregistrationResult:
    output_path: Optional[str]
    shift: Shift
    grid: GridInfo


@dataclass
class ChangeResult:
    score_path: str
    mask_path: str
    regions_path: str
    method: str
    threshold: float  # on the score (0..1) scale
    raw_threshold: float  # the automatic threshold on the method's own statistic
    changed_area_m2: float
    n_regions: int
    regions: list[ChangeRegion]
    shift: Shift
    normalisation: NormalisationFit
    grid: GridInfo
    regions_layer: str = "change_regions"
    band_pairs: list[tuple[int, int]] = field(default_factory=list)
    shadow_moves_dropped: int = 0  # regions removed as shadows moved by the sun
    scoring: str = ""  # which scoring path ran (compiled kernels or numpy), one line for logs
    scoring_advice: str = ""  # how to score faster (install numba), one line for the analyst; "" when nothing
