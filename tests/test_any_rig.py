"""Any rig: the same dance on a differently built skeleton is the same dance. Re-rigged shared clips (a static root
above the hips, bones along +X at rest, six channels everywhere, another rotation order, other units, zero-length
end sites) must move the same in the world, get the same feet and the same features, and train the same."""
import json

import numpy as np
import pytest
from conftest import clip, run_cli
from rerig import on_axis, rerig

from motionkit import anatomy
from motionkit import features as feat
from motionkit.files import read_motions, write_motions

# The feet a person would name, per shared clip.
FEET = {
    "Joe_Salsa-Dancing-6": ["mixamorig7:LeftToe_End", "mixamorig7:RightToe_End"],
    "Joe_Walk-In-Circle": ["mixamorig7:LeftToe_End", "mixamorig7:RightToe_End"],
    "Joe_Baseball-Milling-Idle": ["mixamorig7:LeftToe_End", "mixamorig7:RightToe_End"],
    "Malcolm_Gangnam-Style": ["mixamorig:LeftToe_End", "mixamorig:RightToe_End"],
    "Xia_normal": ["LeftToeBase", "RightToeBase"], "Xia_proud": ["LeftToeBase", "RightToeBase"],
    "Elephant_idle1": ["Bip01_L_Hand", "Bip01_L_Toe0", "Bip01_R_Hand", "Bip01_R_Toe0"],  # its front feet are "Hand"
    "Elephant_idle2": ["Bip01_L_Hand", "Bip01_L_Toe0", "Bip01_R_Hand", "Bip01_R_Toe0"],
    # the six walking legs; the two claws (Arm_*) and the eyes are raised
    "Crabnew_Crab-dance-long": sorted(f"DEF_BN_{leg}_end" for leg in ("leg_L_05", "Leg_L_10", "Leg_L_15", "leg_R_05",
                                                                      "Leg_R_10", "Leg_R_15")),
}
RIGS = {  # how each re-rig is built: all of them at once, and each alone
    "game_rig": dict(static_root=True, lie_along_x=True, six_channels=True, order="ZXY", scale=None),  # other units
    "lying_rest_pose": dict(static_root=False, lie_along_x=True, six_channels=False, order="XYZ"),
    "turned_static_root": dict(static_root=True, lie_along_x=False, six_channels=False, root_turn=90.0),
    "zero_end_sites": dict(static_root=False, lie_along_x=False, six_channels=True, zero_end_sites=True),
}


def names(m, idx):
    return sorted(m.skeleton.names[j] for j in idx)


def rebuilt(m, rig):
    """``m`` re-rigged; scale None means other units: cm ↔ m."""
    kw = dict(RIGS[rig])
    if kw.get("scale", 1.0) is None:
        kw["scale"] = 0.01 if anatomy.body_height(m) > 50 else 100.0
    return rerig(m, **kw), kw.get("scale", 1.0)


@pytest.mark.parametrize("name", sorted(FEET))
def test_feet_are_the_ones_a_person_would_name(name):
    m = read_motions(str(clip(name)))[0]
    assert names(m, anatomy.guess_contacts(m)) == FEET[name]


@pytest.mark.parametrize("rig", sorted(RIGS))
@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Xia_proud", "Crabnew_Crab-dance-long", "Elephant_idle1"])
def test_a_rerigged_clip_has_the_same_feet_and_travel(tmp_path, name, rig):
    m = read_motions(str(clip(name)))[0]
    path = tmp_path / "rerigged.bvh"
    r, scale = rebuilt(m, rig)
    write_motions([r], str(path))  # through the file, as a user brings it
    r = read_motions(str(path))[0]
    h = anatomy.body_height(m)
    if not RIGS[rig].get("zero_end_sites"):  # (without end sites the body is what its joints span)
        assert anatomy.body_height(r) == pytest.approx(h * scale, rel=1e-4)
    assert anatomy.guess_units(anatomy.body_height(r)) == anatomy.guess_units(h * scale)
    shift = 1 if RIGS[rig]["static_root"] else 0
    world = r.world_positions()[:, shift:]
    assert np.abs(world - m.world_positions() * scale).max() < 1e-4 * h * scale
    assert r.skeleton.names[anatomy.travel_joint(r)] == m.skeleton.names[0]
    expected = FEET[name]  # with zero-length end sites the tips are the leaf joints: still the same joints
    assert names(r, anatomy.guess_contacts(r)) == expected
    info = run_cli("info", path).stdout.decode()
    assert all(f in info for f in expected) and "% of frames" in info


