"""USD output read back by the real client, usd-core: skeletons, time samples, and UsdSkel's own evaluation of the
world joint transforms against our forward kinematics (Blender's USD importer: tests/test_blender.py)."""
import sys

import numpy as np
import pytest
from conftest import clip, require_clients, run_cli, run_process

from motionkit import anatomy
from motionkit.errors import MotionkitError
from motionkit.files import read_motions, write_motions


def need_usd():
    """usd-core is the [usd] extra: without it these tests skip, except in CI (.ci/run installs it)."""
    if require_clients():
        import pxr  # noqa: F401
    return pytest.importorskip("pxr", reason="pip install 'motionkit[usd]' (.ci/run installs it)")


def skeletons(path):
    from pxr import Usd, UsdSkel

    stage = Usd.Stage.Open(str(path))
    return stage, [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]


@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Elephant_idle1", "Xia_normal"])
@pytest.mark.parametrize("ext", ["usda", "usdc", "usd"])
def test_usd_core_reads_back_what_we_wrote(tmp_path, name, ext):
    need_usd()
    src = clip(name)
    m = read_motions(str(src))[0]
    path = tmp_path / f"{name}.{ext}"
    run_cli("convert", src, "-o", path)
    stage, skels = skeletons(path)
    assert len(skels) == 1
    skel = skels[0]
    from pxr import Usd, UsdGeom, UsdSkel

    assert UsdGeom.GetStageUpAxis(stage) == "Y" and UsdGeom.GetStageMetersPerUnit(stage) == 1.0
    assert stage.GetTimeCodesPerSecond() == pytest.approx(m.fps)
    assert list(skel.GetPrim().GetCustomDataByKey("motionkit:jointNames")) == m.skeleton.names
    assert len(skel.GetJointsAttr().Get()) == len(m.skeleton)
    anim = UsdSkel.BindingAPI(skel.GetPrim()).GetAnimationSourceRel().GetTargets()
    anim = UsdSkel.Animation(stage.GetPrimAtPath(anim[0]))
    for attr in (anim.GetRotationsAttr(), anim.GetTranslationsAttr(), anim.GetScalesAttr()):
        assert attr.GetNumTimeSamples() == m.frames
    scale = anatomy.guess_units(anatomy.body_height(m))[1]
    frames = sorted({0, m.frames // 3, m.frames - 1})
    query = UsdSkel.Cache().GetSkelQuery(skel)
    ours = m.world_positions() * scale
    h = m.skeleton.height() * scale
    for f in frames:
        world = query.ComputeJointWorldTransforms(UsdGeom.XformCache(Usd.TimeCode(f)))
        theirs = np.array([list(w.ExtractTranslation()) for w in world])
        assert np.abs(theirs - ours[f]).max() < 1e-4 * h, f"{name}.{ext} frame {f}"


def test_a_crowd_is_several_skeletons_apart(tmp_path):
    need_usd()
    from pxr import Usd, UsdGeom, UsdSkel

    salsa, xia = (read_motions(str(clip(n)))[0] for n in ("Joe_Salsa-Dancing-6", "Xia_normal"))
    path = tmp_path / "two.usda"
    write_motions([salsa, xia.resampled(60)], str(path))
    stage, skels = skeletons(path)
    assert [len(s.GetJointsAttr().Get()) for s in skels] == [len(salsa.skeleton), len(xia.skeleton)]
    roots = []
    for s in skels:
        query = UsdSkel.Cache().GetSkelQuery(s)
        world = query.ComputeJointWorldTransforms(UsdGeom.XformCache(Usd.TimeCode(0)))
        roots.append(np.array([list(w.ExtractTranslation()) for w in world]))
    # side by side, never overlapping: every joint of the second right of every joint of the first
    assert roots[1][:, 0].min() > roots[0][:, 0].max()


def test_without_usd_core_one_line_says_how_to_get_it(tmp_path, monkeypatch):
    from motionkit.formats import usd

    monkeypatch.setitem(sys.modules, "pxr", None)  # as if usd-core were not installed
    m = read_motions(str(clip("Xia_normal")))[0]
    with pytest.raises(MotionkitError, match=r"pip install 'motionkit\[usd\]'"):
        usd.write_usda([m])


def test_usd_is_write_only_and_says_so(tmp_path):
    need_usd()
    path = tmp_path / "x.usda"
    run_cli("convert", clip("Xia_normal"), "-o", path)
    r = run_process("convert", path, "-o", tmp_path / "back.bvh", check=False)
    assert r.returncode == 1 and b"Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_crowd_line_writes_a_usd_stage(tmp_path):
    """`motionkit crowd -n 50 -o crowd.usda`, after a (very short) `motionkit train`: fifty skeletons, apart."""
    need_usd()
    from pxr import Usd, UsdGeom, UsdSkel

    run_cli("train", clip("Xia_proud"), "-o", tmp_path / "dance.mkm", "--iterations", "2", "--no-plots",
            cwd=tmp_path)
    run_cli("crowd", "-m", tmp_path / "dance.mkm", "-n", "50", "--length", "60", "-o", tmp_path / "crowd.usda",
            cwd=tmp_path)
    stage, skels = skeletons(tmp_path / "crowd.usda")
    assert len(skels) == 50
    hips = []
    for s in skels:
        world = UsdSkel.Cache().GetSkelQuery(s).ComputeJointWorldTransforms(UsdGeom.XformCache(Usd.TimeCode(0)))
        hips.append(list(world[0].ExtractTranslation()))
    hips = np.array(hips)[:, [0, 2]]
    gaps = np.linalg.norm(hips[:, None] - hips[None], axis=-1) + np.eye(50) * 1e9
    assert gaps.min() > 0.2  # metres between any two characters' hips on the first frame
