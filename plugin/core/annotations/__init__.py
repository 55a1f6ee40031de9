"""Training data out and in: reviewed objects as COCO, YOLO, YOLO oriented, DOTA or GeoJSON
with image chips, and annotations made elsewhere read back as objects. QGIS-free."""
