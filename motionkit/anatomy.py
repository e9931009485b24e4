"""Rules that read a skeleton the way an animator would, for any rig: units, feet, body parts.

Nothing here looks joints up in a table: GANimator's per-skeleton joint database (and a re-implementation's
pick-by-index) is exactly what breaks on a new rig.
"""
from __future__ import annotations

import numpy as np

from .motion import Motion, Skeleton

# (name, metres per unit, smallest rest height in units for which we believe it)
_UNITS = [("mm", 0.001, 5000.0), ("cm", 0.01, 50.0), ("in", 0.0254, 5.0), ("m", 1.0, 0.0)]


def guess_units(skeleton: Skeleton) -> tuple[str, float]:
    """(unit name, metres per unit) from the rest height: Mixamo is in cm (≈180), Truebones-style rigs in m
    (a crab 0.45, an elephant 2.0), CMU/Xia-style in inches (≈24). Thresholds: ≥5000 mm, ≥50 cm, ≥5 in, else m."""
    h = skeleton.height()
    for name, factor, lowest in _UNITS:
        if h >= lowest:
            return name, factor
    return "m", 1.0


FINGERS = ("thumb", "index", "middle", "ring", "pinky", "finger")


def animated_joints(motion: Motion) -> list[int]:
    """The joints worth modelling and evaluating: the root, and every joint whose rotation moves in the clip,
    minus fingers."""
    moving = np.ptp(motion.rotations, axis=0).max(axis=-1) > 1e-6
    return [j for j, n in enumerate(motion.skeleton.names)
            if j == 0 or (moving[j] and not any(f in n.lower() for f in FINGERS))]


def leaves(skeleton: Skeleton) -> list[int]:
    return [j for j, kids in enumerate(skeleton.children) if not kids]


def tips(motion: Motion, joints: list[int]) -> np.ndarray:
    """World positions (T, len(joints), 3) of the joints' End Sites where they have one, else of the joints."""
    from . import rotations as rot

    sk = motion.skeleton
    wr, wp = motion.world_transforms()
    tips = wp[:, joints].copy()
    for k, j in enumerate(joints):
        if j in sk.end_sites:
            tips[:, k] = wp[:, j] + rot.rotate(wr[:, j], sk.end_sites[j])
    return tips


def guess_contacts(motion: Motion) -> list[int]:
    """The end effectors a character stands on: leaf joints whose tip is at the bottom of the rest pose (within
    10 % of the skeleton's height of the lowest tip). A human gets its two toes, the elephant its four feet, the
    crab its six walking legs (its claws and eyes are up in the rest pose).

    Rigs whose rest pose does not stand (tips all level) fall back to the motion: tips that spend at least a fifth
    of the clip near their lowest height while nearly still (under 0.3 body heights per second)."""
    sk = motion.skeleton
    ends = leaves(sk)
    if not ends:
        return []
    h = max(sk.height(), 1e-9)
    rest = sk.rest_positions()
    rest_y = np.array([rest[j][1] + (sk.end_sites[j][1] if j in sk.end_sites else 0.0) for j in ends])
    low = rest_y < rest_y.min() + 0.1 * h
    if not low.all() or len(ends) == 1:
        return [j for j, ok in zip(ends, low) if ok]
    tip_pos = tips(motion, ends)
    y = tip_pos[..., 1]
    p5 = np.percentile(y, 5, axis=0)
    speed = np.zeros_like(y)
    if motion.frames > 1:
        speed[1:] = np.linalg.norm(np.diff(tip_pos, axis=0), axis=-1) * motion.fps
        speed[0] = speed[1]
    frac = ((y < p5 + 0.05 * h) & (speed < 0.3 * h)).mean(axis=0)
    return [j for k, j in enumerate(ends) if frac[k] >= 0.2 and p5[k] - p5.min() < 0.25 * h]
