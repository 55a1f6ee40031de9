"""A quick real-data check of the default change method: a few LEVIR-CD pairs of the
held-out half (tools/eval_change.py: pairs sorted by file name, the 2nd, 4th, ...), pooled
pixel F1 against their ground truth, at least as good as IR-MAD and above a floor. The full
figures, both halves and every method: `make eval ARGS=change`."""
from __future__ import annotations

from pathlib import Path

import pytest
from osgeo import gdal

LEVIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "levir-cd-samples"
PAIRS = ("test_121_0768_0256.png", "test_2_0000_0512.png", "test_77_0512_0256.png", "train_36_0512_0512.png")
FLOOR = 0.40  # the default method's pooled F1 on these pairs: 0.50 when this test was written (IR-MAD 0.33)

pytestmark = pytest.mark.skipif(not (LEVIR / "label").is_dir(), reason=f"real data not found: {LEVIR}")


def _pooled_f1(method: str, out: Path) -> float:
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    tp = fp = fn = 0
    for name in PAIRS:
        truth = gdal.Open(str(LEVIR / "label" / name)).ReadAsArray() > 127
        result = detect_changes(ChangeParameters(before=str(LEVIR / "A" / name), after=str(LEVIR / "B" / name),
                                                 output_dir=str(out / method / Path(name).stem), method=method,
                                                 pixel_size_m=0.5, coregister=False))
        pred = gdal.Open(result.mask_path).ReadAsArray() == 1
        tp, fp, fn = tp + int((pred & truth).sum()), fp + int((pred & ~truth).sum()), fn + int((~pred & truth).sum())
    return 2 * tp / max(2 * tp + fp + fn, 1)


def test_pairs_are_in_the_held_out_half():
    names = sorted(p.name for p in (LEVIR / "label").glob("*.png"))
    assert set(PAIRS) <= set(names[1::2])


def test_default_method_on_real_pairs(tmp_path):
    from sitewatch.plugin.core.change import DEFAULT_METHOD

    default = _pooled_f1(DEFAULT_METHOD, tmp_path)
    irmad = _pooled_f1("irmad", tmp_path)
    assert default >= FLOOR, f"{DEFAULT_METHOD} pooled F1 {default:.3f} < {FLOOR}"
    assert default >= irmad, f"{DEFAULT_METHOD} pooled F1 {default:.3f} < IR-MAD's {irmad:.3f}"
