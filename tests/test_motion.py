"""The Motion model: forward kinematics, resampling, slicing, scaling, batches, NPZ losslessness."""
import numpy as np
import pytest
from conftest import clip

from motionkit import anatomy
from motionkit.errors import MotionkitError
from motionkit.formats import npz
from motionkit.files import read_motions
from motionkit.motion import stack


def salsa():
    return read_motions(str(clip("Joe_Salsa-Dancing-6")))[0]


def test_resample_60_to_30_keeps_every_other_frame():
    m = salsa()
    r = m.resampled(30)
    assert r.fps == 30 and r.frames == 648  # GANimator's T for Salsa at 30 fps
    assert np.allclose(r.world_positions(), m.world_positions()[::2], atol=1e-9)


def test_resample_interpolates_between_frames():
    m = salsa().slice(0, 200)
    up = m.resampled(120)
    assert up.frames == 2 * 200 - 1
    wp, wu = m.world_positions(), up.world_positions()
    assert np.allclose(wu[::2], wp, atol=1e-9)
    mid = wu[1::2]
    # an in-between frame lies between its neighbours (joints move little in 1/60 s)
    assert np.abs(mid - (wp[:-1] + wp[1:]) / 2).max() < 0.5


def test_slice_scale_and_batch():
    m = salsa()
    s = m.slice(120, 180)
    assert s.frames == 60 and np.allclose(s.rotations, m.rotations[120:180])
    with pytest.raises(MotionkitError):
        m.slice(2000, 2100)
    sc = m.scaled(0.01)
    assert np.allclose(sc.world_positions(), m.world_positions() * 0.01)
    assert anatomy.guess_units(anatomy.body_height(sc))[0] == "m"
    rots, trans = stack([s, m.slice(0, 60)])
    assert rots.shape == (2, 60, 65, 4) and trans.shape == (2, 60, 65, 3)
    with pytest.raises(MotionkitError, match="different skeleton"):
        stack([s, read_motions(str(clip("Xia_normal")))[0].slice(0, 60)])


def test_npz_is_lossless_and_keeps_metadata():
    m = salsa()
    m.metadata = {"operation": "inpaint", "frames": [[120, 180]]}
    back = npz.read(npz.write([m, m.slice(0, 10)]))
    assert np.array_equal(back[0].rotations, m.rotations)
    assert np.array_equal(back[0].translations, m.translations)
    assert back[0].skeleton.to_dict() == m.skeleton.to_dict()
    assert back[0].metadata == m.metadata and back[1].frames == 10
    assert back[1].skeleton is back[0].skeleton  # one skeleton stored once


class _Payload:
    """Unpickling this makes a folder: proof that code ran."""

    def __init__(self, mark):
        self.mark = mark

    def __reduce__(self):
        import os

        return os.mkdir, (self.mark,)


@pytest.mark.parametrize("member", ["header", "rotations_0"])
def test_npz_and_model_files_never_unpickle(tmp_path, member):
    import io

    from motionkit import modelfile

    mark = tmp_path / "code-ran"
    good = io.BytesIO()
    m = salsa().slice(0, 10)
    good.write(npz.write([m]))
    arrays = dict(np.load(io.BytesIO(good.getvalue()), allow_pickle=False))
    arrays[member] = np.array([_Payload(str(mark))], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    evil = buf.getvalue()
    np.load(io.BytesIO(evil), allow_pickle=True)[member]  # the payload is real: unpickling it runs it
    assert mark.exists()
    mark.rmdir()
    with pytest.raises(MotionkitError, match="could hold code"):
        npz.read(evil, "evil.npz")
    with pytest.raises(MotionkitError, match="could hold code"):
        modelfile.loads(evil, "evil.mkm")
    assert not mark.exists()


def test_contacts_fall_back_to_the_motion_when_the_rest_pose_does_not_stand():
    """Two legs whose tips are level in the rest pose: the one that stays planted is the foot."""
    from motionkit import rotations as rot
    from motionkit.motion import Motion, Skeleton

    sk = Skeleton(["root", "planted", "swinging"], [-1, 0, 0], [(0, 1, 0), (0.2, 0, 0), (-0.2, 0, 0)],
                  [("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")] + [("Zrotation",)] * 2,
                  {1: (0, -1, 0), 2: (0, -1, 0)})
    t = np.arange(60) / 30
    rots = rot.identity((60, 3))
    rots[:, 2] = rot.from_euler(np.stack([80 * (1 + np.sin(2 * np.pi * t)) / 2], -1), "Z")
    m = Motion.from_root_motion(sk, rots, np.tile([0, 1, 0], (60, 1)), 30.0)
    assert anatomy.guess_contacts(m) == [1]


def test_batched_forward_kinematics_matches_each_motion_and_bvhio():
    """A crowd's characters go through one forward kinematics (frames laid end to end): each motion's world
    transforms must be exactly its own, whatever the lengths, and a skeleton that hangs differently is not mixed
    (the FK itself is checked against bvhio on every clip in test_bvh.py)."""
    from motionkit.motion import world_transforms_many

    salsa = read_motions(str(clip("Joe_Salsa-Dancing-6")))[0]
    crab = read_motions(str(clip("Crabnew_Crab-dance-long")))[0]
    motions = [salsa.slice(0, 50), salsa.slice(200, 233), salsa.slice(400, 401), crab.slice(0, 20)]
    batched = world_transforms_many(motions)
    assert len(batched) == len(motions)
    for m, (wr, wp) in zip(motions, batched):
        own_r, own_p = m.world_transforms()
        assert wr.shape == own_r.shape and wp.shape == own_p.shape
        np.testing.assert_allclose(wr, own_r, atol=1e-12)
        np.testing.assert_allclose(wp, own_p, atol=1e-9)
