"""When and by what sensor a capture was taken, read from the raster and its vendor sidecars.

Sources, most specific first: vendor metadata files beside the raster (Maxar .IMD / .XML,
Planet metadata JSON / XML, Airbus DIMAP XML), GDAL's IMAGERY metadata domain, GDAL metadata
items (ACQUISITION_DATE, IMAGING_DATE, ...), TIFFTAG_DATETIME, then the file name
(Sentinel-2 product names, 2024-12-13, 20241213).
"""
from __future__ import annotations

import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Optional

from osgeo import gdal

from .gdal_scope import gdal_exceptions

LOG = logging.getLogger(__name__)

# Metadata item names (upper case) that hold an acquisition date, best first.
DATE_ITEMS = (
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATETIME",
    "ACQUISITION_DATE",
    "ACQUISITION_START_TIME",
    "IMAGING_DATE",
    "DATE_ACQUIRED",
    "DATATAKE_1_DATATAKE_SENSING_START",
    "PRODUCT_START_TIME",
    "SENSING_TIME",
    "ACQUIRED",
    "CAPTURE_DATE",
    "DATE",
)
SENSOR_ITEMS = ("SATELLITEID", "SATELLITE", "SPACECRAFT_ID", "SPACECRAFT_NAME", "PLATFORM", "MISSION", "SENSOR")

# Maxar / DigitalGlobe satellite ids -> names users recognise.
MAXAR_SATELLITES = {
    "WV01": "WorldView-1",
    "WV02": "WorldView-2",
    "WV03": "WorldView-3",
    "WV04": "WorldView-4",
    "GE01": "GeoEye-1",
    "QB02": "QuickBird-2",
    "IK02": "IKONOS",
    "LG01": "WorldView Legion 1",
    "LG02": "WorldView Legion 2",
}

_S2_NAME = re.compile(r"(S2[ABCD])_MSI(L1C|L2A)_(\d{8}T\d{6})")
_DATE_IN_NAME = (
    re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.](0[1-9]|1[0-2])[-_.](0[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:T?(\d{2})(\d{2})(\d{2}))?(?!\d)"),
)


@dataclass(frozen=True)
class CaptureDate:
    """An acquisition time and where it was read (shown to the user as a hint of trust)."""

    date: datetime
    source: str

    @property
    def iso_date(self) -> str:
        return self.date.strftime("%Y-%m-%d")


@dataclass
class CaptureInfo:
    """What the capture pickers show for one raster."""

    path: str
    date: Optional[CaptureDate]
    sensor: str = ""
    gsd_m: Optional[float] = None
    footprint_wkt: str = ""  # polygon of the raster's extent, in its CRS
    crs_wkt: str = ""
    width: int = 0
    height: int = 0


@dataclass
class _Found:
    date: Optional[CaptureDate] = None
    sensor: str = ""
    sun: Optional[tuple[float, float]] = None  # azimuth (clockwise from north), elevation; degrees


def _sun(azimuth: str, elevation: str) -> Optional[tuple[float, float]]:
    """(azimuth, elevation) in degrees from metadata text; None when absent or implausible."""
    try:
        az, el = float(str(azimuth).strip('"; ')), float(str(elevation).strip('"; '))
    except ValueError:
        return None
    return (az % 360.0, el) if 0.0 < el <= 90.0 else None


# ---------------------------------------------------------------- parsing dates
def parse_date_text(text: str) -> Optional[datetime]:
    """A datetime from the date spellings metadata uses; None when it holds no date.

    Accepts ISO 8601 (with or without time, fractional seconds, Z or offset), TIFF's
    "YYYY:MM:DD HH:MM:SS", compact "YYYYMMDD[THHMMSS]" and "YYYY/MM/DD". Naive times are UTC.
    """
    if text is None:
        return None
    s = str(text).strip().strip('"').strip(";").strip()
    if not s:
        return None
    m = re.match(
        r"^(\d{4})[-:/](\d{1,2})[-:/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?",
        s,
    )
    if m is None:
        m2 = re.match(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?", s)
        if m2 is None:
            return None
        parts = [m2.group(i) for i in range(1, 7)] + [None, None]
    else:
        parts = [m.group(i) for i in range(1, 9)]
    year, month, day, hour, minute, second, fraction, zone = parts
    try:
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 60 + int(digits[2:4]))
        value = value - timedelta(minutes=offset)
    return value.replace(tzinfo=timezone.utc)


