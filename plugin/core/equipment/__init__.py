"""Equipment core: catalogue, detections, engines, cross-date matching (QGIS-free)."""
