"""Capture dates and sensors from every supported source, each with a tiny fixture file."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from osgeo import gdal, osr

from sitewatch.plugin.core.captures import (
    capture_date,
    capture_info,
    capture_sensor,
    date_from_name,
    parse_date_text,
)


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _tif(path: Path, metadata: dict | None = None, domain: str = "", epsg: int = 32636) -> Path:
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 20, 10, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 0.5, 0.0, 3800000.0, 0.0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    if metadata:
        ds.SetMetadata(metadata, domain)
    ds.GetRasterBand(1).Fill(7)
    ds = None
    return path


def test_tifftag_datetime(tmp_path):
    path = _tif(tmp_path / "scene.tif", {"TIFFTAG_DATETIME": "2024:12:13 08:33:41"})
    found = capture_date(str(path))
    assert found is not None
    assert found.date == _utc(2024, 12, 13, 8, 33, 41)
    assert found.source == "TIFFTAG_DATETIME"


@pytest.mark.parametrize(
    "item, text, expected",
    [
        ("ACQUISITION_DATE", "2023-05-02T10:11:12Z", _utc(2023, 5, 2, 10, 11, 12)),
        ("IMAGING_DATE", "2022-01-31", _utc(2022, 1, 31)),
        ("DATE_ACQUIRED", "2021-07-04", _utc(2021, 7, 4)),
    ],
)
def test_gdal_metadata_items(tmp_path, item, text, expected):
    path = _tif(tmp_path / "scene.tif", {item: text})
    found = capture_date(str(path))
    assert found is not None and found.date == expected
    assert item in found.source


def test_metadata_item_wins_over_tifftag(tmp_path):
    path = _tif(tmp_path / "scene.tif", {"TIFFTAG_DATETIME": "2025:01:01 00:00:00", "ACQUISITION_DATE": "2024-06-01"})
    assert capture_date(str(path)).date == _utc(2024, 6, 1)


def test_maxar_imd_sidecar(tmp_path):
    path = _tif(tmp_path / "19MAY14083412-P2AS-012345.tif")
    (tmp_path / "19MAY14083412-P2AS-012345.IMD").write_text(
        'version = "28.3";\n'
        "generationTime = 2019-05-20T10:00:00.000000Z;\n"
        "BEGIN_GROUP = IMAGE_1\n"
        '\tsatId = "WV03";\n'
        "\tfirstLineTime = 2019-05-14T08:34:12.123456Z;\n"
        "END_GROUP = IMAGE_1\n"
        "END;\n"
    )
    info = capture_info(str(path))
    assert info.date.date == _utc(2019, 5, 14, 8, 34, 12, 123456)
    assert "IMD" in info.date.source
    assert info.sensor == "WorldView-3"
    assert info.gsd_m == pytest.approx(0.5)
    assert info.footprint_wkt.startswith("POLYGON((500000.0 3800000.0")


def test_maxar_imd_earliest_acq_time(tmp_path):
    path = _tif(tmp_path / "mosaic.tif")
    (tmp_path / "mosaic.imd").write_text(
        'BEGIN_GROUP = MAP_PROJECTED_PRODUCT\n\tearliestAcqTime = 2020-02-03T04:05:06.000000Z;\nEND_GROUP\n'
        'BEGIN_GROUP = IMAGE_1\n\tsatId = "GE01";\nEND_GROUP\n'
    )
    found = capture_date(str(path))
    assert found.date == _utc(2020, 2, 3, 4, 5, 6)
    assert "earliestAcqTime" in found.source
    assert capture_sensor(str(path)) == "GeoEye-1"


def test_maxar_xml_sidecar(tmp_path):
    path = _tif(tmp_path / "scene.tif")
    (tmp_path / "scene.XML").write_text(
        "<?xml version='1.0'?><isd><IMD><IMAGE><SATID>WV02</SATID>"
        "<FIRSTLINETIME>2018-11-22T09:10:11.500000Z</FIRSTLINETIME></IMAGE></IMD></isd>"
    )
    info = capture_info(str(path))
    assert info.date.date == _utc(2018, 11, 22, 9, 10, 11, 500000)
    assert info.date.source.startswith("Maxar XML")
    assert info.sensor == "WorldView-2"


def test_planet_metadata_json(tmp_path):
    path = _tif(tmp_path / "20230405_101112_22_2447_3B_AnalyticMS.tif")
    (tmp_path / "20230405_101112_22_2447_3B_AnalyticMS_metadata.json").write_text(
        json.dumps(
            {
                "id": "20230405_101112_22_2447",
                "properties": {
                    "acquired": "2023-04-05T10:11:12.345Z",
                    "provider": "planetscope",
                    "satellite_id": "2447",
                },
            }
        )
    )
    info = capture_info(str(path))
    assert info.date.date == _utc(2023, 4, 5, 10, 11, 12, 345000)
    assert info.date.source.startswith("Planet")
    assert info.sensor == "PlanetScope 2447"


def test_planet_metadata_xml(tmp_path):
    path = _tif(tmp_path / "scene_3B_AnalyticMS.tif")
    (tmp_path / "scene_3B_AnalyticMS_metadata.xml").write_text(
        '<?xml version="1.0"?>'
        '<ps:EarthObservation xmlns:ps="http://schemas.planet.com/ps/v1/planet_product_metadata_geocorrected_level"'
        ' xmlns:eop="http://earth.esa.int/eop" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:using><eop:EarthObservationEquipment><eop:platform><eop:Platform>"
        "<eop:shortName>PlanetScope</eop:shortName><eop:serialIdentifier>0f4c</eop:serialIdentifier>"
        "</eop:Platform></eop:platform><eop:acquisitionParameters><ps:Acquisition>"
        "<ps:acquisitionDateTime>2017-08-09T07:06:05+00:00</ps:acquisitionDateTime>"
        "</ps:Acquisition></eop:acquisitionParameters></eop:EarthObservationEquipment></gml:using>"
        "</ps:EarthObservation>"
    )
    info = capture_info(str(path))
    assert info.date.date == _utc(2017, 8, 9, 7, 6, 5)
    assert info.date.source == "Planet metadata XML"
    assert info.sensor == "PlanetScope 0f4c"


def test_airbus_dimap(tmp_path):
    path = _tif(tmp_path / "IMG_PHR1A_PMS_202412130833415_ORT_R1C1.tif")
    (tmp_path / "DIM_PHR1A_PMS_202412130833415_ORT_7001.XML").write_text(
        '<?xml version="1.0"?><Dimap_Document><Metadata_Identification>'
        "<METADATA_FORMAT version=\"2.0\">DIMAP</METADATA_FORMAT></Metadata_Identification>"
        "<Dataset_Sources><Source_Identification><Strip_Source>"
        "<MISSION>PLEIADES</MISSION><MISSION_INDEX>1A</MISSION_INDEX>"
        "<IMAGING_DATE>2024-12-13</IMAGING_DATE><IMAGING_TIME>08:33:41.5Z</IMAGING_TIME>"
        "</Strip_Source></Source_Identification></Dataset_Sources></Dimap_Document>"
    )
    info = capture_info(str(path))
    assert info.date.date == _utc(2024, 12, 13, 8, 33, 41, 500000)
    assert "DIMAP" in info.date.source
    assert info.sensor == "Pleiades 1A"


def test_sentinel2_product_name(tmp_path):
    name = "S2A_MSIL2A_20241213T083341_N0511_R021_T36SYC_20241213T120000_TCI.tif"
    path = _tif(tmp_path / name)
    info = capture_info(str(path))
    assert info.date.date == _utc(2024, 12, 13, 8, 33, 41)
    assert info.date.source == "Sentinel-2 product name"
    assert info.sensor == "Sentinel-2A MSI L2A"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("khmeimim_2024-12-13.tif", _utc(2024, 12, 13)),
        ("khmeimim_20241213_pan.tif", _utc(2024, 12, 13)),
        ("site 2023_02_28 after", _utc(2023, 2, 28)),
        ("scene_20241213T083341.vrt", _utc(2024, 12, 13, 8, 33, 41)),
    ],
)
def test_date_in_name(name, expected):
    found = date_from_name(name)
    assert found is not None and found.date == expected and found.source == "name"


@pytest.mark.parametrize("name", ["scene_20241341.tif", "ortho_123456789.tif", "before.tif", "v2.0.1"])
def test_name_without_valid_date(name):
    assert date_from_name(name) is None


def test_file_name_date_used_when_metadata_is_silent(tmp_path):
    path = _tif(tmp_path / "base_2022-03-04.tif")
    found = capture_date(str(path))
    assert found.date == _utc(2022, 3, 4) and found.source == "name"


def test_no_date_anywhere(tmp_path):
    path = _tif(tmp_path / "before.tif")
    assert capture_date(str(path)) is None
    info = capture_info(str(path))
    assert info.date is None and info.width == 20 and info.height == 10


def test_vrt_over_dated_tif_uses_its_own_name(tmp_path):
    src = _tif(tmp_path / "src.tif", {"TIFFTAG_DATETIME": "2024:12:13 08:33:41"})
    vrt = tmp_path / "mosaic_2024-12-14.vrt"
    gdal.BuildVRT(str(vrt), [str(src)]).FlushCache()
    found = capture_date(str(vrt))
    assert found is not None and found.date.date() == datetime(2024, 12, 14).date()


def test_gsd_of_geographic_raster(tmp_path):
    path = tmp_path / "geo.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 10, 10, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((35.0, 1e-5, 0.0, 35.5, 0.0, -1e-5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    ds.SetProjection(srs.ExportToWkt())
    ds = None
    info = capture_info(str(path))
    assert 0.9 < info.gsd_m < 1.2  # ~1.1 m north-south, ~0.9 m east-west at 35.5 N


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024:12:13 08:33:41", _utc(2024, 12, 13, 8, 33, 41)),
        ("2024-12-13T08:33:41.123456789Z", _utc(2024, 12, 13, 8, 33, 41, 123456)),
        ("2024-12-13T10:33:41+02:00", _utc(2024, 12, 13, 8, 33, 41)),
        ("20241213T083341", _utc(2024, 12, 13, 8, 33, 41)),
        ("2024/12/13", _utc(2024, 12, 13)),
        ('"2024-12-13";', _utc(2024, 12, 13)),
    ],
)
def test_parse_date_text(text, expected):
    assert parse_date_text(text) == expected


@pytest.mark.parametrize("text", ["", "unknown", "2024-13-45", "v12"])
def test_parse_date_text_rejects(text):
    assert parse_date_text(text) is None


def test_sun_angles_from_maxar_xml_and_dimap(tmp_path):
    from sitewatch.plugin.core.captures import capture_sun

    (tmp_path / "m").mkdir()
    path = _tif(tmp_path / "m" / "scene.tif")
    (tmp_path / "m" / "scene.XML").write_text(
        "<?xml version='1.0'?><isd><IMD><IMAGE><SATID>WV02</SATID><MEANSUNAZ>158.2</MEANSUNAZ>"
        "<MEANSUNEL>35.4</MEANSUNEL></IMAGE></IMD></isd>"
    )
    assert capture_sun(str(path)) == (158.2, 35.4)
    (tmp_path / "d").mkdir()
    path = _tif(tmp_path / "d" / "IMG_PHR1A_PMS_202412130833415_ORT_R1C1.tif")
    (tmp_path / "d" / "DIM_PHR1A_PMS_202412130833415_ORT_7001.XML").write_text(
        '<?xml version="1.0"?><Dimap_Document><Metadata_Identification>'
        "<METADATA_FORMAT version=\"2.0\">DIMAP</METADATA_FORMAT></Metadata_Identification>"
        "<Geometric_Data><Use_Area><Located_Geometric_Values><Solar_Incidences>"
        "<SUN_AZIMUTH unit=\"deg\">163.9</SUN_AZIMUTH><SUN_ELEVATION unit=\"deg\">31.7</SUN_ELEVATION>"
        "</Solar_Incidences></Located_Geometric_Values></Use_Area></Geometric_Data></Dimap_Document>"
    )
    assert capture_sun(str(path)) == (163.9, 31.7)
