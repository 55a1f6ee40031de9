"""QGIS-free analysis core: numpy and GDAL only."""
