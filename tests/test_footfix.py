"""Foot clean-up on real clips: the legs are disturbed, the fix holds each contact tip still again and touches
nothing but the legs."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motionkit import anatomy, features, footfix
from motionkit import rotations as rot
from motionkit.files import read_motions

from conftest import SHARED


@pytest.mark.parametrize("clip", ["Joe_Salsa-Dancing-6.bvh", "Crabnew_Crab-dance-long.bvh", "Xia_proud.bvh"])
def test_foot_fix_stops_sliding_and_keeps_the_rest(clip):
    m = read_motions(str(SHARED / clip))[0].resampled(30).slice(0, 200)
    contacts = anatomy.guess_contacts(m)
    labels = features.contact_labels(m, contacts, anatomy.body_height(m))
    labels[:50] = labels[140:] = 0  # contacts only in the middle: the ends are far from every contact
    rng = np.random.default_rng(0)
    r = m.rotations.copy()
    limbs = [footfix.limb(m, j) for j in contacts]
    assert all(limbs), "every contact of these rigs has a limb the IK can move"
    for top, _, _ in limbs:  # a slow random wobble of each hip makes the feet slide
        r[:, top] = rot.multiply(r[:, top], rot.from_euler(np.cumsum(rng.normal(0, 0.15, (m.frames, 3)), 0), "XYZ"))
    bad = m.replace(rotations=r)
    names = m.skeleton.names
    given = {names[j]: labels[:, k].tolist() for k, j in enumerate(contacts)}
    fixed = footfix.fix_feet(bad, given)
    # the world transforms the fix hands back (updated only along the limbs) are the fixed motion's own
    same, (wr, wp) = footfix.fix_feet_world(bad, given)
    assert np.array_equal(same.rotations, fixed.rotations)
    fk_r, fk_p = fixed.world_transforms()
    assert np.abs(wp - fk_p).max() < 1e-9 * anatomy.body_height(m)
    assert np.abs(np.abs(np.sum(wr * fk_r, axis=-1)) - 1).max() < 1e-9

    on = labels[1:].astype(bool) & labels[:-1].astype(bool)
    assert on.sum() > 20

    def slide(motion):
        return np.linalg.norm(np.diff(anatomy.tips(motion, contacts), axis=0), axis=-1)[on].mean()

    assert slide(fixed) < 0.25 * slide(bad)
    assert slide(fixed) < 3e-4 * anatomy.body_height(m)
    # joints outside the limbs' chains are untouched
    moved = {j for top, _, _ in limbs for j in range(len(names)) if _descends(m.skeleton.parents, j, top)}
    still = [j for j in range(len(names)) if j not in moved]
    assert np.abs(fixed.world_positions()[:, still] - bad.world_positions()[:, still]).max() < 1e-9
    # frames farther than the fade from every contact interval are left exactly as they were
    near = np.zeros(m.frames, bool)
    for f in np.flatnonzero(labels.any(axis=1)):
        near[max(0, f - footfix.FADE):f + footfix.FADE + 1] = True
    assert np.isfinite(fixed.rotations).all() and (~near).sum() >= 40
    assert np.array_equal(fixed.rotations[~near], bad.rotations[~near])


def test_foot_fix_without_contacts_is_the_identity():
    m = read_motions(str(SHARED / "Xia_proud.bvh"))[0]
    assert footfix.fix_feet(m, {}) is m


def _descends(parents, j, top):
    while j >= 0:
        if j == top:
            return True
        j = int(parents[j])
    return False


def _locks_one_by_one(tips, on, fade):
    """The lock rule written out interval by interval (an oracle for the vectorised ``footfix.lock_targets``): each
    contact interval of two frames or more is held at its mean tip position; its fade offers weight 1 - k/(fade+1)
    k frames after and before it, and a frame keeps the largest weight offered (the first offered on a tie), never
    over a contact frame."""
    t = len(tips)
    delta, weight = np.zeros((t, 3)), np.zeros(t)
    intervals, start = [], None
    for f, down in enumerate(list(on) + [False]):
        if down and start is None:
            start = f
        elif not down and start is not None:
            intervals.append((start, f))
            start = None
    intervals = [(a, b) for a, b in intervals if b - a >= 2]
    for a, b in intervals:
        target = tips[a:b].mean(axis=0)
        for k in range(1, fade + 1):
            w = 1.0 - k / (fade + 1)
            for f, anchor in ((b - 1 + k, b - 1), (a - k, a)):
                if 0 <= f < t and w > weight[f]:
                    weight[f], delta[f] = w, w * (target - tips[anchor])
    for a, b in intervals:
        weight[a:b], delta[a:b] = 1.0, tips[a:b].mean(axis=0) - tips[a:b]
    return delta, weight


@given(st.lists(st.booleans(), min_size=1, max_size=60), st.integers(0, 6), st.integers(0, 2 ** 31 - 1))
@settings(max_examples=300, deadline=None)
def test_locks_hold_each_contact_at_its_mean_and_fade_out(on, fade, seed):
    tips = np.random.default_rng(seed).normal(size=(len(on), 3))
    delta, weight = footfix.lock_targets(tips, np.array(on), fade)
    want_delta, want_weight = _locks_one_by_one(tips, on, fade)
    assert np.array_equal(weight, want_weight)
    np.testing.assert_allclose(delta, want_delta, rtol=0, atol=1e-12)
