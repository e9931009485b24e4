"""USD (.usda text, .usdc and .usd binary), write only: each motion a UsdSkel character, through ``usd-core``.

Each motion becomes ``/Characters/NAME`` (a SkelRoot, moved to its crowd placement) holding a ``Skeleton`` and its
``SkelAnimation``: joint paths from the hierarchy, rest and bind transforms from the rest offsets (identity rest
rotations, as our glTF), and per frame every joint's rotation, translation and scale (scales authored with the same
samples, which Blender's importer needs). Metres (the units guessed from the body height, as for glTF), Y up, the
stage's time codes at the motions' frame rate. USD prim names cannot hold every character a joint name can (a
Mixamo ``mixamorig:Hips``): such names are made valid identifiers, and the original names ride in the skeleton's
``customData`` (``motionkit:jointNames``). ``usd-core`` is the ``[usd]`` extra; without it writing says how to get
it. The bytes cross through a temporary file, because USD writes its binary crate format only to a file."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from motionkit import Format, anatomy, hookimpl
from motionkit.errors import MotionkitError
from motionkit.motion import Motion

NEEDS = "USD needs usd-core: pip install 'motionkit[usd]'"


def _pxr():
    try:
        from pxr import Gf, Sdf, Tf, Usd, UsdGeom, UsdSkel, Vt
    except ImportError:
        raise MotionkitError(NEEDS) from None
    return Gf, Sdf, Tf, Usd, UsdGeom, UsdSkel, Vt


def _joint_paths(m: Motion, valid) -> list[str]:
    """Each joint's path from the root (``Hips/Spine/Neck``), names made valid and unique among siblings."""
    sk = m.skeleton
    names, paths, used = [], [], set()
    for j, raw in enumerate(sk.names):
        name = valid(raw) or f"joint{j}"
        parent = int(sk.parents[j])
        path = f"{paths[parent]}/{name}" if parent >= 0 else name
        k = 1
        while path in used:
            k += 1
            path = f"{paths[parent]}/{name}_{k}" if parent >= 0 else f"{name}_{k}"
        used.add(path)
        names.append(name)
        paths.append(path)
    return paths


def _stage(motions: list[Motion], options: dict):
    Gf, Sdf, Tf, Usd, UsdGeom, UsdSkel, Vt = _pxr()
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    fps = max(m.fps for m in motions)
    stage.SetTimeCodesPerSecond(fps)
    stage.SetFramesPerSecond(fps)
    stage.SetStartTimeCode(0)
    stage.SetEndTimeCode(max((m.frames - 1) * fps / m.fps for m in motions))
    root = UsdGeom.Xform.Define(stage, "/Characters")
    stage.SetDefaultPrim(root.GetPrim())
    placements = options.get("placements")
    if placements is None:
        from .gltf import default_placements  # the same side-by-side rule as glTF

        scales = [options.get("scale") or anatomy.guess_units(anatomy.body_height(m))[1] for m in motions]
        placements = default_placements(motions, scales)
    used: set[str] = set()
    for ci, (m, place) in enumerate(zip(motions, placements)):
        sk = m.skeleton
        scale = options.get("scale") or anatomy.guess_units(anatomy.body_height(m))[1]
        name = Tf.MakeValidIdentifier(m.name or f"character_{ci}")
        while name in used:
            name += f"_{ci}"
        used.add(name)
        skel_root = UsdSkel.Root.Define(stage, f"/Characters/{name}")
        UsdGeom.XformCommonAPI(skel_root).SetTranslate(Gf.Vec3d(*map(float, place)))
        skel = UsdSkel.Skeleton.Define(stage, f"/Characters/{name}/Skeleton")
        anim = UsdSkel.Animation.Define(stage, f"/Characters/{name}/Skeleton/Animation")
        paths = _joint_paths(m, Tf.MakeValidIdentifier)
        joints = Vt.TokenArray(paths)
        skel.CreateJointsAttr(joints)
        skel.CreateJointNamesAttr(Vt.TokenArray([p.rsplit("/", 1)[-1] for p in paths]))
        rest = [Gf.Matrix4d(1.0).SetTranslate(Gf.Vec3d(*map(float, o * scale))) for o in sk.offsets]
        bind = [Gf.Matrix4d(1.0).SetTranslate(Gf.Vec3d(*map(float, p * scale))) for p in sk.rest_positions()]
        skel.CreateRestTransformsAttr(Vt.Matrix4dArray(rest))
        skel.CreateBindTransformsAttr(Vt.Matrix4dArray(bind))
        skel.GetPrim().SetCustomDataByKey("motionkit:jointNames", Vt.StringArray(list(sk.names)))
        skel.GetPrim().SetCustomDataByKey("motionkit:unitScale", float(scale))
        UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([anim.GetPath()])
        anim.CreateJointsAttr(joints)
        rot_attr, tr_attr, sc_attr = (anim.CreateRotationsAttr(), anim.CreateTranslationsAttr(),
                                      anim.CreateScalesAttr())
        quats = np.ascontiguousarray(m.rotations[..., [1, 2, 3, 0]], dtype=np.float32)  # wxyz → GfQuatf's xyzw
        trans = np.ascontiguousarray(m.translations * scale, dtype=np.float32)
        ones = Vt.Vec3hArray.FromNumpy(np.ones((len(sk), 3), np.float16))
        for f in range(m.frames):
            t = Usd.TimeCode(f * fps / m.fps)
            rot_attr.Set(Vt.QuatfArray.FromNumpy(quats[f]), t)
            tr_attr.Set(Vt.Vec3fArray.FromNumpy(trans[f]), t)
            sc_attr.Set(ones, t)
    return stage


def _write(motions: list[Motion], options: dict | None, suffix: str) -> bytes:
    stage = _stage(motions, options or {})
    if suffix == ".usda":
        return stage.GetRootLayer().ExportToString().encode()
    with tempfile.TemporaryDirectory(prefix="motionkit-usd-") as tmp:
        path = os.path.join(tmp, "out" + suffix)
        if not stage.GetRootLayer().Export(path):
            raise MotionkitError("usd-core could not write the stage")
        with open(path, "rb") as fh:
            return fh.read()


def write_usda(motions: list[Motion], options: dict | None = None) -> bytes:
    return _write(motions, options, ".usda")


def write_usdc(motions: list[Motion], options: dict | None = None) -> bytes:
    return _write(motions, options, ".usdc")


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="usda", extensions=(".usda",), read=None, write=write_usda,
                    sniff=lambda head: head.startswith(b"#usda"), binary=False, multiple=True,
                    description="USD text: UsdSkel skeletons and animations (write; needs usd-core, the [usd] "
                                "extra)"))
    register(Format(name="usdc", extensions=(".usdc", ".usd"), read=None, write=write_usdc,
                    sniff=lambda head: head.startswith(b"PXR-USDC"), binary=True, multiple=True,
                    description="USD binary (crate): as usda (write; needs usd-core, the [usd] extra)"))