@pytest.mark.parametrize("rig", sorted(set(RIGS) - {"zero_end_sites"}))  # (that one changes the feet's geometry)
@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Elephant_idle1"])
def test_a_rerigged_clip_has_the_same_features(name, rig):
    """The modelled features do not depend on how the rig is built: same joints, same numbers."""
    m = read_motions(str(clip(name)))[0]
    r, _ = rebuilt(m, rig)
    a, b = feat.make_encoding(m), feat.make_encoding(r)
    assert names(m, a.joints) == names(r, b.joints) and names(m, a.contacts) == names(r, b.contacts)
    assert names(m, a.offsets) == names(r, b.offsets)
    fa, fb = feat.encode(m, a), feat.encode(r, b)
    assert fa.shape == fb.shape and np.abs(fa - fb).max() < 1e-6


@pytest.mark.parametrize("name", ["Joe_Walk-In-Circle", "Elephant_idle2", "Crabnew_Crab-dance-long"])
def test_features_decode_to_the_same_motion_on_a_game_rig(name):
    """Travel read from the hips under a static root is written back to the hips; the root stays static."""
    m = read_motions(str(clip(name)))[0].resampled(30)
    r, _ = rebuilt(m, "game_rig")
    enc = feat.make_encoding(r)
    back = feat.decode(feat.encode(r, enc), enc)
    h = enc.height
    assert np.abs(back.world_positions(True) - r.world_positions(True)).max() < 5e-5 * h
    assert np.array_equal(back.translations[:, 0], r.translations[:, 0])  # the static root, to the bit
    assert np.array_equal(back.rotations[:, 0], r.rotations[:, 0])
    assert np.ptp(back.translations[:, 1, [0, 2]], axis=0).max() > 0.05 * h or "Elephant" in name


def test_joints_that_move_their_offsets_are_modelled_not_flattened():
    """The elephant's clavicles slide by up to 9 % of its height: they are features, and decode back."""
    m = read_motions(str(clip("Elephant_idle2")))[0]
    enc = feat.make_encoding(m)
    clav = m.skeleton.index("Bip01_L_Clavicle")
    assert clav in enc.offsets
    back = feat.decode(feat.encode(m, enc), enc)
    assert np.abs(back.translations[:, clav] - m.translations[:, clav]).max() < 1e-9 * enc.height
    assert np.ptp(back.translations[:, clav], axis=0).max() > 0.05 * enc.height


def test_channels_constant_in_the_clip_never_drift():
    """Whatever the generator says, a channel the clip never changes decodes to its value: a root that stays in
    place stays in place, a contact that never lifts stays down."""
    m = read_motions(str(clip("Xia_proud")))[0].resampled(30)
    still = m.replace(translations=m.translations.copy())
    still.translations[:, 0, [0, 2]] = still.translations[0, 0, [0, 2]]  # dancing on the spot
    enc = feat.make_encoding(still)
    assert enc.fixed[enc.root_slice][[0, 2]].all() and not enc.fixed[enc.root_slice][1]
    noise = np.random.default_rng(0).normal(size=(100, enc.width)) * 3
    out = feat.decode(noise, enc)
    assert np.ptp(out.translations[:, 0, [0, 2]], axis=0).max() < 1e-9
    assert np.ptp(out.translations[:, 0, 1]) > 0.01 * enc.height


