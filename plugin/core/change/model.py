"""Results of co-registration and change detection (plain dataclasses); their parameters
live in core/parameters.py and are re-exported here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# the change settings and parameters are part of the one contract (core/parameters.py)
from ..parameters import DEFAULT_METHOD, METHODS, RESOLUTION_RULES, ChangeParameters, ChangeSettings  # noqa: F401


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
    # "estimated"; "not estimated" (no window correlated confidently: the georeferenced
    # alignment was kept, zero shift); "off" (co-registration not asked for)
    status: str = "off"
    note: str = ""  # why it was not estimated, one line for the analyst

    def describe(self) -> str:
        """One line for logs and summaries."""
        if self.status == "estimated":
            return (f"Co-registration shift: {self.dx_px:+.2f}, {self.dy_px:+.2f} px "
                    f"(confidence {self.confidence:.2f})")
        if self.status == "not estimated":
            return f"Co-registration: not estimated, the georeferenced alignment was kept. {self.note}"
        return "Co-registration: off"


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
    warnings: list[str] = field(default_factory=list)  # e.g. a shift measured in pixels


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
    warnings: list[str] = field(default_factory=list)  # what could not be judged (constant bands, little data)
