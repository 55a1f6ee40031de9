"""Change detection between two captures of a site (QGIS-free: numpy + GDAL).

align -> co-register (sub-pixel phase correlation) -> normalise (IR-MAD no-change pixels)
-> change score -> mask cleaned in ground units -> change regions (GeoPackage)."""
from __future__ import annotations

from .model import (
    DEFAULT_METHOD,
    METHODS,
    BandFit,
    ChangeParameters,
    ChangeRegion,
    ChangeResult,
    CoregistrationResult,
    GridInfo,
    NormalisationFit,
    Shift,
)
from .pipeline import coregister, detect_changes

__all__ = [
    "DEFAULT_METHOD", "METHODS", "BandFit", "ChangeParameters", "ChangeRegion", "ChangeResult",
    "CoregistrationResult", "GridInfo", "NormalisationFit", "Shift", "coregister", "detect_changes",
]