@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Joe_Walk-In-Circle"])
def test_a_steady_turn_is_a_constant_turning_rate(name):
    """The travel joint's heading is a turning rate: the same clip spun about the up axis at a steady rate has
    that rate added to its turning channel and every other feature unchanged (GANimator's world frame would
    redraw the travel joint's rotation and velocity as sines of the spin) — but the contact labels, which come
    from the feet's speed in the world, and a spun body's feet slide."""
    from motionkit.edit import turned

    m = read_motions(str(clip(name)))[0].resampled(30)
    enc = feat.make_encoding(m, heading=True)
    assert enc.heading and enc.root_width == 4
    spin = 0.05  # radians a frame
    spun = turned(m, enc, spin * np.arange(m.frames))
    a, b = feat.encode(m, enc, normalise=False)[1:], feat.encode(spun, enc, normalise=False)[1:]
    rate = enc.root_slice.start + 3
    assert np.allclose(b[:, rate] - a[:, rate], spin, atol=1e-9)
    labels = 6 * len(enc.joints) + np.arange(len(enc.contacts))
    others = np.setdiff1d(np.arange(enc.width), [rate, *labels])
    assert np.abs(b[:, others] - a[:, others]).max() < 1e-9
    world = feat.make_encoding(m)  # the world frame (the default): the spin is everywhere in the travel joint
    wa, wb = feat.encode(m, world, normalise=False)[1:], feat.encode(spun, world, normalise=False)[1:]
    assert np.abs(wb[:, :6] - wa[:, :6]).max() > 0.5


@pytest.mark.parametrize("heading", [True, False])
def test_the_contact_loss_sees_the_feet_where_decode_puts_them(heading):
    """The contact loss's forward kinematics in torch (train.ContactFK) and features.decode agree on a clip that
    turns through full circles: tip paths equal up to where they start."""
    import torch

    from motionkit.train import ContactFK

    m = read_motions(str(clip("Joe_Walk-In-Circle")))[0].resampled(30)
    enc = feat.make_encoding(m, heading=heading)
    x = feat.encode(m, enc)
    tips, _ = ContactFK(enc)(torch.tensor(x.T[None], dtype=torch.float32))
    tips = tips[0].double().numpy()
    back = anatomy.tips(feat.decode(x, enc), enc.contacts) / enc.height
    assert len(enc.contacts) == tips.shape[1] >= 2
    assert np.abs((tips - tips[:1]) - (back - back[:1])).max() < 1e-3


# ------------------------------------------------------------------ the axis a file stands on
SHARED_CLIPS = sorted(FEET)


@pytest.mark.parametrize("name", SHARED_CLIPS)
def test_every_shared_clip_stands_on_y(name):
    m = read_motions(str(clip(name)))[0]
    assert anatomy.up_axis(m) == "y" and m.skeleton.up == "y"


# every shared clip exported onto every other axis, but those the cautious rule leaves as read (anatomy.up_axis):
# the elephants' idles, and the crab on -Z
EXPORTS = [(name, up) for name in SHARED_CLIPS if not name.startswith("Elephant")
           for up in ("z", "-z", "x", "-x", "-y") if (name, up) != ("Crabnew_Crab-dance-long", "-z")]


@pytest.mark.parametrize("name,up", EXPORTS)
def test_a_clip_exported_on_another_axis_stands_up_again(tmp_path, name, up):
    """A Z-up (or any-axis-up) export of a clip: read, it moves in the world as the clip does, with the same height,
    feet, travel and features, and knows which axis its file stood on."""
    m = read_motions(str(clip(name)))[0]
    path = tmp_path / "exported.bvh"
    path.write_bytes(bvh_bytes(on_axis(m, up)))
    r = read_motions(str(path))[0]
    assert r.skeleton.up == up
    h = anatomy.body_height(m)
    assert np.abs(r.world_positions() - m.world_positions()).max() < 1e-4 * h
    assert anatomy.body_height(r) == pytest.approx(h, rel=1e-4)
    assert names(r, anatomy.guess_contacts(r)) == FEET[name]
    a, b = feat.make_encoding(m), feat.make_encoding(r)
    assert names(m, a.joints) == names(r, b.joints) and b.travel == a.travel
    assert np.abs(feat.encode(m, a) - feat.encode(r, b)).max() < 1e-5


