"""Test set-up: the working tree imports as `sitewatch`; shared real data is optional."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import pkgpath  # noqa: E402,F401  (links the tree as the `sitewatch` package)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real evaluation data beside the repository; skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (only present on development machines)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    """A folder kept after the run for artefacts a person may look at (screenshots)."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


@pytest.fixture(scope="session")
def review_sample_root(tmp_path_factory):
    """A folder with the sample site and one analysis of it (tools/review_sample.py); copy before writing."""
    from review_sample import sample_analysis

    root = tmp_path_factory.mktemp("review-sample")
    sample_analysis(root)
    return root
