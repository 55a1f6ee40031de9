"""SiteWatch plugin package: core (QGIS-free), qgisio, layers, processing, gui."""
