"""The review tests work on copies of one analysis of the sample site (review_sample_root)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def analysed_site(review_sample_root):
    """(site, analysis folder) of the shared sample analysis (read-only: copy it)."""
    from review_sample import ANALYSIS_ID

    analysis = Path(review_sample_root) / "analyses" / ANALYSIS_ID
    return _Site(Path(review_sample_root) / "site"), analysis


class _Site:
    """The sample site's captures (what the review tests use of it)."""

    def __init__(self, root: Path):
        self.root = root
        self.before = root / "before.tif"
        self.after = root / "after.tif"


@pytest.fixture
def analysis_copy(analysed_site, tmp_path):
    """A private copy of the shared analysis folder (tests may write into it)."""
    _site, out = analysed_site
    copy = tmp_path / "analyses" / out.name
    shutil.copytree(out, copy)
    return copy
