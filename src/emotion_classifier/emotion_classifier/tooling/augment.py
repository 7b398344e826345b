"""Training-time augmentation of face batches: batched tensor operations only (no per-face Python)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..preprocess import PREPROCESSING

if TYPE_CHECKING:
    from .train import TrainConfig


def jpeg_copies(images: np.ndarray, seed: int) -> np.ndarray:
    """Each face re-encoded once as JPEG at a random quality in 20..80 (the artifacts ``augment`` mixes in)."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, (face, q) in enumerate(zip(images, rng.integers(20, 81, len(images)))):
        ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def _blur(x: torch.Tensor) -> torch.Tensor:
    """A 5x5 Gaussian blur (sigma 1) of each channel of N x C x H x W."""
    g = torch.exp(-((torch.arange(5, dtype=x.dtype) - 2) ** 2) / 2)
    k = (g[:, None] * g[None, :]) / g.sum() ** 2
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k.expand(c, 1, 5, 5), groups=c)


def augment(
    x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator, jpeg: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """Augment N x C x H x W faces with batched tensor operations (no per-face Python).

    JPEG artifacts (from ``jpeg``, the same faces re-encoded), flip, rotation, scaling and shift (one
    affine warp), blur, brightness/contrast and random erasing.
    """
    n = x.shape[0]
    if jpeg is not None and cfg.jpeg_prob > 0:
        x = torch.where((torch.rand(n, generator=gen) < cfg.jpeg_prob)[:, None, None, None], jpeg, x)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(cfg.max_rotate_deg)
    scale = 1 + (torch.rand(n, generator=gen) * 2 - 1) * cfg.scale_range
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * cfg.max_shift * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    if cfg.blur_prob > 0:
        out = torch.where((torch.rand(n, generator=gen) < cfg.blur_prob)[:, None, None, None], _blur(out), out)
    if cfg.photometric > 0:  # contrast about the face's mean, then a brightness offset, within the pixel range
        lo, hi = (np.array([0.0, 1.0]) - PREPROCESSING["mean"]) / PREPROCESSING["std"]
        contrast = 1 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * cfg.photometric
        bright = (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * cfg.photometric * float(hi - lo) / 2
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = ((out - mean) * contrast + mean + bright).clamp(float(lo), float(hi))
    if cfg.erase_prob > 0:
        h, w = x.shape[2:]
        size = torch.randint(8, 20, (n, 2), generator=gen)
        y0 = (torch.rand(n, generator=gen) * (h - size[:, 0])).long()
        x0 = (torch.rand(n, generator=gen) * (w - size[:, 1])).long()
        ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
        rows = (ys >= y0[:, None]) & (ys < (y0 + size[:, 0])[:, None])
        cols = (xs >= x0[:, None]) & (xs < (x0 + size[:, 1])[:, None])
        box = rows[:, :, None] & cols[:, None, :] & (torch.rand(n, generator=gen) < cfg.erase_prob)[:, None, None]
        out = out.masked_fill(box[:, None], 0.0)
    return out
