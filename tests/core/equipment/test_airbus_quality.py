"""A quick quality check on real imagery (airbus-aircraft, Pleiades 0.5 m): the exemplar
engine with three aircraft drawn on one date of an airfield finds the aircraft on another
date of the same airfield (the plugin's use). Two fixed pairs, each a site's first two images
(sites.json `sites`, second and third site), about 30 s; skipped when ../shared/data is absent.
Measured when written: pooled F1 0.72 (P 0.72, R 0.72) at IoU 0.5; the target leaves a margin.
"""
from __future__ import annotations

import pytest

import evalkit as ek

TARGET_F1 = 0.65
SITES = (1, 2)  # positions in sites.json `sites`


def test_exemplars_from_one_date_find_the_aircraft_of_another(shared_data, tmp_path):
    from eval_exemplar import evaluate_pair

    data = ek.airbus_dir(shared_data / "airbus-aircraft")
    if data is None:
        pytest.skip("airbus-aircraft not in the shared data")
    groups = ek.site_groups(data, ek.load_airbus_annotations(data))
    tp = fp = fn = 0
    for k in SITES:
        first, second = groups[k][:2]
        r = evaluate_pair(data, first, second, tmp_path / str(k))
        assert r["found"] > 0, f"nothing found on {second}"
        tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
    p, r, f1 = ek.prf(tp, fp, fn)
    assert f1 >= TARGET_F1, f"F1 {f1:.2f} (P {p:.2f}, R {r:.2f}; TP {tp} FP {fp} FN {fn}) under {TARGET_F1}"
