"""The BVH reader and writer on every shared clip, with bvhio as an independent oracle."""
import itertools

import bvhio
import numpy as np
import pytest
from conftest import EXPECTED, clip
from hypothesis import given, settings
from hypothesis import strategies as st

from motionkit import rotations as rot
from motionkit.errors import MotionkitError
from motionkit.motion import Motion, Skeleton
from motionkit.formats import bvh


def load(path) -> Motion:
    return bvh.read(path.read_bytes(), str(path))[0]


def test_loads_with_the_documented_shape(any_clip):
    m = load(any_clip)
    joints, ends, frames, fps = EXPECTED[any_clip.stem]
    assert (len(m.skeleton), len(m.skeleton.end_sites), m.frames, m.fps) == (joints, ends, frames, fps)
    assert np.allclose(np.linalg.norm(m.rotations, axis=-1), 1.0)


def test_world_positions_agree_with_bvhio(any_clip):
    m = load(any_clip)
    ours = m.world_positions()
    root = bvhio.readAsHierarchy(str(any_clip))
    layout = root.layout()
    names = [x.Name for x, _, _ in layout]
    idx = [m.skeleton.names.index(n) for n in names if n in m.skeleton.names]
    assert len(idx) == len(m.skeleton), "bvhio and motionkit disagree on the joints"
    h = m.skeleton.height()
    for frame in sorted({0, 1, m.frames // 3, m.frames // 2, m.frames - 1}):
        root.loadPose(frame)
        theirs = np.array([[*x.PositionWorld] for x, _, _ in layout if x.Name in m.skeleton.names])
        err = np.abs(theirs - ours[frame, idx]).max()
        assert err < 1e-4 * h, f"frame {frame}: {err} (height {h})"


def test_read_write_read_keeps_world_positions(any_clip):
    m = load(any_clip)
    text = bvh.write([m])
    m2 = bvh.read(text, "roundtrip")[0]
    h = m.skeleton.height()
    assert np.abs(m2.world_positions(True) - m.world_positions(True)).max() < 1e-6 * h
    assert m2.skeleton.names == m.skeleton.names
    assert m2.skeleton.channels == m.skeleton.channels
    assert np.array_equal(m2.skeleton.parents, m.skeleton.parents)
    assert sorted(m2.skeleton.end_sites) == sorted(m.skeleton.end_sites)
    assert m2.fps == m.fps and m2.frames == m.frames


def test_channel_orders_are_kept():
    xia = load(clip("Xia_normal"))
    assert xia.skeleton.channels[0][3:] == ("Zrotation", "Yrotation", "Xrotation")
    out = bvh.write([xia]).decode()
    assert "CHANNELS 3 Zrotation Yrotation Xrotation" in out
    ele = load(clip("Elephant_idle1"))
    assert all(len(c) == 6 for c in ele.skeleton.channels)
    assert bvh.write([ele]).decode().count("CHANNELS 6") == len(ele.skeleton)


def test_elephant_position_channels_replace_offsets():
    m = load(clip("Elephant_idle1"))
    assert any(not np.allclose(m.translations[:, j], m.skeleton.offsets[j]) for j in range(1, len(m.skeleton)))


SMALL = b"""HIERARCHY
ROOT Root
{
  OFFSET 0 0 0
  CHANNELS 3 Xrotation Yrotation Zrotation
  JOINT Hips
  {
    OFFSET 0 90 0
    CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
    JOINT Leg
    {
      OFFSET 0 -45 0
      CHANNELS 3 Yrotation Xrotation Zrotation
      End Site
      {
        OFFSET 0 -45 0
      }
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.033333
0 0 0 0 90 0 0 0 0 0 0 0
0 0 0 1.0e1 9.0E+1 0 90 0 0 0 0 0
0 0 0 20 90 0 0 0 0 0 90 0
"""


def test_root_above_hips_and_mixed_orders():
    m = bvh.read(SMALL, "small.bvh")[0]
    assert m.skeleton.names == ["Root", "Hips", "Leg"]
    assert m.fps == 30.0
    wp = m.world_positions(end_sites=True)
    assert np.allclose(wp[1, 1], [10, 90, 0])  # scientific notation
    # frame 1: Hips turned 90° about Z, so the leg (pointing -Y) points +X.
    assert np.allclose(wp[1, 3], [10 + 90, 90, 0])
    assert np.allclose(m.root_translation, 0)  # the root does not move; Hips does


def test_crlf_tabs_and_spaces_read_the_same():
    messy = SMALL.replace(b"\n", b"\r\n").replace(b"  ", b"\t \t")
    a, b = bvh.read(SMALL, "a")[0], bvh.read(messy, "b")[0]
    assert np.allclose(a.world_positions(), b.world_positions())


@pytest.mark.parametrize("ft,fps", [(b"0.016667", 60.0), (b"0.033333", 30.0), (b"0.008333", 120.0),
                                    (b"0.0416667", 24.0), (b"0.0333667", 1 / 0.0333667)])
def test_frame_time_snapping(ft, fps):
    m = bvh.read(SMALL.replace(b"0.033333", ft), "x")[0]
    assert m.fps == pytest.approx(fps, rel=1e-12)


def test_reads_from_stdin_bytes_the_same(tmp_path):
    from motionkit.files import read_motions

    p = tmp_path / "s.bvh"
    p.write_bytes(SMALL)
    assert np.allclose(read_motions(str(p))[0].rotations, bvh.read(SMALL, "-")[0].rotations)


# ---- property-based: random skeletons, random channel orders, random motion

@st.composite
def random_motion(draw):
    n = draw(st.integers(1, 7))
    parents = [-1] + [draw(st.integers(0, j - 1)) for j in range(1, n)]
    orders = ["".join(p) for p in itertools.permutations("XYZ")]
    channels = []
    for j in range(n):
        order = draw(st.sampled_from(orders))
        rc = tuple(a + "rotation" for a in order)
        pos = j == 0 or draw(st.booleans())
        pc = ("Xposition", "Yposition", "Zposition") if pos else ()
        channels.append(pc + rc if draw(st.booleans()) else rc + pc)
    offsets = draw(st.lists(st.tuples(*[st.floats(-50, 50, allow_nan=False)] * 3), min_size=n, max_size=n))
    ends = {j: (0.0, 5.0, 0.0) for j in range(n) if j not in parents}
    sk = Skeleton([f"j{j}" for j in range(n)], parents, offsets, channels, ends)
    t = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    rots = rot.normalize(rng.normal(size=(t, n, 4)))
    trans = np.broadcast_to(sk.offsets, (t, n, 3)).copy()
    for j in range(n):
        if sk.has_position(j):
            trans[:, j] = rng.uniform(-100, 100, size=(t, 3))
    fps = draw(st.sampled_from([24.0, 25.0, 30.0, 50.0, 60.0, 120.0]))
    return Motion(sk, rots, trans, fps)


@settings(max_examples=80, deadline=None)
@given(random_motion())
def test_writer_and_parser_agree_on_random_skeletons(m):
    m2 = bvh.read(bvh.write([m]), "prop")[0]
    # The file lists joints depth first, which need not be the order they were built in: compare by name.
    order = [m2.skeleton.names.index(n) for n in m.skeleton.names]
    assert [m2.skeleton.channels[k] for k in order] == m.skeleton.channels
    assert [m2.skeleton.names[p] if p >= 0 else None for p in m2.skeleton.parents[order]] == \
        [m.skeleton.names[p] if p >= 0 else None for p in m.skeleton.parents]
    assert m2.fps == m.fps
    scale = max(1.0, np.abs(m.translations).max())
    assert np.abs(m2.world_positions()[:, order] - m.world_positions()).max() < 1e-5 * scale


def test_writer_refuses_several_motions():
    m = bvh.read(SMALL, "x")[0]
    with pytest.raises(MotionkitError, match="one motion"):
        bvh.write([m, m])