def date_from_name(name: str) -> Optional[CaptureDate]:
    """A date in a file or layer name: Sentinel-2 product names, 2024-12-13, 20241213."""
    base = Path(str(name)).name
    m = _S2_NAME.search(base)
    if m:
        value = parse_date_text(m.group(3))
        if value is not None:
            return CaptureDate(value, "Sentinel-2 product name")
    for pattern in _DATE_IN_NAME:
        for m in pattern.finditer(base):
            groups = m.groups()
            try:
                value = datetime(int(groups[0]), int(groups[1]), int(groups[2]), tzinfo=timezone.utc)
                if len(groups) > 3 and groups[3]:
                    value = value.replace(hour=int(groups[3]), minute=int(groups[4]), second=int(groups[5]))
            except ValueError:
                continue
            return CaptureDate(value, "name")
    return None


def sensor_from_name(name: str) -> str:
    m = _S2_NAME.search(Path(str(name)).name)
    if m:
        return f"Sentinel-2{m.group(1)[-1]} MSI {m.group(2)}"
    return ""


# ---------------------------------------------------------------- vendor sidecars
def _sidecars(path: Path, suffixes: Iterable[str]) -> list[Path]:
    """Existing files next to `path` with the same stem and one of the suffixes (any case)."""
    found = []
    try:
        siblings = {p.name.lower(): p for p in path.parent.iterdir() if p.is_file()}
    except OSError:
        return found
    for suffix in suffixes:
        p = siblings.get((path.stem + suffix).lower())
        if p is not None and p != path:
            found.append(p)
    return found


def read_maxar_imd(imd_path: str) -> _Found:
    """Maxar/DigitalGlobe .IMD: firstLineTime (per image) or earliestAcqTime, satId."""
    text = Path(imd_path).read_text(errors="replace")
    values: dict[str, str] = {}
    for m in re.finditer(r"^\s*(\w+)\s*=\s*(.*?);?\s*$", text, flags=re.MULTILINE):
        values.setdefault(m.group(1).lower(), m.group(2).strip().strip(";").strip('"'))
    found = _Found()
    for key in ("firstlinetime", "earliestacqtime", "latestacqtime"):
        value = parse_date_text(values.get(key, ""))
        if value is not None:
            found.date = CaptureDate(value, f"Maxar IMD ({key_name(key)})")
            break
    sat = values.get("satid", "")
    found.sensor = MAXAR_SATELLITES.get(sat.upper(), sat)
    found.sun = _sun(values.get("meansunaz", ""), values.get("meansunel", ""))
    return found


def key_name(key: str) -> str:
    return {"firstlinetime": "firstLineTime", "earliestacqtime": "earliestAcqTime", "latestacqtime": "latestAcqTime"}.get(
        key, key
    )


def _xml_values(xml_path: str) -> dict[str, list[str]]:
    """Text of every element by lower-case local tag name (namespaces dropped)."""
    values: dict[str, list[str]] = {}
    root = ET.parse(xml_path).getroot()
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower() if isinstance(element.tag, str) else ""
        if element.text and element.text.strip():
            values.setdefault(tag, []).append(element.text.strip())
    return values


def read_maxar_xml(xml_path: str) -> _Found:
    """Maxar/DigitalGlobe product .XML: IMD/IMAGE/FIRSTLINETIME or EARLIESTACQTIME, SATID."""
    values = _xml_values(xml_path)
    found = _Found()
    for key in ("firstlinetime", "earliestacqtime"):
        for text in values.get(key, []):
            value = parse_date_text(text)
            if value is not None:
                found.date = CaptureDate(value, f"Maxar XML ({key.upper()})")
                break
        if found.date:
            break
    sat = (values.get("satid") or [""])[0]
    found.sensor = MAXAR_SATELLITES.get(sat.upper(), sat)
    found.sun = _sun((values.get("meansunaz") or [""])[0], (values.get("meansunel") or [""])[0])
    return found


