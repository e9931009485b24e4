"""Foot clean-up on real clips: the legs are disturbed, the fix holds each contact tip still again and touches
nothing but the legs."""
import numpy as np
import pytest

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