def bvh_bytes(m):
    from motionkit.formats import bvh

    return bvh.write([m])


def numbers(text: bytes) -> np.ndarray:
    return np.array([float(t) for t in text.split() if t.lstrip(b"-").replace(b".", b"").isdigit()])


@pytest.mark.parametrize("ext", [".npz", ".glb"])
def test_formats_that_say_y_is_up_are_taken_as_they_stand(tmp_path, ext):
    """NPZ (motionkit's own: every motion held +Y up) and glTF (+Y up by its rule) are not second-guessed: a motion
    standing on Z in such a file is read standing on Z (and reading a crowd's NPZ costs no axis search)."""
    m = on_axis(read_motions(str(clip("Xia_normal")))[0], "z")
    write_motions([m], str(tmp_path / f"z{ext}"))
    r = read_motions(str(tmp_path / f"z{ext}"))[0]
    assert r.skeleton.up == "y"
    h = anatomy.body_height(read_motions(str(clip("Xia_normal")))[0])
    assert np.abs(r.world_positions() - m.world_positions()).max() < 1e-3 * h


def test_a_z_up_file_is_written_back_z_up(tmp_path):
    """convert, and a model's samples, write BVH in the axes the clip's file had; NPZ keeps the axis too."""
    from motionkit import edit, modelfile
    from motionkit.formats import bvh
    from motionkit.model import Config, Model
    from motionkit.motion import UP_TURNS

    m = read_motions(str(clip("Xia_normal")))[0]
    src = tmp_path / "z.bvh"
    src.write_bytes(bvh_bytes(on_axis(m, "z")))
    run_cli("convert", src, tmp_path / "out.bvh")
    assert np.abs(numbers((tmp_path / "out.bvh").read_bytes()) - numbers(src.read_bytes())).max() < 2e-6
    run_cli("convert", src, tmp_path / "out.npz")
    again = read_motions(str(tmp_path / "out.npz"))[0]
    assert again.skeleton.up == "z"
    assert np.abs(again.world_positions() - m.world_positions()).max() < 1e-4 * anatomy.body_height(m)
    # a model of the Z-up clip (untrained: the axes do not depend on training) keeps the axis in its file
    held = read_motions(str(src))[0]
    model = modelfile.loads(modelfile.dumps(Model.from_clip(held.resampled(30), Config(iterations=[1] * 4))))
    assert model.enc.skeleton.up == "z"
    sample = edit.sample(model, 1, 40, 30.0, None, foot_fix=False)[0]
    written = bvh.read(bvh_bytes(sample), "sample.bvh")[0]  # the file as written, not stood up again
    q = np.asarray(UP_TURNS["z"])
    from motionkit import rotations as rot
    assert np.abs(rot.rotate(q, written.world_positions()) - sample.world_positions()).max() < 1e-4 * model.enc.height


def test_the_user_says_which_way_is_up_and_the_rig_keeps_it(tmp_path):
    """--up names the axis a file stands on where the search cannot tell (an idle that hardly moves); a model's
    later files of the same rig are read on its clip's axis; glTF carries the axis, so BVH from it is as the
    clip's file was."""
    from motionkit import modelfile
    from motionkit.model import Config, Model
    from motionkit.plugins._shared import read_source

    m = read_motions(str(clip("Elephant_idle1")))[0]
    src = tmp_path / "z.bvh"
    src.write_bytes(bvh_bytes(on_axis(m, "z")))
    h = anatomy.body_height(m)
    info = json.loads(run_cli("info", src, "--up", "z", "--json").stdout)
    assert info["up"] == "z"
    run_cli("convert", src, "--up", "z", tmp_path / "held.npz")
    held = read_motions(str(tmp_path / "held.npz"))[0]
    assert held.skeleton.up == "z"
    assert np.abs(held.world_positions() - m.world_positions()).max() < 1e-4 * h
    # a file of the model's rig, in a format with no up rule, is read on the axis the model's clip stood on
    model = modelfile.loads(modelfile.dumps(Model.from_clip(held.resampled(30), Config(iterations=[1] * 4))))
    given = read_source(str(src), model)
    assert given.skeleton.up == "z" and np.abs(given.world_positions() - m.world_positions()).max() < 1e-4 * h
    # .glb (+Y up, as glTF has it) remembers the axis: BVH written from it is the Z-up file again
    run_cli("convert", src, "--up", "z", tmp_path / "z.glb")
    run_cli("convert", tmp_path / "z.glb", tmp_path / "back.bvh")
    assert np.abs(numbers((tmp_path / "back.bvh").read_bytes()) - numbers(src.read_bytes())).max() < 1e-3 * h
    bad = run_cli("info", src, "--up", "w", check=False)
    assert bad.returncode != 0 and b"Traceback" not in bad.stderr