def read_dimap(xml_path: str) -> _Found:
    """Airbus DIMAP (Pleiades, Pleiades Neo, SPOT): IMAGING_DATE + IMAGING_TIME, MISSION."""
    values = _xml_values(xml_path)
    found = _Found()
    date_text = (values.get("imaging_date") or [""])[0]
    time_text = (values.get("imaging_time") or [""])[0]
    if date_text:
        value = parse_date_text(f"{date_text}T{time_text}" if time_text else date_text)
        if value is not None:
            found.date = CaptureDate(value, "Airbus DIMAP (IMAGING_DATE)")
    mission = (values.get("mission") or [""])[0]
    index = (values.get("mission_index") or [""])[0]
    if mission:
        found.sensor = f"{mission.title()} {index}".strip()
    found.sun = _sun((values.get("sun_azimuth") or [""])[0], (values.get("sun_elevation") or [""])[0])
    return found


def read_planet_json(json_path: str) -> _Found:
    """Planet metadata JSON: properties.acquired, satellite_id / provider."""
    data = json.loads(Path(json_path).read_text(errors="replace"))
    props = data.get("properties", data) if isinstance(data, dict) else {}
    found = _Found()
    value = parse_date_text(props.get("acquired", ""))
    if value is not None:
        found.date = CaptureDate(value, "Planet metadata (acquired)")
    provider = str(props.get("provider", "") or "")
    sat = str(props.get("satellite_id", "") or "")
    instrument = str(props.get("instrument", "") or "")
    label = {"planetscope": "PlanetScope", "skysat": "SkySat", "rapideye": "RapidEye"}.get(provider.lower(), provider)
    found.sensor = " ".join(v for v in (label or instrument, sat) if v)
    return found


def read_planet_xml(xml_path: str) -> _Found:
    """Planet metadata XML (EOP profile): acquisitionDateTime, platform shortName / serialIdentifier."""
    values = _xml_values(xml_path)
    found = _Found()
    for key in ("acquisitiondatetime", "acquisitiondate", "acquired"):
        for text in values.get(key, []):
            value = parse_date_text(text)
            if value is not None:
                found.date = CaptureDate(value, "Planet metadata XML")
                break
        if found.date:
            break
    short = (values.get("shortname") or [""])[0]
    serial = (values.get("serialidentifier") or [""])[0]
    found.sensor = " ".join(v for v in (short, serial) if v)
    return found


def _is_dimap(xml_path: Path) -> bool:
    try:
        head = xml_path.read_text(errors="replace")[:4000]
    except OSError:
        return False
    return "dimap" in head.lower()


def _is_planet_xml(xml_path: Path) -> bool:
    try:
        head = xml_path.read_text(errors="replace")[:4000]
    except OSError:
        return False
    return "planet.com" in head or "acquisitionDateTime" in head


def _vendor_sidecars(path: Path) -> list[tuple[Path, Callable[[str], _Found]]]:
    """Sidecar files with a reader for each, most specific first."""
    readers: list[tuple[Path, Callable[[str], _Found]]] = []
    for p in _sidecars(path, (".imd",)):
        readers.append((p, read_maxar_imd))
    for p in _sidecars(path, ("_metadata.json", ".json")):
        readers.append((p, read_planet_json))
    for p in _sidecars(path, ("_metadata.xml",)):
        readers.append((p, read_planet_xml))
    for p in _sidecars(path, (".xml",)):
        if p.name.lower().endswith(".aux.xml"):
            continue
        if _is_dimap(p):
            readers.append((p, read_dimap))
        elif _is_planet_xml(p):
            readers.append((p, read_planet_xml))
        else:
            readers.append((p, read_maxar_xml))
    # Airbus deliveries name the image IMG_* and its metadata DIM_* in the same folder.
    try:
        dims = sorted(path.parent.glob("DIM_*.XML")) + sorted(path.parent.glob("DIM_*.xml"))
    except OSError:
        dims = []
    if path.name.upper().startswith("IMG_") or path.suffix.lower() in (".jp2", ".tif", ".tiff"):
        for p in dims:
            if p not in [r[0] for r in readers]:
                readers.append((p, read_dimap))
    return readers


