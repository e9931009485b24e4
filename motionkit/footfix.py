"""Foot-contact clean-up: where the generator says a foot is on the ground, keep it still (IK foot locking).

GANimator runs 500 steps of gradient-descent IK per sample (≈12 s for 600 frames on our CPUs). Here each limb is
solved in closed form, for all frames at once: the contact's tip is locked to its mean position over each
contact interval, the lock fades in and out over a few frames, and a two-bone IK (upper joint, middle joint,
end joint whose world rotation is kept) moves the end joint by exactly the correction the tip needs.

Limbs are found by rule, so any rig works: walk up from the contact joint to just below the joint where the limb
branches off the body; the end joint is the highest one within the last 35 % of the limb's length (the ankle of a
human leg), the top is the first joint whose bone is at least 15 % of the limb (the hip, not a clavicle), the middle the joint that splits the path between them
most evenly (the knee). Limbs with fewer than three such joints are left alone.
"""
from __future__ import annotations

import numpy as np

from . import rotations as rot
from .motion import Motion

FADE = 6  # frames over which a lock fades in and out (at 30 fps)


def limb(motion: Motion, contact: int) -> tuple[int, int, int] | None:
    """(top, middle, end) joints of the limb ending at ``contact``, or None."""
    sk = motion.skeleton
    children = sk.children
    chain = [contact]
    while True:
        p = int(sk.parents[chain[-1]])
        if p <= 0 or len(children[p]) > 1:
            break
        chain.append(p)
    if len(chain) < 3:
        return None
    chain = chain[::-1]  # top → contact
    rest = sk.rest_positions()
    tip = rest[contact] + (sk.end_sites[contact] if contact in sk.end_sites else 0.0)
    points = [rest[j] for j in chain] + [tip]
    seg = [float(np.linalg.norm(b - a)) for a, b in zip(points[:-1], points[1:])]
    total = sum(seg)
    if total <= 0:
        return None
    remaining = [sum(seg[k:]) for k in range(len(chain))]  # path length from chain[k] to the tip
    end = next(k for k in range(len(chain)) if remaining[k] <= 0.35 * total + 1e-12)
    # The top skips short leading bones (a clavicle, a hip socket joint): the first bone of at least 15 %.
    top = next((k for k in range(len(seg)) if seg[k] >= 0.15 * total), 0)
    end = max(end, top + 2)
    if end >= len(chain):
        return None
    best = min(range(top + 1, end),
               key=lambda k: abs((remaining[top] - remaining[k]) - (remaining[k] - remaining[end])))
    return chain[top], chain[best], chain[end]


def lock_targets(tips: np.ndarray, on: np.ndarray, fade: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame correction (T, 3) for one tip and its weight: the mean position over each contact interval
    (of two frames or more), faded linearly to zero over ``fade`` frames on either side; where two intervals' fades
    meet, the larger weight holds (the earlier interval's on a tie). Written without a loop over intervals: a
    crowd's samples are cleaned up in threads, and a Python loop holds the others up."""
    t = len(tips)
    delta, weight = np.zeros((t, 3)), np.zeros(t)
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(on, dtype=int)[:t], 0]))
    starts, stops = edges[::2], edges[1::2]
    keep = stops - starts >= 2
    starts, stops = starts[keep], stops[keep]
    if not len(starts):
        return delta, weight
    sums = np.concatenate([np.zeros((1, 3)), np.cumsum(tips, axis=0)])
    targets = (sums[stops] - sums[starts]) / (stops - starts)[:, None]
    # every fade frame of every interval, in the order the rule reads them (interval, k, after/before); each frame
    # takes the largest weight offered, the first offered on a tie
    k = np.arange(1, fade + 1)
    frames = np.stack(np.broadcast_arrays(stops[:, None] - 1 + k, starts[:, None] - k), axis=-1).reshape(-1)
    anchors = np.broadcast_to(np.stack([stops - 1, starts], axis=-1)[:, None, :], (len(starts), fade, 2)).reshape(-1)
    owner = np.repeat(np.arange(len(starts)), 2 * fade)
    w = np.tile(np.repeat(1.0 - k / (fade + 1), 2), len(starts))
    valid = (frames >= 0) & (frames < t)
    frames, anchors, owner, w = frames[valid], anchors[valid], owner[valid], w[valid]
    order = np.lexsort((np.arange(len(frames)), -w, frames))
    first = order[np.diff(np.r_[-1, frames[order]]) != 0]
    weight[frames[first]] = w[first]
    delta[frames[first]] = w[first, None] * (targets[owner[first]] - tips[anchors[first]])
    # the contact frames themselves: their interval's target, fully
    mark = np.zeros(t + 1, dtype=int)
    np.add.at(mark, starts, 1)
    np.add.at(mark, stops, -1)
    inside = np.flatnonzero(np.cumsum(mark[:t]) > 0)
    owner = np.searchsorted(starts, inside, side="right") - 1
    delta[inside] = targets[owner] - tips[inside]
    weight[inside] = 1.0
    return delta, weight


