"""The batch command on a real Dask LocalCluster with worker processes: sites analysed into their
workspaces, a site whose raster is missing retried, reported, and the others unaffected."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sitewatch.plugin.batch.sites import read_sites
from sitewatch.plugin.core.errors import InputError

distributed = pytest.importorskip("distributed", reason="Dask is optional: pip install 'dask[distributed]'")


@pytest.fixture(scope="module")
def sites_file(tmp_path_factory) -> Path:
    from sitewatch.plugin.samplesite import generate_site_series
    from sitewatch.plugin.samplesite.examples import write_example_boxes

    root = tmp_path_factory.mktemp("batch")
    series = generate_site_series(root / "khmeimim", n_dates=3, size_px=512, seed=7)
    write_example_boxes(series.site, root / "examples.geojson")
    aoi = json.loads(series.site.aoi.read_text())
    captures = [str(c.raster.relative_to(root)) for c in series.captures]
    features = [
        {"type": "Feature", "geometry": aoi["features"][0]["geometry"],
         "properties": {"name": "three dates", "captures": captures}},
        {"type": "Feature", "geometry": aoi["features"][0]["geometry"],
         "properties": {"name": "two dates", "captures": captures[1:], "change": False}},
        {"type": "Feature", "geometry": aoi["features"][0]["geometry"],
         "properties": {"name": "missing raster", "captures": [captures[0], "khmeimim/gone.tif"]}},
    ] + [  # seven more sites (equipment only), ten in all
        {"type": "Feature", "geometry": aoi["features"][0]["geometry"],
         "properties": {"name": f"site {k}", "captures": captures[k % 2: k % 2 + 2], "change": False}}
        for k in range(4, 11)
    ]
    path = root / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": aoi["crs"],
                                "defaults": {"exemplars": "examples.geojson", "min_score": 0.5},
                                "features": features}))
    return path


def test_sites_file_is_read_with_paths_relative_to_it(sites_file):
    jobs = read_sites(str(sites_file))
    assert [j.name for j in jobs][:3] == ["three dates", "two dates", "missing raster"] and len(jobs) == 10
    assert all(Path(c).is_absolute() for j in jobs for c in j.captures)
    assert jobs[0].exemplars_path == str(sites_file.parent / "examples.geojson") and jobs[0].min_score == 0.5
    assert jobs[1].change is False and jobs[0].workspace == str(sites_file.parent / "sites" / "three_dates")


def test_bad_sites_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "sites.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": {"name": "x", "captures": ["a.tif", "b.tif"]}}]}))
    with pytest.raises(InputError, match="no polygon"):
        read_sites(str(bad))


def test_ten_sites_on_a_local_cluster_with_processes(sites_file, tmp_path):
    from sitewatch.plugin.batch.runner import run_batch
    from sitewatch.plugin.store.workspace import SiteWorkspace

    jobs = read_sites(str(sites_file), str(tmp_path / "out"))
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        report = run_batch(jobs, scheduler=cluster.scheduler_address, retries=1, stream=None)
    assert report.cores == 2
    assert sorted(o.name for o in report.outcomes) == sorted(["three dates", "two dates"] +
                                                             [f"site {k}" for k in range(4, 11)])
    assert [f.name for f in report.failures] == ["missing raster"] and "gone.tif" in report.failures[0].error
    log = (tmp_path / "out" / "missing_raster" / "batch.log").read_text()
    assert log.count("Site missing raster failed") == 2  # tried, then retried once
    by_name = {o.name: o for o in report.outcomes}
    assert by_name["three dates"].pairs == 2 and by_name["two dates"].pairs == 1 and report.pairs == 10
    for outcome in report.outcomes:
        workspace = SiteWorkspace(str(Path(outcome.workspace) / "workspace.gpkg"))
        assert workspace.site()[0] == outcome.name
        records = workspace.analyses()
        assert len(records) == outcome.pairs and all(Path(r.gpkg_path).exists() for r in records)
        assert Path(outcome.timeline_html).exists() and "Site " in (Path(outcome.workspace) / "batch.log").read_text()
    assert report.pairs_per_minute_per_core() > 0


def test_command_line_on_local_threads(sites_file, tmp_path, capsys):
    from sitewatch.plugin.batch.__main__ import main

    one = json.loads(sites_file.read_text())
    one["features"] = [one["features"][3]]
    path = sites_file.with_name("one.geojson")
    path.write_text(json.dumps(one))
    assert main([str(path), "--out", str(tmp_path / "out"), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "ok      site 4: 1 pair(s)" in out and "site-pairs per minute per core" in out
