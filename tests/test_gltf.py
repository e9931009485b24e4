"""glTF output: structure DCCs need, exact read-back, several characters, and the Khronos validator."""
import json

import numpy as np
import pygltflib
import pytest
from conftest import clip, require_clients
from gltf_validator import validate, validator_dir

from motionkit.formats import bvh, gltf
from motionkit.files import read_motions

needs_validator = pytest.mark.skipif(validator_dir() is None and not require_clients(),
                                     reason="gltf-validator not installed (.ci/run installs it)")


def load(name):
    return read_motions(str(clip(name)))[0]


def test_structure_of_a_written_glb():
    m = load("Joe_Salsa-Dancing-6")
    doc = pygltflib.GLTF2.load_from_bytes(gltf.write_glb([m], {}))
    assert len(doc.skins) == 1 and len(doc.skins[0].joints) == 65
    assert len(doc.animations) == 1
    anim = doc.animations[0]
    rot_targets = {c.target.node for c in anim.channels if c.target.path == "rotation"}
    assert rot_targets == set(doc.skins[0].joints)
    trans_targets = [c.target.node for c in anim.channels if c.target.path == "translation"]
    assert trans_targets == [doc.skins[0].skeleton]  # only the root moves
    time_acc = doc.accessors[anim.samplers[0].input]
    assert time_acc.count == 1295 and time_acc.min == [0.0]
    assert time_acc.max[0] == pytest.approx(1294 / 60, abs=1e-5)
    # metres: Mixamo's ~1.8 m character, hips about a metre up
    hips = doc.nodes[doc.skins[0].skeleton]
    assert 0.8 < hips.translation[1] < 1.2


def test_a_joint_that_never_turns_holds_its_rotation_on_its_node():
    m = load("Xia_normal")  # five joints whose rotation never changes in the clip
    doc = json.loads(gltf.write_gltf([m], {}))
    joints = doc["skins"][0]["joints"]
    turning = {doc["animations"][0]["channels"][k]["target"]["node"]
               for k in range(len(doc["animations"][0]["channels"]))
               if doc["animations"][0]["channels"][k]["target"]["path"] == "rotation"}
    q = m.rotations.astype(np.float32)
    still = np.all(q == q[:1], axis=(0, 2))
    assert 0 < still.sum() < len(still)
    assert turning == {n for n, s in zip(joints, still) if not s}
    for n, s, r in zip(joints, still, m.rotations[0]):
        if s:
            assert np.allclose(doc["nodes"][n]["rotation"], np.r_[r[1:], r[:1]], atol=1e-6)
    back = gltf.read(json.dumps(doc).encode(), "x")[0]
    assert np.abs(back.rotations[:, still] - m.rotations[:, still]).max() < 1e-6


def test_quaternions_are_unit_and_sign_continuous():
    m = load("Joe_Salsa-Dancing-6")
    back = gltf.read(gltf.write_glb([m], {}), "x")[0]
    doc = pygltflib.GLTF2.load_from_bytes(gltf.write_glb([m], {}))
    blob = doc.binary_blob()
    anim = doc.animations[0]
    for ch in anim.channels:
        if ch.target.path != "rotation":
            continue
        acc = doc.accessors[anim.samplers[ch.sampler].output]
        view = doc.bufferViews[acc.bufferView]
        q = np.frombuffer(blob, np.float32, acc.count * 4, view.byteOffset).reshape(-1, 4)
        assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-6)
        assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0)
    assert back.frames == m.frames


@pytest.mark.parametrize("ext", ["glb", "gltf"])
def test_read_back_restores_the_motion(any_clip, ext):
    m = read_motions(str(any_clip))[0]
    write = gltf.write_glb if ext == "glb" else gltf.write_gltf
    back = gltf.read(write([m], {}), "x")[0]
    h = m.skeleton.height()
    assert back.skeleton.names == m.skeleton.names and back.skeleton.channels == m.skeleton.channels
    assert back.fps == m.fps and back.frames == m.frames
    # float32 in the file: within 1e-5 of the height
    assert np.abs(back.world_positions(True) - m.world_positions(True)).max() < 1e-5 * h
    # and the BVH written from it keeps the same layout
    assert bvh.write([back]).splitlines()[:10] == bvh.write([m]).splitlines()[:10]


def test_units_are_metres_and_scale_overrides():
    xia = load("Xia_normal")  # inches
    doc = pygltflib.GLTF2.load_from_bytes(gltf.write_glb([xia], {}))
    ys = [n.translation[1] for n in doc.nodes[1:]]
    assert max(ys) < 1.0  # a 24-inch rig is under a metre
    doc2 = pygltflib.GLTF2.load_from_bytes(gltf.write_glb([xia], {"scale": 0.1}))
    assert doc2.nodes[3].translation[1] == pytest.approx(doc.nodes[3].translation[1] / 0.0254 * 0.1, rel=1e-5)


def test_several_motions_make_several_characters_in_one_animation():
    a = load("Joe_Salsa-Dancing-6")
    b = load("Joe_Walk-In-Circle")
    doc = pygltflib.GLTF2.load_from_bytes(gltf.write_glb([a, b, a], {}))
    assert len(doc.skins) == 3 and len(doc.animations) == 1
    assert len(doc.scenes[0].nodes) == 3
    xs = [doc.nodes[i].translation[0] for i in doc.scenes[0].nodes]
    assert xs[0] < xs[1] < xs[2]  # side by side, not on top of each other
    back = gltf.read(gltf.write_glb([a, b, a], {}), "x")
    assert [m.frames for m in back] == [a.frames, b.frames, a.frames]
    assert np.allclose(back[1].world_positions(), b.world_positions(), atol=1e-3)


def test_reads_a_foreign_gltf_with_a_rotated_armature():
    """A glTF from another tool: joints under an 'Armature' node rotated -90° about X (Z-up export)."""
    m = load("Xia_normal").slice(0, 20)
    doc = pygltflib.GLTF2.load_from_bytes(gltf.write_glb([m], {"scale": 1.0}))
    holder = doc.nodes[doc.scenes[0].nodes[0]]
    holder.extras = {}
    holder.rotation = [-np.sqrt(0.5), 0, 0, np.sqrt(0.5)]
    holder.name = "Armature"
    back = gltf.read(b"".join(doc.save_to_bytes()), "foreign.glb")[0]
    wp = m.world_positions()
    expected = np.stack([wp[..., 0], wp[..., 2], -wp[..., 1]], axis=-1)  # -90° about X: (x, y, z) → (x, z, -y)
    assert np.allclose(back.world_positions(), expected, atol=1e-4)


@needs_validator
def test_every_written_gltf_validates(tmp_path, any_clip):
    m = read_motions(str(any_clip))[0]
    paths = []
    for ext, write in (("glb", gltf.write_glb), ("gltf", gltf.write_gltf)):
        p = tmp_path / f"{any_clip.stem}.{ext}"
        p.write_bytes(write([m], {}))
        paths.append(p)
    crowd = tmp_path / "crowd.glb"
    crowd.write_bytes(gltf.write_glb([m, m.slice(10, None)], {}))
    paths.append(crowd)
    for report in validate(*paths):
        assert report["errors"] == 0, json.dumps(report, indent=1)