# ---------------------------------------------------------------- GDAL metadata
def _gdal_metadata(path: str) -> tuple[dict[str, str], dict[str, str], Optional[gdal.Dataset]]:
    try:
        ds = gdal.Open(str(path))
    except RuntimeError:
        return {}, {}, None
    if ds is None:
        return {}, {}, None
    default = {str(k).upper(): str(v) for k, v in (ds.GetMetadata() or {}).items()}
    imagery = {str(k).upper(): str(v) for k, v in (ds.GetMetadata("IMAGERY") or {}).items()}
    return default, imagery, ds


def _from_gdal(default: dict[str, str], imagery: dict[str, str]) -> _Found:
    found = _Found()
    value = parse_date_text(imagery.get("ACQUISITIONDATETIME", ""))
    if value is not None:
        found.date = CaptureDate(value, "GDAL IMAGERY metadata")
    if found.date is None:
        for item in DATE_ITEMS:
            value = parse_date_text(default.get(item, ""))
            if value is not None:
                found.date = CaptureDate(value, f"metadata {item}")
                break
    if found.date is None:
        value = parse_date_text(default.get("TIFFTAG_DATETIME", ""))
        if value is not None:
            found.date = CaptureDate(value, "TIFFTAG_DATETIME")
    sat = imagery.get("SATELLITEID", "")
    if not sat:
        sat = next((default[k] for k in SENSOR_ITEMS if default.get(k)), "")
    found.sensor = MAXAR_SATELLITES.get(sat.upper(), sat)
    found.sun = _sun(default.get("SUN_AZIMUTH", ""), default.get("SUN_ELEVATION", ""))
    return found


def _read(path: str) -> tuple[_Found, Optional[gdal.Dataset]]:
    """Date and sensor from every source, most specific first; also the open dataset."""
    p = Path(str(path))
    found = _Found()
    if p.exists():
        for sidecar, reader in _vendor_sidecars(p):
            try:
                part = reader(str(sidecar))
            except (OSError, ValueError, ET.ParseError) as exc:
                LOG.debug("cannot read %s: %s", sidecar, exc)
                continue
            found.date = found.date or part.date
            found.sensor = found.sensor or part.sensor
            found.sun = found.sun or part.sun
            if found.date and found.sensor and found.sun:
                break
    default, imagery, ds = _gdal_metadata(str(path))
    if not (found.date and found.sensor and found.sun):
        part = _from_gdal(default, imagery)
        found.date = found.date or part.date
        found.sensor = found.sensor or part.sensor
        found.sun = found.sun or part.sun
    if found.date is None:
        found.date = date_from_name(str(path))
    if not found.sensor:
        found.sensor = sensor_from_name(str(path))
    return found, ds


@gdal_exceptions()
def capture_date(path: str) -> Optional[CaptureDate]:
    """When the raster at `path` was captured, or None when nothing says so."""
    return _read(path)[0].date


@gdal_exceptions()
def capture_sun(path: str) -> Optional[tuple[float, float]]:
    """Sun azimuth and elevation (degrees) at capture time, or None when nothing says so."""
    return _read(path)[0].sun


@gdal_exceptions()
def capture_sensor(path: str) -> str:
    """The satellite or sensor name, or "" when unknown."""
    return _read(path)[0].sensor


@gdal_exceptions()
def capture_info(path: str) -> CaptureInfo:
    """Date, sensor, ground sample distance and footprint of one raster file."""
    found, ds = _read(path)
    info = CaptureInfo(path=str(path), date=found.date, sensor=found.sensor)
    if ds is None:
        return info
    from .raster import gsd_metres, pixel_to_map

    gt = ds.GetGeoTransform(can_return_null=True)
    info.width, info.height = ds.RasterXSize, ds.RasterYSize
    info.crs_wkt = ds.GetProjection() or ""
    if gt is not None:
        info.gsd_m = gsd_metres(gt, info.crs_wkt, ds.RasterXSize, ds.RasterYSize)
        corners = [pixel_to_map(gt, px, py) for px, py in ((0, 0), (info.width, 0), (info.width, info.height), (0, info.height), (0, 0))]
        info.footprint_wkt = "POLYGON((" + ", ".join(f"{x!r} {y!r}" for x, y in corners) + "))"
    return info
