"""Placing a crowd: each character's whole motion (every joint, every frame) has a ground footprint; characters are
moved so that footprints, grown by a margin, never overlap — on a grid, a circle, or at random."""
from __future__ import annotations

import math

import numpy as np

from .anatomy import body_height
from .motion import Motion, world_transforms_many


def footprint(m: Motion) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of the motion's x/z over all joints and frames."""
    xz = m.world_positions()[:, :, [0, 2]].reshape(-1, 2)
    return xz.min(axis=0), xz.max(axis=0)


def footprints(motions: list[Motion], worlds: list | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each motion's footprint (one forward kinematics for a crowd on one skeleton, or none where ``worlds``, the
    motions' ``world_transforms()``, are given)."""
    out = []
    for _, wp in (worlds if worlds is not None else world_transforms_many(motions)):
        x, z = wp[..., 0], wp[..., 2]  # views: the x/z copy of a batch's strided positions cost 15x more
        out.append((np.array([x.min(), z.min()]), np.array([x.max(), z.max()])))
    return out


def place_crowd(motions: list[Motion], layout: str = "grid", margin: float | None = None,
                rng: np.random.Generator | None = None, worlds: list | None = None) -> list[Motion]:
    """The motions moved on the ground (root x/z) so that no two footprints (plus ``margin``, in the motions'
    units; default a quarter of the skeleton's height) overlap. Footprint centres go to the layout's cells.
    ``worlds``: the motions' ``world_transforms()`` where the caller has them (a crowd's sampling does)."""
    if not motions:
        return []
    boxes = footprints(motions, worlds)
    margin = 0.25 * body_height(motions[0]) if margin is None else margin
    cell = max(float(np.max(hi - lo)) for lo, hi in boxes) + margin  # square cells hold any footprint
    n = len(motions)
    if layout == "grid":
        cols = math.ceil(math.sqrt(n))
        centres = [np.array([(i % cols) * cell, (i // cols) * cell]) for i in range(n)]
    elif layout == "circle":
        # neighbours on the circle are one chord apart; cells one diagonal apart never overlap
        radius = 0.0 if n == 1 else cell * math.sqrt(2) / (2 * math.sin(math.pi / n))
        centres = [radius * np.array([math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)])
                   for i in range(n)]
    elif layout == "random":
        rng = rng or np.random.default_rng(0)
        side = cell * math.ceil(math.sqrt(n)) * 1.6
        centres = []
        while len(centres) < n:
            for _ in range(2000):
                c = rng.uniform(0, side, 2)
                if all(np.max(np.abs(c - o)) >= cell for o in centres):  # square cells apart
                    centres.append(c)
                    break
            else:
                side *= 1.25  # crowded: widen the square and go on
    else:
        raise ValueError(f"unknown layout {layout!r}")
    out = []
    for m, (lo, hi), c in zip(motions, boxes, centres):
        shift = c - (lo + hi) / 2
        tr = m.translations.copy()
        tr[:, 0, 0] += shift[0]
        tr[:, 0, 2] += shift[1]
        out.append(m.replace(translations=tr))
    return out


def overlapping(motions: list[Motion]) -> list[tuple[int, int]]:
    """Pairs of motions whose footprints overlap (for checks)."""
    boxes = [footprint(m) for m in motions]
    pairs = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            (a0, a1), (b0, b1) = boxes[i], boxes[j]
            if np.all(a0 < b1) and np.all(b0 < a1):
                pairs.append((i, j))
    return pairs