def _two_bone(a, b, c, t, a_gr, b_gr, eps=1e-8):
    """Local-rotation changes (qa, qb) that move c to t (all (T, 3)); after theorangeduck's closed form."""
    def unit(v):
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)

    def angle(u, v):
        return np.arccos(np.clip((unit(u) * unit(v)).sum(-1), -1.0, 1.0))

    def axis_angle(axis, ang):
        return np.concatenate([np.cos(ang / 2)[..., None], axis * np.sin(ang / 2)[..., None]], axis=-1)

    lab = np.linalg.norm(b - a, axis=-1)
    lcb = np.linalg.norm(c - b, axis=-1)
    lat = np.clip(np.linalg.norm(t - a, axis=-1), eps, lab + lcb - 1e-6 * (lab + lcb))
    ac_ab_0, ba_bc_0, ac_at_0 = angle(c - a, b - a), angle(a - b, c - b), angle(c - a, t - a)
    ac_ab_1 = np.arccos(np.clip((lcb ** 2 - lab ** 2 - lat ** 2) / np.maximum(-2 * lab * lat, -1e30), -1, 1))
    ba_bc_1 = np.arccos(np.clip((lat ** 2 - lab ** 2 - lcb ** 2) / np.minimum(-2 * lab * lcb, -eps), -1, 1))
    axis0 = unit(np.cross(c - a, b - a))
    axis1 = unit(np.cross(c - a, t - a))
    inv_a, inv_b = rot.conjugate(a_gr), rot.conjugate(b_gr)
    r0 = axis_angle(rot.rotate(inv_a, axis0), ac_ab_1 - ac_ab_0)
    r1 = axis_angle(rot.rotate(inv_b, axis0), ba_bc_1 - ba_bc_0)
    r2 = axis_angle(rot.rotate(inv_a, axis1), ac_at_0)
    return rot.multiply(r0, r2), r1


def fix_feet(motion: Motion, contacts: dict[str, list[int]] | None = None, fade: int | None = None,
             world: tuple[np.ndarray, np.ndarray] | None = None) -> Motion:
    """A copy of ``motion`` with each contact tip held still while its label says it is on the ground.

    ``contacts`` maps contact joint names to per-frame 0/1 labels (default: ``motion.metadata["contacts"]``);
    ``world``: the motion's ``world_transforms()`` when the caller has them already (a batch computes them once)."""
    return fix_feet_world(motion, contacts, fade, world, want_world=False)[0]


def fix_feet_world(motion: Motion, contacts: dict[str, list[int]] | None = None, fade: int | None = None,
                   world: tuple[np.ndarray, np.ndarray] | None = None, want_world: bool = True,
                   in_place: bool = False):
    """``fix_feet`` and the fixed motion's world transforms (``world_transforms()``, or None unless
    ``want_world``), updated only where the locks changed them: each limb's chain from its top joint down is
    composed again, and everything below its end joint, whose world rotation the lock keeps, moves with it.
    ``in_place``: the given ``world`` arrays are the caller's to give up, and are updated rather than copied.

    A limb ends where the skeleton branches (``limb``), so limbs, and the joints below their tops, never share a
    joint: each lock reads only world transforms that no other lock changes."""
    contacts = motion.metadata.get("contacts", {}) if contacts is None else contacts
    if world is None and (want_world or (contacts and motion.frames >= 2)):
        world = motion.world_transforms()
    if not contacts or motion.frames < 2:
        return motion, world if want_world else None
    sk = motion.skeleton
    fade = int(round(FADE * motion.fps / 30.0)) if fade is None else fade
    rotations = motion.rotations.copy()
    wr, wp = world  # limbs are disjoint: one FK serves all
    new_wr, new_wp = ((wr, wp) if in_place else (wr.copy(), wp.copy())) if want_world else (None, None)
    for name, labels in contacts.items():
        j = sk.index(name)
        chain = limb(motion, j)
        on = np.asarray(labels, dtype=bool)[:motion.frames]
        if chain is None or not on.any():
            continue
        top, mid, end = chain
        tip = wp[:, j] + (rot.rotate(wr[:, j], sk.end_sites[j]) if j in sk.end_sites else 0.0)
        delta, weight = lock_targets(tip, on, fade)
        frames = np.flatnonzero(weight > 0)
        if len(frames) == 0:
            continue
        a, b, c = wp[frames, top], wp[frames, mid], wp[frames, end]
        qa, qb = _two_bone(a, b, c, c + delta[frames], wr[frames, top], wr[frames, mid])
        rotations[frames, top] = rot.multiply(rotations[frames, top], qa)
        rotations[frames, mid] = rot.multiply(rotations[frames, mid], qb)
        # The end joint keeps its world rotation, so the tip moves exactly as the end joint does.
        path = [end]
        while path[-1] != top:
            path.append(int(sk.parents[path[-1]]))
        parent_world = wr[frames, int(sk.parents[top])]
        parent_pos = wp[frames, int(sk.parents[top])]
        for k in reversed(path[1:]):  # top … parent of end, with the new local rotations
            if want_world:
                parent_pos = parent_pos + rot.rotate(parent_world, motion.translations[frames, k])
            parent_world = rot.multiply(parent_world, rotations[frames, k])
            if want_world:
                new_wr[frames, k], new_wp[frames, k] = parent_world, parent_pos
        rotations[frames, end] = rot.multiply(rot.conjugate(parent_world), wr[frames, end])
        if want_world:
            shift = parent_pos + rot.rotate(parent_world, motion.translations[frames, end]) - wp[frames, end]
            below = {end}
            for d in range(end + 1, len(sk)):  # parents come before their children
                if int(sk.parents[d]) in below:
                    below.add(d)
            new_wp[np.ix_(frames, sorted(below))] += shift[:, None]
    return motion.replace(rotations=rotations), (new_wr, new_wp) if want_world else None
