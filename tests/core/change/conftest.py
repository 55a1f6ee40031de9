"""Fixtures: small synthetic captures written to tmp_path."""
from __future__ import annotations

import numpy as np
import pytest

from change_helpers import shifted, textured, write_raster


@pytest.fixture
def change_pair(tmp_path):
    """Before/after 256 px at 0.5 m: after has a 40 x 24 px bright building, a gain/offset
    change and a (1.5, -0.75) px shift."""
    size = 256
    before = textured(size, 1)
    after = before.copy()
    after[:, 100:124, 60:100] = 240.0  # the new building, 20 m x 12 m
    after = shifted(after, 1.5, -0.75) * 1.3 + 15
    rng = np.random.default_rng(2)  # sensor noise on both dates
    before = before + rng.normal(0, 0.5, before.shape)
    after = after + rng.normal(0, 0.5, after.shape)
    truth = np.zeros((size, size), bool)
    truth[100:124, 60:100] = True
    return (write_raster(tmp_path / "before.tif", before), write_raster(tmp_path / "after.tif", after), truth)
