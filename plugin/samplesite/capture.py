"""Capture metadata: dates, sun position at acquisition, vendor-style sidecars."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass
class CaptureInfo:
    name: str  # "before" | "after"
    when: datetime  # UTC
    sat_id: str
    cat_id: str
    cloud_cover: float  # fraction of the scene
    sun_azimuth: float  # degrees clockwise from north
    sun_elevation: float  # degrees above the horizon
    off_nadir: float
    gains: tuple  # per band, DN per unit reflectance multiplier
    offsets: tuple  # per band, DN
    haze: float  # 0 = clear

    @property
    def tiff_datetime(self) -> str:
        return self.when.strftime("%Y:%m:%d %H:%M:%S")

    @property
    def day(self) -> str:
        """The capture's date as truth files and metadata write it."""
        return self.when.strftime("%Y-%m-%d")

    @property
    def iso(self) -> str:
        return self.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sun_position(when: datetime, lat: float, lon: float) -> tuple[float, float]:
    """Solar azimuth (clockwise from north) and elevation in degrees (NOAA approximation)."""
    when = when.astimezone(timezone.utc)
    day = when.timetuple().tm_yday
    hour = when.hour + when.minute / 60 + when.second / 3600
    g = 2 * math.pi / 365 * (day - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                       - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    tst = hour * 60 + eqtime + 4 * lon
    ha = math.radians(tst / 4 - 180)
    phi = math.radians(lat)
    cos_zen = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zen = math.acos(max(-1.0, min(1.0, cos_zen)))
    az = math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi)))
    return (az + 180.0) % 360.0, 90.0 - math.degrees(zen)


def write_imd(path: Path, info: CaptureInfo, product: str, bounds_ll: tuple, size_px: int) -> None:
    """A Maxar-style .IMD sidecar (the fields readers usually look for)."""
    lon0, lat0, lon1, lat1 = bounds_ll
    text = f"""version = "28.4";
generationTime = {info.when.strftime('%Y-%m-%dT%H:%M:%S.000000Z')};
productOrderId = "{product}";
productCatalogId = "{info.cat_id}";
imageDescriptor = "ORStandard2A";
bandId = "Multi";
panSharpenAlgorithm = "None";
numRows = {size_px};
numColumns = {size_px};
productLevel = "LV2A";
productType = "Basic";
numberOfLooks = 1;
radiometricLevel = "Corrected";
bitsPerPixel = 16;
compressionType = "None";
outputFormat = "GeoTIFF";
BEGIN_GROUP = IMAGE_1
\tsatId = "{info.sat_id}";
\tmode = "FullSwath";
\tscanDirection = "Forward";
\tCatId = "{info.cat_id}";
\tfirstLineTime = {info.iso};
\tavgLineRate = 24000.00;
\texposureDuration = 0.00004167;
\tminCollectedRowGSD = 0.500;
\tmeanCollectedGSD = 0.500;
\tmeanSunAz = {info.sun_azimuth:.1f};
\tmeanSunEl = {info.sun_elevation:.1f};
\tmeanOffNadirViewAngle = {info.off_nadir:.1f};
\tcloudCover = {info.cloud_cover:.3f};
\tPNIIRS = 4.5;
END_GROUP = IMAGE_1
BEGIN_GROUP = MAP_PROJECTED_PRODUCT
\tearliestAcqTime = {info.iso};
\tlatestAcqTime = {info.iso};
\tdatumName = "WE";
\tmapProjName = "UTM";
\tmapZone = 36;
\tmapHemi = "N";
\tproductGSD = 0.50;
\tULLon = {lon0:.8f};
\tULLat = {lat1:.8f};
\tLRLon = {lon1:.8f};
\tLRLat = {lat0:.8f};
END_GROUP = MAP_PROJECTED_PRODUCT
END;
"""
    path.write_text(text, encoding="ascii")
