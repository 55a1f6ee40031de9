"""Many sites beyond one machine: a sites file analysed on Dask (optional), QGIS-free.

    python -m sitewatch.plugin.batch sites.geojson [--scheduler tcp://host:8786]
"""
