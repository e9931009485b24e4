"""Rules that read a rig the way an animator would, from what the clip does: size and units, the joint that
carries the character's travel, the feet it stands on, its digits.

Nothing here looks joints up by name or trusts the rest pose: GANimator's per-skeleton joint database (and a
re-implementation's pick-by-index) is exactly what breaks on a new rig, and game rigs often keep a rest pose that
does not stand (bones along +X) above a static root.
"""
from __future__ import annotations

import numpy as np

from . import rotations as rot
from .motion import UP_TURNS, Motion, Skeleton

# (name, metres per unit, smallest body height in units for which we believe it)
_UNITS = [("mm", 0.001, 5000.0), ("cm", 0.01, 50.0), ("in", 0.0254, 5.0), ("m", 1.0, 0.0)]
STILL = 1e-6  # a channel whose range over the clip is below this (radians-ish, or body heights) does not move
CONTACT_SPEED = 0.01  # body heights per frame at 30 fps: GANimator's 0.018 m for a 1.8 m human


def up_scores(motion: Motion) -> dict[str, float]:
    """For each axis a file may stand on (``UP_TURNS``), how much the motion stands on a floor across it: the
    floor is the level the lowest tip reaches (2nd percentile over frames of the lowest tip, along the axis), and
    the score is the number of tips standing there on an average frame (within 5 % of the motion's size of the
    floor and nearly still: under ``CONTACT_SPEED`` of its size per frame at 30 fps). Gravity makes one axis
    special: on the up axis the feet come back to one level wherever they are planted; across a horizontal axis
    (or upside down) a still tip at the extreme is the exception. Size and speed do not depend on the axis (the
    median diagonal of the tips' bounding box); at most 1024 frame pairs are looked at."""
    ends = leaves(motion.skeleton)
    if motion.frames < 2 or not ends:
        return {"y": 0.0}
    first = np.arange(0, motion.frames - 1, max(1, (motion.frames - 1) // 1024))
    pairs = np.stack([first, first + 1], axis=1).ravel()
    m = motion.replace(rotations=motion.rotations[pairs], translations=motion.translations[pairs])
    p = tips(m, ends).reshape(len(first), 2, len(ends), 3)
    size = float(np.median(np.linalg.norm(p[:, 0].max(axis=1) - p[:, 0].min(axis=1), axis=-1)))
    if not size > 0:
        return {"y": 0.0}
    still = np.linalg.norm(p[:, 1] - p[:, 0], axis=-1) / size * (motion.fps / 30.0) < CONTACT_SPEED
    out = {}
    for axis, q in UP_TURNS.items():
        up = rot.rotate(rot.conjugate(np.asarray(q)), np.array([0.0, 1.0, 0.0]))  # the file's axis `axis`
        h = p[:, 0] @ up / size
        floor = np.percentile(h.min(axis=1), 2)
        out[axis] = float(((h < floor + 0.05) & still).mean(axis=0).sum())
    return out


def up_axis(motion: Motion) -> str:
    """The axis the motion stands on (``up_scores``). +Y, the convention of BVH and glTF, unless another axis is
    decisively the floor's while little stands across +Y: under half a tip per frame on +Y, and at least half a
    tip and twice +Y's on the other axis. Cautious on purpose: a clip turned on its side by mistake is worse than a
    Z-up file left as read. Every shared clip stays +Y (and so do the re-rigged ones of tests/rerig.py); exported
    onto another axis, every human clip is found on it, on every axis, and the crab on all but -Z (across which its
    claws hold still at the extreme often enough to count); the elephants' idles, which hardly move, stay as read
    (their still ears, trunk and tail stand at the extremes of other axes as their feet do at the floor).
    """
    scores = up_scores(motion)
    best = max(scores, key=scores.get)
    y = scores.get("y", 0.0)
    if best != "y" and y < 0.5 and scores[best] >= max(0.5, 2.0 * y):
        return best
    return "y"


def _vertical_extent(motion: Motion, joints: list[int] | None = None) -> float:
    """Median over frames of the vertical extent of ``joints`` (default all) and their end sites (Y up)."""
    step = max(1, motion.frames // 64)  # a median over ≤ 64 frames is plenty, and keeps this cheap for crowds
    m = motion.replace(rotations=motion.rotations[::step], translations=motion.translations[::step])
    wr, wp = m.world_transforms()
    sk = m.skeleton
    joints = list(range(len(sk))) if joints is None else joints
    ends = [j for j in joints if j in sk.end_sites]
    pts = wp[:, joints]
    if ends:
        tips = wp[:, ends] + rot.rotate(wr[:, ends], np.stack([sk.end_sites[j] for j in ends]))
        pts = np.concatenate([pts, tips], axis=1)
    y = pts[..., 1]
    return float(np.median(y.max(axis=1) - y.min(axis=1)))


def body_height(motion: Motion) -> float:
    """The character's height as it moves: the median over frames of the vertical extent of the travel joint, the
    joints below it and their end sites (Y up). Independent of the rest pose (a rig lying along +X at rest is as
    tall as it stands) and of static joints above the body."""
    h = _vertical_extent(motion, subtree(motion.skeleton, travel_joint(motion)))
    return h if h > 0 else max(motion.skeleton.height(), 1e-9)


def guess_units(height: float) -> tuple[str, float]:
    """(unit name, metres per unit) from a body height in file units: Mixamo is in cm (≈180), Truebones-style rigs
    in m (a crab 0.5, an elephant 2.0), CMU/Xia-style in inches (≈24). Thresholds: ≥5000 mm, ≥50 cm, ≥5 in, else m."""
    for name, factor, lowest in _UNITS:
        if height >= lowest:
            return name, factor
    return "m", 1.0


def leaves(skeleton: Skeleton) -> list[int]:
    return [j for j, kids in enumerate(skeleton.children) if not kids]


def subtree(skeleton: Skeleton, j: int) -> list[int]:
    """``j`` and every joint below it (joints are listed parents first)."""
    inside = {j}
    for k in range(j + 1, len(skeleton)):
        if int(skeleton.parents[k]) in inside:
            inside.add(k)
    return sorted(inside)


def _chain_length(skeleton: Skeleton, j: int) -> float | None:
    """Rest length of the non-branching chain from ``j``'s own offset to its tip; None if it branches."""
    total = float(np.linalg.norm(skeleton.offsets[j]))
    kids = skeleton.children
    while kids[j]:
        if len(kids[j]) > 1:
            return None
        j = kids[j][0]
        total += float(np.linalg.norm(skeleton.offsets[j]))
    return total + (float(np.linalg.norm(skeleton.end_sites[j])) if j in skeleton.end_sites else 0.0)


def _limb_length(skeleton: Skeleton, p: int) -> float:
    """Rest length of the limb that carries ``p``: from the nearest ancestor that branches (or the root) to p."""
    total, kids = 0.0, skeleton.children
    while p > 0:
        total += float(np.linalg.norm(skeleton.offsets[p]))
        p = int(skeleton.parents[p])
        if len(kids[p]) > 1:
            break
    return total


def digits(skeleton: Skeleton) -> set[int]:
    """Fingers and toes, by shape: three or more non-branching chains hanging from one joint, each shorter than
    half the limb that carries that joint (a hand's fingers on an arm; not a crab's legs on its body, nor the eyes
    and head-top on a short neck)."""
    out: set[int] = set()
    for p, kids in enumerate(skeleton.children):
        limb = _limb_length(skeleton, p)
        short = [c for c in kids if (n := _chain_length(skeleton, c)) is not None and n < 0.5 * limb]
        if len(short) >= 3:
            for c in short:
                out.update(subtree(skeleton, c))
    return out


def static_joints(motion: Motion) -> np.ndarray:
    """(J,) bool: joints whose local rotation and translation never change over the clip."""
    q = rot.make_continuous(motion.rotations, axis=0)
    still_r = np.ptp(q, axis=0).max(axis=-1) < STILL
    still_t = np.ptp(motion.translations, axis=0).max(axis=-1) < STILL * max(_vertical_extent(motion), 1e-9)
    return still_r & still_t


def travel_joint(motion: Motion) -> int:
    """The joint that carries the character through the world: the root, or — when the root never moves (a game
    rig's static root above the hips) — the first joint that does, following the largest subtree down."""
    sk = motion.skeleton
    still = static_joints(motion)
    j = 0
    while still[j] and sk.children[j]:
        j = max(sk.children[j], key=lambda c: len(subtree(sk, c)))
    return j


def animated_joints(motion: Motion) -> list[int]:
    """The joints worth modelling and evaluating: the travel joint, and every joint below it whose rotation moves
    in the clip, minus digits."""
    sk = motion.skeleton
    travel = travel_joint(motion)
    fingers = digits(sk)
    moving = np.ptp(rot.make_continuous(motion.rotations, axis=0), axis=0).max(axis=-1) > STILL
    below = set(subtree(sk, travel))
    return [j for j in range(len(sk)) if j == travel or (j in below and moving[j] and j not in fingers)]


def tips(motion: Motion, joints: list[int]) -> np.ndarray:
    """World positions (T, len(joints), 3) of the joints' End Sites where they have one, else of the joints."""
    sk = motion.skeleton
    wr, wp = motion.world_transforms()
    tips = wp[:, joints].copy()
    for k, j in enumerate(joints):
        if j in sk.end_sites:
            tips[:, k] = wp[:, j] + rot.rotate(wr[:, j], sk.end_sites[j])
    return tips


def mirror_pairs(skeleton: Skeleton, joints: list[int]) -> dict[int, int]:
    """Left/right partners among ``joints``, by shape: two tips whose chains up to their lowest common ancestor
    have the same number of joints and bone lengths within 5 %, and whose rest positions mirror each other across
    that ancestor (the partner is the most symmetric such candidate)."""
    sk = skeleton
    rest = sk.rest_positions()

    def path(j):
        out = [j]
        while out[-1] > 0:
            out.append(int(sk.parents[out[-1]]))
        return out

    paths = {j: path(j) for j in joints}
    pairs: dict[int, int] = {}
    for a in joints:
        best, best_err = None, np.inf
        for b in joints:
            if b == a:
                continue
            pa, pb = paths[a], paths[b]
            common = next(x for x in pa if x in pb)
            ca, cb = pa[:pa.index(common)], pb[:pb.index(common)]
            if len(ca) != len(cb) or not ca:
                continue
            la = np.array([np.linalg.norm(sk.offsets[j]) for j in ca])
            lb = np.array([np.linalg.norm(sk.offsets[j]) for j in cb])
            if np.any(np.abs(la - lb) > 0.05 * np.maximum(np.maximum(la, lb), 1e-9)):
                continue
            # mirror symmetry about the common ancestor: same distance, same height along the chain's own axis
            da, db = rest[a] - rest[common], rest[b] - rest[common]
            err = abs(np.linalg.norm(da) - np.linalg.norm(db)) + abs(la.sum() - lb.sum())
            if err < best_err:
                best, best_err = b, err
        if best is not None:
            pairs[a] = best
    return {a: b for a, b in pairs.items() if pairs.get(b) == a}


def contact_scores(motion: Motion, height: float | None = None, fps: float = 30.0) -> dict[int, float]:
    """For each tip that reaches the ground (its lowest level within a quarter of the body height of the lowest
    tip's), the fraction of frames (at ``fps``) on which it stands: at its own lowest level (within 5 % of the
    body height) and nearly still (under ``CONTACT_SPEED`` body heights per frame). Tips are the leaf joints'
    end sites (the joints themselves where an end site has no length)."""
    sk = motion.skeleton
    h = height or body_height(motion)
    ends = leaves(sk)
    m = motion.resampled(fps)
    p = tips(m, ends) / h
    y = p[..., 1]
    low = np.percentile(y, 2, axis=0)
    speed = np.zeros_like(y)
    if m.frames > 1:
        speed[1:] = np.linalg.norm(np.diff(p, axis=0), axis=-1)
        speed[0] = speed[1]
    standing = ((y < low + 0.05) & (speed < CONTACT_SPEED)).mean(axis=0)
    return {j: float(s) for j, s, lo in zip(ends, standing, low) if lo < low.min() + 0.25}


def guess_contacts(motion: Motion, height: float | None = None) -> list[int]:
    """The tips a character stands on, decided from the motion (``contact_scores``): those that stand on at least
    a tenth of the frames and at least 15 % as often as the one that stands most. Feet come in pairs: where any
    such tip has a left/right partner (``mirror_pairs``), only paired tips are kept, each with its partner if that
    one stands on 5 % of the frames. A standing human gets its toes, a handstand its hands, the elephant its
    four feet (not its trunk, which rests on the ground now and then), the crab the six legs it walks on."""
    scores = contact_scores(motion, height)
    if not scores or max(scores.values()) <= 0:
        return []
    top = max(scores.values())
    chosen = {j for j, s in scores.items() if s >= max(0.1, 0.15 * top)}
    partners = mirror_pairs(motion.skeleton, [j for j, s in scores.items() if s >= 0.05])
    paired = {j for j in chosen if j in partners}
    if paired:
        chosen = paired | {partners[j] for j in paired}
    return sorted(chosen)
