"""Synthetic two-date scene of Khmeimim air base with exact ground truth (numpy + GDAL only).

    site = generate_sample_site(out_dir, size_px=4096, seed=7, progress=None)
    site = load_sample_site(out_dir)          # re-open from out_dir/site.json

Files: before.tif, after.tif (uint16 R, G, B, NIR; 0.5 m; EPSG:32636; tiled, DEFLATE; TIFFTAG_DATETIME,
ACQUISITION_DATE), before.IMD / after.IMD (Maxar-style sidecars that GDAL's IMAGERY reader parses),
truth_before.geojson / truth_after.geojson (one oriented box per object: id stable across dates,
class, detector_class, length_m, width_m, heading_deg clockwise from north, event), change_mask.tif
(1 = real change: footprints and shadows of departed, arrived and moved objects, the emptied
air-defence site's launchers, the new building), cloud_mask.tif (cloud and its shadow on the after
date), aoi.geojson and site.json (manifest: dates, sun, radiometry, misregistration, counts).

Conventions: after.tif keeps before.tif's geotransform but its content is shifted by
(dx, dy) = site.shift_px pixels (a ground point at before pixel (c, r) appears at after pixel
(c + dx, r + dy)). truth_after boxes are where objects appear in after.tif (shift included;
properties ground_cx/ground_cy give the before-grid position). change_mask is on the before
(ground) grid, cloud_mask on the after.tif pixel grid. Rendering streams 512 px tiles, so memory
stays bounded at any size; the same seed and size give identical pixels.

    series = generate_site_series(out_dir, n_dates=5, size_px=1024, seed=7)   # N dates, truth per date

Dates 1 and 2 of a series are the two-date site unchanged; see series.py for the later dates.

    refs = generate_reference_captures(out_dir, size_px=4096, seed=7)   # reference.py
    model = train_site_model(out_dir, size_px=4096, seed=7)             # training.py

Three earlier captures of the same airfield with their own population, every object reviewed:
the examples the learned engine is trained on for the demo (the site's own detector).
"""
from __future__ import annotations

from .series import SiteSeries, generate_site_series, load_site_series
from .site import SampleSite, generate_sample_site, load_sample_site

__all__ = ["SampleSite", "SiteSeries", "generate_sample_site", "generate_site_series", "load_sample_site",
           "load_site_series"]
