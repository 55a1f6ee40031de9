"""Training a small equipment detector on CPU and exporting it as a self-describing ONNX file.

torch is imported only inside the modules that need it (`network`, `train`, `export`);
`data` and `config` are plain numpy/GDAL and import without it.
"""
