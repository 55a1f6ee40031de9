"""A small CenterNet-style detector: heatmap per class, sub-cell offset and box size, stride 4.

`CenterNetLite` is trained on raw logits; `DecodedDetector` wraps it for export with the
decoding in the graph, so the ONNX output is YOLOv5-style [1, N, 5 + nc]:
(cx, cy, w, h, objectness, class scores...) in input pixels, one row per output cell.
Non-peak cells have objectness 0 (3x3 max-pool peak test), so a threshold plus a light NMS
is all a runtime needs. Input: [1, 3, H, W] RGB scaled to 0..1 (Deepness convention).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as nnf

STRIDE = 4
SIZE_REF_PX = 16.0  # box side = SIZE_REF_PX * exp(size logit), in input pixels


def _cbr(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Block(nn.Module):
    """Two 3x3 convolutions with a residual connection."""

    def __init__(self, ch: int, dilation: int = 1):
        super().__init__()
        self.a = _cbr(ch, ch, dilation=dilation)
        self.b = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, padding=dilation, dilation=dilation, bias=False),
                               nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nnf.relu(x + self.b(self.a(x)))


class CenterNetLite(nn.Module):
    """Encoder down to stride 32, a light FPN-style decoder back to stride 4, three heads."""

    def __init__(self, num_classes: int, width: int = 24):
        super().__init__()
        w = width
        self.num_classes = num_classes
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.45))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.25))
        self.stem = nn.Sequential(_cbr(3, w, 2), _cbr(w, w))                # /2
        self.s4 = nn.Sequential(_cbr(w, 2 * w, 2), _Block(2 * w))           # /4
        self.s8 = nn.Sequential(_cbr(2 * w, 3 * w, 2), _Block(3 * w))       # /8
        self.s16 = nn.Sequential(_cbr(3 * w, 4 * w, 2), _Block(4 * w), _Block(4 * w, 2))  # /16
        self.s32 = nn.Sequential(_cbr(4 * w, 5 * w, 2), _Block(5 * w, 2))   # /32
        self.lat16 = nn.Conv2d(4 * w, 5 * w, 1)
        self.up16 = _cbr(5 * w, 3 * w)
        self.lat8 = nn.Conv2d(3 * w, 3 * w, 1)
        self.up8 = _cbr(3 * w, 2 * w)
        self.lat4 = nn.Conv2d(2 * w, 2 * w, 1)
        self.up4 = _cbr(2 * w, 2 * w)
        self.heat = nn.Sequential(_cbr(2 * w, 2 * w), nn.Conv2d(2 * w, num_classes, 1))
        self.box = nn.Sequential(_cbr(2 * w, 2 * w), nn.Conv2d(2 * w, 4, 1))  # dx, dy, log w, log h
        nn.init.constant_(self.heat[-1].bias, -4.6)  # prior ~1 % (focal loss start)
        nn.init.zeros_(self.box[-1].weight)
        nn.init.zeros_(self.box[-1].bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - self.mean) / self.std
        c4 = self.s4(self.stem(x))
        c8 = self.s8(c4)
        c16 = self.s16(c8)
        c32 = self.s32(c16)
        p16 = self.up16(self.lat16(c16) + nnf.interpolate(c32, size=c16.shape[-2:], mode="nearest"))
        p8 = self.up8(self.lat8(c8) + nnf.interpolate(p16, size=c8.shape[-2:], mode="nearest"))
        p4 = self.up4(self.lat4(c4) + nnf.interpolate(p8, size=c4.shape[-2:], mode="nearest"))
        return self.heat(p4), self.box(p4)


class DecodedDetector(nn.Module):
    """Export wrapper: logits -> YOLOv5-style rows [1, H/4 * W/4, 5 + nc] in input pixels."""

    def __init__(self, net: CenterNetLite):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heat_logits, box = self.net(x)
        heat = torch.sigmoid(heat_logits)
        best, _ = heat.max(dim=1, keepdim=True)
        peak = (nnf.max_pool2d(best, 3, 1, 1) == best).to(heat.dtype)
        objectness = best * peak
        class_scores = heat / (best + 1e-6)
        h, w = heat.shape[-2], heat.shape[-1]
        ys = torch.arange(h, dtype=heat.dtype).view(1, 1, h, 1).expand(1, 1, h, w)
        xs = torch.arange(w, dtype=heat.dtype).view(1, 1, 1, w).expand(1, 1, h, w)
        off = torch.sigmoid(box[:, 0:2])
        cx = (xs + off[:, 0:1]) * STRIDE
        cy = (ys + off[:, 1:2]) * STRIDE
        size = SIZE_REF_PX * torch.exp(box[:, 2:4].clamp(-4.0, 4.0))
        rows = torch.cat([cx, cy, size, objectness, class_scores], dim=1)  # [1, 5+nc, h, w]
        return rows.flatten(2).transpose(1, 2)
