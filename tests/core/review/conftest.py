"""One real analysis of a small sample site, shared by the review tests (read-only: copy it)."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def analysed_site(tmp_path_factory):
    """(site, analysis folder) of one exemplar run on a 768 px sample site."""
    from review_sample import sample_analysis

    sample = sample_analysis(tmp_path_factory.mktemp("review-site"))
    return sample.site, sample.analysis


@pytest.fixture
def analysis_copy(analysed_site, tmp_path):
    """A private copy of the shared analysis folder (tests may write into it)."""
    _site, out = analysed_site
    copy = tmp_path / "analyses" / out.name
    shutil.copytree(out, copy)
    return copy