def test_resume_reads_the_clip_as_the_first_run_did(tmp_path, monkeypatch):
    """--resume stands the clip on the axis the model recorded (not a new guess, nor a new --up) and computes in
    the precision the first run resolved (not "auto" asked again on another machine)."""
    from motionkit import modelfile
    from motionkit.model import Config, Model
    from motionkit import train as train_engine
    from motionkit.plugins.train import TRAINING_OPTIONS, train_clip

    m = read_motions(str(clip("Elephant_idle1")))[0]
    src = tmp_path / "z.bvh"
    src.write_bytes(bvh_bytes(on_axis(m, "z")))
    held = read_motions(str(src), up="z")[0]
    model = Model.from_clip(held.resampled(30), Config(iterations=[1] * 4, precision="auto"),
                            provenance={"precision": "float32"})
    path = tmp_path / "z.mkm"
    path.write_bytes(modelfile.dumps(model))
    seen = {}

    class Seen(Exception):
        pass

    def fit(model, x, **kw):  # what training would start from; then stop
        seen.update(model=model, x=x)
        raise Seen

    monkeypatch.setattr(train_engine, "fit", fit)
    options = dict.fromkeys(TRAINING_OPTIONS)
    options.update(up="y", plots=False)  # a different word on resume does not change the clip's axis
    with pytest.raises(Seen):
        train_clip(str(src), str(path), options, resume=True, quiet=True)
    assert seen["model"].config.precision == "float32"
    assert np.allclose(seen["x"].numpy(), model.encode(held.resampled(30)).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", sorted(FEET))
def test_the_heading_is_a_turning_rate_where_the_clip_turns_steadily(name):
    """`train`'s default (--heading auto) decides from the motion: a turning rate where the clip turns one way
    through a full turn (the walk in a circle), the world frame where it turns to and fro or hardly at all — the same
    on a game rig, and the same clip spun steadily through two more turns becomes a steady turner."""
    from motionkit.edit import turned

    m = read_motions(str(clip(name)))[0].resampled(30)
    decided = feat.make_encoding(m, heading=None).heading
    assert decided == (name == "Joe_Walk-In-Circle")
    assert feat.make_encoding(rebuilt(m, "game_rig")[0], heading=None).heading == decided
    if name != "Joe_Salsa-Dancing-6":  # (its own turning, to and fro, outweighs two turns more)
        enc = feat.make_encoding(m)
        psi = feat.travel_headings(m, enc)
        way = 1.0 if psi[-1] >= psi[0] else -1.0
        spun = turned(m, enc, way * np.linspace(0.0, 4 * np.pi, m.frames))
        assert feat.make_encoding(spun, heading=None).heading


def test_the_heading_decision_is_a_plain_bool_a_model_file_can_hold():
    """The decision lands in the model's config and the file's JSON header: a Python bool, never numpy's."""
    m = read_motions(str(clip("Xia_normal")))[0]
    for psi in (feat.travel_headings(m, feat.make_encoding(m)), np.linspace(0.0, 4 * np.pi, 90)):
        assert type(feat.turns_steadily(psi)) is bool
    assert type(feat.make_encoding(m, heading=None).heading) is bool
