"""The sample site's cloud as polygons: what an analyst draws to leave a cloud out of a run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Union

from osgeo import gdal, ogr, osr

from .site import CRS_EPSG, SampleSite

CLOUDS_FILE = "clouds.geojson"
CLOUD_MARGIN_M = 2.0  # the mask's soft edge: grown by this much on the ground


def write_cloud_polygons(site: SampleSite, out_path: Union[str, Path]) -> Optional[Path]:
    """The after capture's cloud and cloud shadow (its cloud mask), grown by CLOUD_MARGIN_M
    and simplified to about a pixel, as a GeoJSON layer in the site's CRS; None (and no file)
    when the site has no cloud."""
    ds = gdal.Open(str(site.cloud_mask))
    band = ds.GetRasterBand(1)
    srs = osr.SpatialReference()
    srs.ImportFromWkt(ds.GetProjection())
    memory = ogr.GetDriverByName("Memory").CreateDataSource("clouds")
    layer = memory.CreateLayer("clouds", srs=srs, geom_type=ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    gdal.Polygonize(band, band, layer, 0)
    parts = ogr.Geometry(ogr.wkbMultiPolygon)
    for feature in layer:
        parts.AddGeometry(feature.GetGeometryRef())
    if parts.IsEmpty():
        return None
    pixel_m = abs(ds.GetGeoTransform()[1])
    cloud = parts.UnionCascaded().Buffer(CLOUD_MARGIN_M).Simplify(pixel_m)
    collection = {"type": "FeatureCollection", "name": "clouds",
                  "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{CRS_EPSG}"}},
                  "features": [{"type": "Feature", "geometry": json.loads(cloud.ExportToJson()),
                                "properties": {"name": "cloud and its shadow (after)"}}]}
    out = Path(out_path)
    out.write_text(json.dumps(collection), encoding="utf-8")
    return out
