"""The GAN engine on the CPU in seconds: pyramid, skeleton convolution, training, model file, sampling."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import CLIPS, clip, run_cli

from motionkit import features as feat
from motionkit import gan, modelfile
from motionkit import rotations as rot
from motionkit.model import PRESETS, Config, Model, draw_noise, levels, pyramid_lengths, resize
from motionkit.train import Probe, fit
from motionkit.errors import MotionkitError
from motionkit.files import read_motions


def tiny(name="Joe_Salsa-Dancing-6", seconds=3.0, **cfg):
    m = read_motions(str(clip(name)))[0]
    m = m.slice(0, int(seconds * m.fps))
    config = Config.from_preset("fast", **{"iterations": [3] * 4, "batch": 2, "d_steps": 1, **cfg})
    model = Model.from_clip(m, config)
    x = model.encode(m)
    return m, model, x


def test_pyramid_lengths_match_ganimator_on_salsa():
    assert pyramid_lengths(648) == [129, 172, 229, 305, 406, 541, 648]
    assert levels(7) == [[0, 1], [2, 3], [4, 5], [6]]
    for t in (90, 200, 361, 1000):
        lengths = pyramid_lengths(t)
        assert lengths[-1] == t and all(b > a for a, b in zip(lengths, lengths[1:]))  # no duplicated last stage


def test_noise_amplitudes_are_rmse_and_never_zero():
    m, model, x = tiny(seconds=10)
    reals = [resize(x, n) for n in model.lengths]
    assert model.amplitudes[0] == pytest.approx(float(reals[0].pow(2).mean().sqrt()), rel=1e-5)
    up = resize(reals[2], model.lengths[3])
    assert model.amplitudes[3] == pytest.approx(float((up - reals[3]).pow(2).mean().sqrt()), rel=1e-5)
    assert all(a > 0 for a in model.amplitudes)
    assert model.z_star.shape == (1, x.shape[1], model.lengths[0])
    assert abs(float(model.z_star.mean())) < 0.2 and 0.8 < float(model.z_star.std()) < 1.2  # Gaussian, not U[0,1)


def test_skeleton_conv_sees_only_joints_within_distance_two():
    torch.manual_seed(0)
    parents = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8]
    neigh = gan.neighbourhoods(parents, [3, 6])
    assert 9 not in neigh[3] and 2 in neigh[3] and 1 in neigh[3] and 0 not in neigh[3]
    widths = [6] * 10 + [2, 3]
    conv = gan.SkeletonConv(neigh, widths, [5] * 12)
    x = torch.randn(2, sum(widths), 40)
    block = slice(15, 20)  # output block of joint 3

    def poke(joint):
        y = x.clone()
        y[:, joint * 6:(joint + 1) * 6] += torch.randn(2, 6, 40)
        return (conv(y)[:, block] - conv(x)[:, block]).abs().max().item()

    assert poke(9) == 0.0 and poke(0) == 0.0  # another chain, and three edges away: not seen
    assert poke(1) > 1e-3 and poke(2) > 1e-3 and poke(3) > 1e-3
    # the mask survives training: a gradient step leaves masked weights at zero
    conv(x).square().sum().backward()
    torch.optim.Adam(conv.parameters(), lr=0.1).step()
    assert float((conv.weight.data * (1 - conv.mask)).abs().max()) == 0.0 


def test_encoding_round_trip_and_rules():
    m = read_motions(str(clip("Joe_Salsa-Dancing-6")))[0]
    enc = feat.make_encoding(m)
    names = [m.skeleton.names[j] for j in enc.joints]
    assert not any("Index" in n or "Thumb" in n for n in names) and names[0].endswith("Hips")
    assert [m.skeleton.names[j] for j in enc.contacts] == ["mixamorig7:LeftToe_End", "mixamorig7:RightToe_End"]
    x = feat.encode(m, enc)
    assert x.shape == (648, enc.width) and np.allclose(x.mean(0), 0, atol=1e-6)
    back = feat.decode(x, enc)
    m30 = m.resampled(30)
    idx = enc.joints
    assert np.allclose(back.rotations[:, idx] * np.sign(back.rotations[:, idx, :1]),
                       m30.rotations[:, idx] * np.sign(m30.rotations[:, idx, :1]), atol=1e-6)
    assert np.allclose(back.root_translation, m30.root_translation, atol=1e-6 * enc.height)
    crab = read_motions(str(clip("Crabnew_Crab-dance-long")))[0]
    assert len(feat.make_encoding(crab).contacts) == 6


def test_steadying_the_heading_leaves_a_clip_and_removes_a_wobble():
    """A clip's heading has no frame-to-frame wobble: steadying it changes its body speed by under 1 %, its path
    and every other joint not at all. A wobble added to it (the hips swinging ±5° every other frame, as finer
    stages' corrections of a world-frame heading do) is taken out."""
    from motionkit import edit
    from motionkit.metrics import energy, feature_spec

    m = read_motions(str(clip("Joe_Salsa-Dancing-6")))[0].resampled(30)
    enc = feat.make_encoding(m)
    spec = feature_spec(m)
    steady = edit.steady_heading(m, enc)
    assert abs(energy(steady, spec)["body_speed"] / energy(m, spec)["body_speed"] - 1) < 0.01
    others = [j for j in range(len(m.skeleton)) if j != enc.travel]
    assert np.array_equal(steady.rotations[:, others], m.rotations[:, others])
    assert np.array_equal(steady.translations, m.translations)
    wobble = np.radians(5.0) * np.where(np.arange(m.frames) % 2, 1.0, -1.0)
    pq, _ = enc.parent_world()
    r = m.rotations.copy()
    r[:, enc.travel] = rot.multiply(rot.conjugate(pq), rot.multiply(feat.about_up(wobble),
                                                                     rot.multiply(pq, m.rotations[:, enc.travel])))
    shaky = m.replace(rotations=r)

    def turning(x):  # mean heading change per frame
        return np.abs(np.diff(feat.travel_headings(x, enc))).mean()

    assert turning(shaky) > 2 * turning(m)
    assert turning(edit.steady_heading(shaky, enc)) < 1.1 * turning(m)
    # the same clip on a rig whose hips' frame is turned half a turn about X at rest (the world motion the same,
    # the hips' own rotation upside down): steadied the same, not spun by an undefined twist
    flip = np.array([0.0, 1.0, 0.0, 0.0])
    sk, r, t = m.skeleton, m.rotations.copy(), m.translations.copy()
    offsets = sk.offsets.copy()
    r[:, 0] = rot.multiply(r[:, 0], flip)
    for k in [j for j in range(len(sk)) if sk.parents[j] == 0]:
        r[:, k] = rot.multiply(rot.conjugate(flip)[None], r[:, k])
        offsets[k], t[:, k] = rot.rotate(rot.conjugate(flip), offsets[k]), rot.rotate(rot.conjugate(flip)[None], t[:, k])
    flipped = m.replace(skeleton=dataclasses.replace(sk, offsets=offsets), rotations=r, translations=t)
    assert np.abs(flipped.world_positions() - m.world_positions()).max() < 1e-6 * sk.height()
    assert np.abs(edit.steady_heading(flipped, feat.make_encoding(flipped)).world_positions()
                  - steady.world_positions()).max() < 1e-6 * sk.height()


def test_a_frame_whose_6d_defines_no_rotation_does_not_snap():
    """A generator blending two facings passes the hips' first 6D column through zero (facing +X, then -X):
    decoding must not turn that into a half-turn snap in one frame; every other frame decodes as before."""
    m = read_motions(str(clip("Joe_Salsa-Dancing-6")))[0]
    enc = feat.make_encoding(m)
    raw = feat.encode(m, enc, normalise=False)
    bent = raw.copy()
    span = np.arange(300, 320)  # (an even count: no frame exactly at zero, where Gram-Schmidt gives NaN)
    s = np.linspace(0, 1, len(span) + 2)[1:-1, None]
    bent[span, 0:3] = (1 - 2 * s) * raw[span, 0:3]  # shrinks through zero, and out facing the other way
    bent[span[-1] + 1:, 0:3] *= -1  # (the first column reversed, the second kept: the same tilt, facing back)

    def turns(x, **kw):
        q = feat.decode((x - enc.mean) / enc.std, enc, **kw).rotations[:, enc.joints[0]]
        return np.degrees(2 * np.arccos(np.clip(np.abs(np.sum(q[1:] * q[:-1], -1)), 0, 1))), q

    snap, q_raw = turns(bent, floor=0.0)
    mended, q = turns(bent)
    clip_turns, _ = turns(raw)
    assert snap.max() > 150  # Gram-Schmidt alone: a half turn in one frame
    assert mended.max() < 1.05 * clip_turns.max()  # spread over the undefined frames: no faster than the clip
    far = np.r_[0:300, 320:len(q)]
    assert np.array_equal(q[far], q_raw[far])  # frames that were defined are untouched
    bent[310, 0:3] = 0.0  # a column exactly zero: a finite rotation from its neighbours, not NaN
    zero, _ = turns(bent)
    assert np.isfinite(zero).all() and zero.max() < 1.05 * clip_turns.max()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_tiny_training_has_finite_losses_and_falling_reconstruction(precision):
    m, model, x = tiny(iterations=[100, 1, 1, 1], batch=2, lambda_rec=[50.0, 75.0, 100.0, 100.0],
                       precision=precision)
    recs = []
    fit(model, x, progress=lambda level, it, total, losses: recs.append(
        {k: float(v) for k, v in losses.items()}) if level == 0 else None)
    assert all(np.isfinite(v) for r in recs for v in r.values())
    first, last = np.mean([r["rec"] for r in recs[:5]]), np.mean([r["rec"] for r in recs[-5:]])
    assert last < 0.8 * first, (first, last)
    assert model.trained_levels == 4


def test_save_load_is_bit_exact_and_sampling_deterministic():
    m, model, x = tiny()
    fit(model, x)
    data = modelfile.dumps(model)
    again = modelfile.loads(data)
    for g1, g2 in zip(model.generators, again.generators):
        for (k, a), (_, b) in zip(g1.state_dict().items(), g2.state_dict().items()):
            assert torch.equal(a, b), k
    a = model.generate(2, 200, torch.Generator().manual_seed(7))
    b = again.generate(2, 200, torch.Generator().manual_seed(7))
    c = again.generate(2, 200, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert modelfile.dumps(again) == data


def test_noise_is_one_value_per_frame_for_all_channels_unless_full():
    shape, g = (3, 10, 200), torch.Generator().manual_seed(0)
    z = draw_noise(Config.from_preset("fast"), shape, g)
    assert z.shape == shape and torch.equal(z, z[:, :1].expand(shape))  # GANimator's default
    assert not torch.equal(z[0], z[1]) and 0.8 < float(z.std()) < 1.2
    full = draw_noise(Config.from_preset("fast", noise="full"), shape, g)
    assert not torch.equal(full[:, 0], full[:, 1]) and 0.8 < float(full.std()) < 1.2


def test_model_file_without_a_noise_setting_samples_with_per_channel_noise():
    import io
    import json

    m, model, x = tiny()
    arrays = dict(np.load(io.BytesIO(modelfile.dumps(model)), allow_pickle=False))
    header = json.loads(bytes(arrays["header"]).decode())
    del header["config"]["noise"]  # as files written before the setting existed
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    old = modelfile.loads(buf.getvalue())
    assert old.config.noise == "full" and modelfile.loads(modelfile.dumps(model)).config.noise == "frame"


def test_model_file_from_before_the_heading_decodes_in_the_world_frame():
    """A model written before the travel joint's heading became a turning rate (no ``heading`` in its encoding or
    config) still loads, with the world-frame encoding it was trained with, and samples finite motion."""
    import io
    import json

    m = read_motions(str(clip("Joe_Salsa-Dancing-6")))[0].slice(0, 180)
    model = Model.from_clip(m, Config.from_preset("fast", iterations=[2] * 4, heading=False))
    arrays = dict(np.load(io.BytesIO(modelfile.dumps(model)), allow_pickle=False))
    header = json.loads(bytes(arrays["header"]).decode())
    del header["encoding"]["heading"], header["config"]["heading"]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    old = modelfile.loads(buf.getvalue())
    assert not old.enc.heading and old.enc.root_width == 3 and sum(old.widths) == old.enc.width
    assert not old.config.heading and not Config().heading and Config(heading=True).heading
    back = feat.decode(feat.encode(m, old.enc), old.enc)
    assert np.abs(back.root_translation - m.resampled(30).root_translation).max() < 1e-6 * old.enc.height
    x = old.generate(1, 90, torch.Generator().manual_seed(0))
    assert x.shape == (1, old.enc.width, 90) and torch.isfinite(x).all()


@pytest.mark.parametrize("window, precision", [(160, "float32"), (24, "float32"), (24, "bfloat16")])
def test_same_seed_same_model(window, precision):  # 160: the whole 3-s clip; 24: windows at levels 2-4
    _, m1, x1 = tiny(seed=3, window=window, precision=precision)
    _, m2, x2 = tiny(seed=3, window=window, precision=precision)
    fit(m1, x1)
    fit(m2, x2)
    assert modelfile.dumps(m1) == modelfile.dumps(m2)
    assert all(torch.isfinite(p).all() for g in m1.generators for p in g.parameters())


def test_bfloat16_training_runs_the_convolutions_in_bfloat16_and_keeps_the_model_float32(monkeypatch):
    convolve, seen = gan.F.conv1d, set()

    def spy(x, w, b=None, *args):
        y = convolve(x, w, b, *args)
        seen.add(y.dtype)
        return y

    monkeypatch.setattr(gan.F, "conv1d", spy)
    files = {}
    for precision in ("float32", "bfloat16"):
        seen.clear()
        _, model, x = tiny(precision=precision)
        fit(model, x)
        assert (torch.bfloat16 in seen) == (precision == "bfloat16")
        assert all(p.dtype == torch.float32 for g in model.generators for p in g.parameters())
        seen.clear()
        assert model.generate(1, 100, torch.Generator().manual_seed(0)).dtype == torch.float32
        assert seen == {torch.float32}  # sampling is float32 whatever the training was
        files[precision] = modelfile.dumps(model)
    assert files["float32"] != files["bfloat16"]  # the arithmetic differs, so the weights do


def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it_natively(monkeypatch):
    from motionkit.train import precision

    for avx512_bf16, amx, expected in [(False, False, torch.float32), (True, False, torch.bfloat16),
                                       (False, True, torch.bfloat16)]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert precision("auto", "cpu") == expected
        assert precision("float32", "cpu") == torch.float32 and precision("bfloat16", "cpu") == torch.bfloat16


def test_interrupted_training_resumes(tmp_path):
    m, model, x = tiny()

    def stop(level, it, total, losses):
        if level == 2:
            raise KeyboardInterrupt

    saved = []
    with pytest.raises(KeyboardInterrupt):
        fit(model, x, progress=stop, checkpoint=lambda mm: saved.append(modelfile.dumps(mm)))
    resumed = modelfile.loads(saved[-1])
    assert resumed.trained_levels == 2
    # what `train` promises after each level: the model on disk samples (coarser), full length, and says it is partial
    (tmp_path / "partial.mkm").write_bytes(saved[-1])
    r = run_cli("sample", "-m", tmp_path / "partial.mkm", "-n", "2", "--seconds", "2", "-o", tmp_path / "s.npz")
    assert b"partly trained (4 of 7 stages)" in r.stderr
    out = read_motions(str(tmp_path / "s.npz"))
    assert len(out) == 2 and out[0].frames == round(2 * out[0].fps) and np.isfinite(out[0].rotations).all()
    fit(resumed, x)
    assert resumed.trained_levels == 4


@pytest.mark.parametrize("data", [b"", b"junk" * 100, b"PK\x03\x04" + b"\0" * 60])
def test_corrupt_model_is_rejected(tmp_path, data):
    with pytest.raises(MotionkitError):
        modelfile.loads(data, "bad.mkm")
    path = tmp_path / "bad.mkm"
    path.write_bytes(data)
    proc = run_cli("sample", "-m", path, "-o", tmp_path / "x.bvh", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr.decode() and "bad.mkm" in proc.stderr.decode()


def test_truncated_model_is_rejected(tmp_path):
    m, model, x = tiny()
    data = modelfile.dumps(model)
    with pytest.raises(MotionkitError):
        modelfile.loads(data[: len(data) // 2])


@pytest.mark.parametrize("path", CLIPS, ids=[c.stem for c in CLIPS])
def test_every_clip_trains_and_samples_from_the_cli(tmp_path, path):
    model = tmp_path / "m.mkm"
    src = read_motions(str(path))[0]
    run_cli("train", path, "-o", model, "--frames", f"0:{min(src.frames, int(3 * src.fps))}",
            "--iterations", "1", "--batch", "1", "--d-steps", "1", cwd=tmp_path)
    assert (tmp_path / ".motionkit-model").read_text().strip() == str(model)
    from PIL import Image  # the training plot and the three-sample preview sit next to the model
    assert Image.open(tmp_path / "m-losses.png").size[0] > 300
    gif = Image.open(tmp_path / "m-preview.gif")
    seconds = min(src.frames, int(3 * src.fps)) / src.fps
    assert gif.size == (720, 300) and gif.n_frames == round(seconds * 10)  # the clip's length at 10 fps
    run_cli("sample", "-n", "2", "--seconds", "4", "--seed", "1", "-o", tmp_path / "s_%03d.bvh", cwd=tmp_path)
    run_cli("sample", "-n", "2", "--seconds", "4", "--seed", "1", "-o", tmp_path / "s.glb", cwd=tmp_path)
    out = read_motions(str(tmp_path / "s_001.bvh"))[0]
    assert out.skeleton.names == src.skeleton.names and out.skeleton.channels == src.skeleton.channels
    assert out.fps == src.fps and out.frames == int(4 * src.fps)
    glb = read_motions(str(tmp_path / "s.glb"))
    assert len(glb) == 2 and glb[0].frames == out.frames


def test_a_window_of_a_level_computes_exactly_what_the_whole_clip_would():
    """Windowed training runs each stage on a stretch of the clip: the frames it keeps must be the very frames a
    full-length pass gives (the margins cover the generators' reach, the resampling reads the right frames)."""
    from motionkit.train import _forward, _forward_windowed, _random_window, _run, windows

    m, model, x = tiny(seconds=8)
    reals = [resize(x, n) for n in model.lengths]
    torch.manual_seed(0)
    z = torch.randn(2, x.shape[1], model.lengths[0])
    every = _forward(model, range(model.n_stages), None, z, reals, noise=False)  # each stage, whole clip
    for stages in model.levels:
        prev = _run(model, range(stages[0]), z, reals, noise=False)
        full = _forward(model, stages, prev, z, reals, noise=False)
        for length in (5, 17, 40, 10 ** 6):
            spans = windows(model, stages, length, torch.Generator().manual_seed(length))
            parts = _forward_windowed(model, stages, spans, (prev, 0), z, noise=False)  # the reconstruction path
            for f, p, ((v0, v1), _) in zip(full, parts, spans):
                assert p.shape[-1] == v1 - v0 and torch.allclose(p, f[..., v0:v1], atol=1e-5)
            (a, b), _ = spans[-1]
            assert b - a == min(length, model.lengths[stages[-1]])
            # and the random path: every stage from the first computes only what the window needs
            same, parts = _random_window(model, stages, length, z, noise=False,
                                         rng=torch.Generator().manual_seed(length))
            assert same == spans
            for f, p, ((v0, v1), _) in zip(every[stages[0]:], parts, spans):
                assert p.shape[-1] == v1 - v0 and torch.allclose(p, f[..., v0:v1], atol=1e-5)
            path = windows(model, list(range(stages[-1] + 1)), length, torch.Generator().manual_seed(length))
            if length == 5 and stages[0] > 0:  # the frozen stages ran on part of the clip
                assert sum(hi - lo for _, (lo, hi) in path[:stages[0]]) < sum(model.lengths[:stages[0]])


def test_sampling_is_calibrated_to_move_as_much_as_the_clip():
    """After training, the first stage's sampling noise is set so that samples move as much as the clip (motion
    ratio — body speed, and root travel for a clip that travels — 1 within the bisection's tolerance, on samples
    twice the clip's length before the foot clean-up), and the model file keeps it."""
    from motionkit import edit
    from motionkit.metrics import energy, feature_spec
    from motionkit.metrics import Distances, coverage, features
    from motionkit.train import COVERAGE_GIVEN, calibrate, motion_ratio

    m = read_motions(str(clip("Xia_proud")))[0]
    # Without the coverage loss: a 60-iteration model trained with it moves, even at a quarter of the training noise,
    # more than the barely moving clip below (the temperature pinned to the search's floor, 0.25), and what is
    # tested here is the search, both ways.
    model = Model.from_clip(m, Config.from_preset("fast", iterations=[60, 20, 10, 10], batch=2, lambda_cover=[0.0]))
    saved = []  # what `motionkit train` writes: each checkpoint's file
    fit(model, model.encode(m), checkpoint=lambda mm: saved.append(modelfile.dumps(mm)))  # calibrates at the end
    t = model.temperature
    assert 0.25 <= t <= 2.0 and t != 1.0 and modelfile.loads(saved[-1]).temperature == t
    def ratio(temperature, reference=m):
        model.temperature = temperature
        ref = reference.resampled(30)
        spec = feature_spec(ref)
        out = edit.sample(model, 8, 2 * 82, 30.0, torch.Generator().manual_seed(0), foot_fix=False)
        return motion_ratio([energy(s, spec) for s in out], energy(ref, spec))

    def covered(temperature):
        model.temperature = temperature
        ref = m.resampled(30)
        spec = feature_spec(ref)
        out = edit.sample(model, 8, 2 * 82, 30.0, torch.Generator().manual_seed(0), foot_fix=False)
        return np.mean([coverage(Distances(features(ref, spec), features(s, spec))) for s in out])

    if 0.25 < t < 2.0:  # the clip's body speed reached, or as close as coverage allows (COVERAGE_GIVEN)
        assert abs(ratio(t) - 1.0) < 0.05 or (ratio(t) < 1.0 and covered(t) >= covered(1.0) - COVERAGE_GIVEN)
    assert ratio(0.5) <= ratio(1.0) <= ratio(1.5) <= ratio(2.0)  # the knob does what it says
    # The same samples against a clip that barely moves (each pose 2 % of the way from the first one to the
    # clip's): they now move too much, and the temperature goes below training's noise.
    still = m.replace(rotations=rot.slerp(np.broadcast_to(m.rotations[:1], m.rotations.shape), m.rotations, 0.02))
    assert ratio(1.0, still) > 1.0
    model.clip = still
    low = calibrate(model)
    assert 0.25 < low < 1.0 and abs(ratio(low, still) - 1.0) < 0.05
    model.clip = m
    assert calibrate(model) == t  # same model, same temperature


def test_the_contact_threshold_is_the_one_whose_cleaned_samples_cover_the_most():
    """After training, the label above which a foot counts as down (and is locked) is the candidate whose samples,
    feet cleaned up, cover the most of the clip, GANimator's 0.5 unless another covers more; the file keeps it.
    Against a clip whose feet are never still, every lock makes a still foot the clip does not have: the fewer
    locks, the better, and calibration moves the threshold up."""
    from motionkit import edit
    from motionkit.metrics import feature_spec, features, mean_coverage
    from motionkit.train import CONTACT_THRESHOLDS, calibrate_contacts

    m = read_motions(str(clip("Joe_Walk-In-Circle")))[0]
    model = Model.from_clip(m, Config.from_preset("fast", iterations=[120, 40, 20, 20], batch=2))
    saved = []
    fit(model, model.encode(m), checkpoint=lambda mm: saved.append(modelfile.dumps(mm)))

    def covers(threshold):
        clip30 = model.clip.resampled(model.enc.fps)
        spec = feature_spec(clip30)
        model.contact_threshold = threshold
        out = edit.sample(model, 8, 2 * clip30.frames, model.enc.fps, torch.Generator().manual_seed(model.config.seed))
        return mean_coverage(features(clip30, spec), out, spec)

    t = modelfile.loads(saved[-1]).contact_threshold
    assert t == model.contact_threshold and t in CONTACT_THRESHOLDS
    scores = {c: covers(c) for c in CONTACT_THRESHOLDS}
    assert scores[t] == max(scores.values()) and (t == 0.5 or scores[t] > scores[0.5]), scores
    assert calibrate_contacts(model) == t  # same model, same threshold
    model.clip = m.replace(translations=m.translations + np.arange(m.frames)[:, None, None] * 50.0)  # never still
    scores = {c: covers(c) for c in CONTACT_THRESHOLDS}
    assert calibrate_contacts(model) > 0.5 and scores[model.contact_threshold] > scores[0.5], scores


def test_checks_of_a_long_take_draw_fewer_samples():
    """Coverage checks (the stretch probe, both calibrations) cost a sample times the square of the clip's length:
    up to a minute at 30 fps they draw what they always drew (the same models), a longer take proportionally fewer,
    so that a check's cost grows with the take's length, not its square (down to one sample: past eight minutes)."""
    from motionkit.train import LONG_TAKE, draws

    assert draws(8, 82) == 8 and draws(12, 648) == 12 and draws(8, LONG_TAKE) == 8
    for minutes in (2, 5, 20):
        frames = minutes * LONG_TAKE
        assert draws(8, frames) >= 1 and draws(8, frames) * frames <= max(1.25 * 8 * LONG_TAKE, frames), minutes
    assert draws(12, 1_000_000) == 1


def test_warm_start_from_a_model_of_the_same_rig(tmp_path):
    """`train --init`: the new model encodes the base model's joints and feet and starts from its generators (one
    iteration later they are still the base's, give or take a step), not from random weights; a base of another
    skeleton is refused in one line."""
    run_cli("train", clip("Xia_normal"), "-o", tmp_path / "normal.mkm", "--iterations", "20", "--no-plots",
            "--seed", "1", cwd=tmp_path)  # another seed: its weights started elsewhere than the new model's would
    said = run_cli("train", clip("Xia_proud"), "-o", tmp_path / "warm.mkm", "--init", tmp_path / "normal.mkm",
                   "--iterations", "1", "--no-plots", cwd=tmp_path).stderr
    assert b"its heading and velocity in the world frame (as the --init model encodes it)" in said
    said = run_cli("train", clip("Xia_proud"), "-o", tmp_path / "cold.mkm", "--iterations", "1", "--no-plots",
                   cwd=tmp_path).stderr
    assert b"in the world frame (it spans " in said and b"not steadily one way through a full turn" in said
    base, warm, cold = (modelfile.loads((tmp_path / f"{n}.mkm").read_bytes()) for n in ("normal", "warm", "cold"))
    assert warm.enc.joints == base.enc.joints and warm.enc.contacts == base.enc.contacts
    assert warm.provenance["init"]["model"] == "normal.mkm"

    def distance(a, b):
        return max(float((p - q).abs().max()) for ga, gb in zip(a.generators, b.generators)
                   for p, q in zip(ga.parameters(), gb.parameters()))

    assert distance(warm, base) < 0.03 and distance(cold, base) > 0.1  # measured: 0.009 and 0.23
    r = run_cli("train", clip("Joe_Salsa-Dancing-6"), "-o", tmp_path / "x.mkm", "--init", tmp_path / "normal.mkm",
                "--iterations", "1", "--no-plots", cwd=tmp_path, check=False)
    assert r.returncode == 1 and b"its skeleton is not the clip's" in r.stderr and not (tmp_path / "x.mkm").exists()
    r = run_cli("train", clip("Xia_proud"), "-o", tmp_path / "y.mkm", "--init", tmp_path / "normal.mkm",
                "--heading", "rate", "--iterations", "1", "--no-plots", cwd=tmp_path, check=False)
    assert r.returncode == 1 and b"--heading rate cannot start from it" in r.stderr  # base: world
    assert b"Traceback" not in r.stderr and not (tmp_path / "y.mkm").exists()


def test_motion_ratio_counts_travel_only_for_a_clip_that_travels():
    """Calibration's measure: body speed alone for a clip that stays put; for one that travels, the geometric mean
    of body speed and root travel ratios (legs at the clip's pace over a sixth of its travel is no match)."""
    from motionkit.train import TRAVELS, motion_ratio

    walk = {"body_speed": 0.0087, "root_speed": 0.0152}  # Joe_Walk-In-Circle's, body heights per frame
    moonwalk = [{"body_speed": 0.0087 * 1.2, "root_speed": 0.0152 * 0.17}] * 3
    assert motion_ratio(moonwalk, walk) == pytest.approx((1.2 * 0.17) ** 0.5)
    idle = {"body_speed": 0.01, "root_speed": 0.01 * TRAVELS * 0.5}  # sways: its root drifts, it does not travel
    assert motion_ratio([{"body_speed": 0.012, "root_speed": 0.0}], idle) == pytest.approx(1.2)


@pytest.mark.parametrize("speed_at_1, coverage_slope, expected", [
    (0.7, 0.0, 1 / 0.7),        # more noise costs nothing: the temperature where body speed reaches 1
    (0.7, 0.3, 1 + 0.02 / 0.3),  # coverage falls 0.3 per unit of temperature: stop where 0.02 is given up
    (1.6, 0.3, 1 / 1.6),        # too much motion: the noise goes down, and coverage is not the limit
])
def test_calibration_buys_energy_but_not_with_coverage(speed_at_1, coverage_slope, expected):
    """The temperature search against a model whose body speed grows in proportion to the temperature and whose
    coverage falls linearly above 1 (the crab's shape: 0.74 at 1, 0.50 at the temperature matching its speed)."""
    from motionkit.train import COVERAGE_GIVEN, choose_temperature

    def measure(t):
        return speed_at_1 * t, 0.9 - coverage_slope * max(0.0, t - 1.0)

    t = choose_temperature(measure, steps=12)
    assert t == pytest.approx(expected, abs=2e-3)
    assert measure(t)[1] >= measure(1.0)[1] - COVERAGE_GIVEN - 1e-9


def _stops_at(coverage_at, budget=100, stretch=3.0, early=True):
    """Where a level stops under the probe's rule, given its coverage as a function of the iteration."""
    from motionkit.train import Probe

    probe = object.__new__(Probe)  # the rule alone: coverage is scripted
    probe.history, probe.early = [], early
    probe.coverage = lambda: coverage_at(it)
    it = 0
    while True:
        it += 1
        if not probe.after(it, budget, stretch):
            return it, probe.history


@pytest.mark.parametrize("curve, stop", [
    (lambda it: min(0.9, 0.4 + 0.002 * it), 275),  # rises 0.05 a quarter until 0.9 at 250: one flat quarter more
    (lambda it: 0.985, 75),                         # covered a quarter early: stops at that check
    (lambda it: 0.9 + 0.0002 * it, 100),            # gained 0.005 in the budget's last quarter: converged
    (lambda it: 0.3 + 0.001 * it, 300),             # still rising 0.025 a quarter: the stretch is the limit
    (lambda it: 0.8 - 0.0001 * it, 100),            # falling: stop at the budget
    (lambda it: min(0.8, 0.5 + 0.002 * it), 175),   # rising until 0.8 at 150: one flat quarter shows it
])
def test_a_level_trains_on_only_while_its_samples_cover_more(curve, stop):
    it, history = _stops_at(curve)
    assert it == stop, history
    assert [h[0] for h in history] == list(range(75, stop + 1, 25))


def test_the_coarse_level_trains_its_whole_budget_even_when_covered_early():
    it, history = _stops_at(lambda it: 0.985, early=False)
    assert it == 100 and [h[0] for h in history] == [75, 100]


def test_stretched_training_records_its_checks_and_stays_reproducible():
    """On a real clip: each level's checks (iteration, coverage) are kept in the model file, the level ends at a
    check or at the stretch, and the same seed gives the same bytes; stretch 1 trains exactly the budgets."""
    runs = []
    for _ in range(2):
        _, model, x = tiny(iterations=[8, 4, 4, 4], stretch=2.0)
        counts = {}
        fit(model, x, progress=lambda level, it, total, losses: counts.__setitem__(level, it))
        runs.append(modelfile.dumps(model))
        levels = model.provenance["levels"]
        assert sorted(levels) == ["1", "2", "3", "4"]
        for k, budget in zip("1234", [8, 4, 4, 4]):
            run, checks = levels[k]["iterations"], levels[k]["coverage"]
            assert counts[int(k) - 1] == run and budget - budget // 4 <= run <= 2 * budget
            assert checks[0][0] == budget - budget // 4 and all(0.0 <= c <= 1.0 for _, c in checks)
            assert run == checks[-1][0] or run == 2 * budget, (k, run, checks)
    assert runs[0] == runs[1]
    _, model, x = tiny(iterations=[5, 3, 3, 3], stretch=1.0)
    counts = {}
    fit(model, x, progress=lambda level, it, total, losses: counts.__setitem__(level, it))
    assert counts == {0: 5, 1: 3, 2: 3, 3: 3} and "levels" not in model.provenance


def test_a_level_whose_coverage_falls_ends_with_the_weights_of_its_best_check(monkeypatch):
    """Coverage can fall while a level trains on (the crab at batch 2: 0.914, then 0.756 at its last check): the
    level keeps the generators' weights of its best check, says so in the file, and keeps its last weights where
    the last check is within GAIN of the best."""
    scripted = iter([0.5, 0.9, 0.6] + [0.5, 0.5] * 3)  # level 1 (budget 8): checks at 6, 8, 10; then flat levels
    monkeypatch.setattr(Probe, "coverage", lambda self: next(scripted))
    _, model, x = tiny(iterations=[8, 4, 4, 4], stretch=2.0)
    weights = {}

    def progress(level, it, total, losses):
        if level == 0:
            weights[it] = [{k: v.clone() for k, v in model.generators[s].state_dict().items()} for s in (0, 1)]

    fit(model, x, progress=progress)
    levels = model.provenance["levels"]
    assert levels["1"]["coverage"] == [[6, 0.5], [8, 0.9], [10, 0.6]] and levels["1"]["kept"] == 8
    assert all("kept" not in levels[k] for k in "234")
    for s in (0, 1):
        now = model.generators[s].state_dict()
        assert all(torch.equal(now[k], weights[8][s][k]) for k in now)
        assert not all(torch.equal(now[k], weights[10][s][k]) for k in now)


def test_a_budget_the_user_sets_is_kept_unless_they_ask_for_a_stretch(tmp_path):
    """`--iterations N` trains exactly N per level (the README's quick first run must stay quick); `--stretch`
    with it lets levels go on, and says so; the preset's own stretch applies only to its own budgets."""
    salsa = clip("Joe_Salsa-Dancing-6")
    common = ("--frames", "0:90", "--batch", "1", "--d-steps", "1", "--no-plots")
    r = run_cli("train", salsa, "-o", tmp_path / "a.mkm", "--iterations", "4", "--precision", "float32", *common,
                cwd=tmp_path)
    a = modelfile.loads((tmp_path / "a.mkm").read_bytes())
    assert a.config.stretch == 1.0 and "levels" not in a.provenance
    assert not a.enc.heading and a.provenance["precision"] == "float32"  # the options reach the model
    assert b"heading and velocity in the world frame" in r.stderr and b"; float32 on cpu" in r.stderr
    r = run_cli("train", salsa, "-o", tmp_path / "b.mkm", "--iterations", "4", "--stretch", "2", "--heading", "rate",
                *common, cwd=tmp_path)
    b = modelfile.loads((tmp_path / "b.mkm").read_bytes())
    assert b.config.stretch == 2.0 and sorted(b.provenance["levels"]) == ["1", "2", "3", "4"]
    assert b.enc.heading and b"its heading a turning rate" in r.stderr
    # `info` on a model file says what the model is, from its header
    for name, model in (("a.mkm", a), ("b.mkm", b)):
        said = run_cli("info", tmp_path / name, cwd=tmp_path).stdout.decode()
        assert "4 of 4 trained" in said and f"temperature {model.temperature:g};" in said
        ran = [model.provenance.get("levels", {}).get(str(k), {}).get("iterations", 4) for k in range(1, 5)]
        assert ("as a turning rate" in said) == model.enc.heading
        assert f"iterations run {' / '.join(map(str, ran))} (budget 4 / 4 / 4 / 4)" in said
        got = json.loads(run_cli("info", tmp_path / name, "--json", cwd=tmp_path).stdout)
        assert got["contacts"] == [model.enc.skeleton.names[j] for j in model.enc.contacts]
        assert got["contact_threshold"] == model.contact_threshold and got["seed"] == 0
    # by what the file holds, not its name: a model on stdin, or under another name; and not mistaken for motions
    piped = run_cli("info", "-", "--json", input=(tmp_path / "a.mkm").read_bytes(), cwd=tmp_path)
    assert json.loads(piped.stdout)["temperature"] == a.temperature
    refused = run_cli("convert", tmp_path / "a.mkm", "-o", tmp_path / "a.bvh", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and b"a motionkit model file, not motions" in refused.stderr
    assert b"(up to 2x where samples still cover more of the clip, 3/4 where they cover 0.98 by then)" in r.stderr
    assert b"level 1/4: " in r.stderr and b"iterations (budget 4); coverage" in r.stderr
    said = f"sampling calibrated: temperature {b.temperature:g}, a foot is down where its label is above "
    assert (said + f"{b.contact_threshold:.3f}").encode() in r.stderr  # what the file holds, said at the end
    assert Config.from_preset("fast").stretch == PRESETS["fast"]["stretch"] == 2.0
    assert Config.from_preset("paper").stretch == Config.from_preset("ganimator").stretch == 1.0


def test_a_foot_sliding_at_the_contact_threshold_is_pulled_as_hard_as_one_sliding_fast():
    """The contact loss is the tip's speed where the label says 'down' (GANimator's), so its pull does not fade as
    the foot slows: a squared speed barely pulls at the threshold (0.01 body heights a frame), and feet skate."""
    from motionkit.train import ContactFK, contact_loss

    m, model, x = tiny(seconds=4)
    enc, fk = model.enc, ContactFK(model.enc)
    raw = (x[0].T * torch.tensor(enc.std, dtype=torch.float32) + torch.tensor(enc.mean, dtype=torch.float32))
    pose = raw[:1].repeat(40, 1)  # the clip's first pose held still...
    pose[:, 6 * len(enc.joints):6 * len(enc.joints) + len(enc.contacts)] = 1.0  # ...with every foot down

    def loss_and_pull(v):
        drift = torch.tensor(float(v), requires_grad=True)
        f = pose.clone()
        f[:, enc.root_slice.start] = drift  # the whole body slides v body heights a frame along x
        f[:, enc.root_slice.start + 2] = 0.0
        z = ((f - torch.tensor(enc.mean)) / torch.tensor(enc.std)).T[None].float()
        loss = contact_loss(fk, z)
        loss.backward()
        return loss.item(), drift.grad.item()

    assert not enc.fixed[enc.root_slice.start] and not enc.fixed[enc.root_slice.start + 2]
    slow, fast = loss_and_pull(0.01), loss_and_pull(0.1)
    assert slow[0] == pytest.approx(0.01 * torch.sigmoid(torch.tensor(6.0)).item(), rel=1e-3)
    assert fast[0] == pytest.approx(10 * slow[0], rel=1e-3)
    assert slow[1] == pytest.approx(fast[1], rel=1e-3) and slow[1] > 0.9


def _uncovered(sample: torch.Tensor, real: torch.Tensor, scale: torch.Tensor, width: int, eps: float) -> np.ndarray:
    """Oracle for the coverage loss, with ``metrics``' own window arithmetic: each of the clip's windows' distance
    to its nearest window of the sample, less ``eps`` where positive."""
    from motionkit.metrics import window_means

    c = scale.shape[0]
    a = (sample[0, :c] * scale).T.double().numpy()
    r = (real[0, :c] * scale).T.double().numpy()
    d = np.linalg.norm(r[:, None] - a[None], axis=-1)
    return np.maximum(window_means(d, width).min(axis=1) - eps, 0)


def test_the_coverage_loss_pulls_a_sample_toward_the_sections_it_leaves_out():
    """The coverage loss on Gangnam's coarse stage: zero for the clip itself and for the clip played in another
    order (every window is still there); for a sample that plays the first two thirds and repeats its start in place
    of the last third, it is the mean reach of the windows left out (metrics' window arithmetic as the oracle), and
    its gradient moves only the frames nearest those windows — the sections already covered stay free."""
    from motionkit.train import COVER_EPS, cover_loss

    m = read_motions(str(clip("Malcolm_Gangnam-Style")))[0]
    model = Model.from_clip(m, Config.from_preset("fast"))
    real = resize(model.encode(m), model.lengths[1])
    scale = torch.tensor(model.enc.std[:6 * len(model.enc.joints)], dtype=torch.float32)[:, None]
    n, w = real.shape[-1], 8
    assert cover_loss(real, real, scale, w, COVER_EPS) == 0
    rolled = torch.roll(real, n // 2, dims=-1)  # the clip's two halves swapped: every window is there but those
    seam = n - n // 2  # across the cut between them
    reach = _uncovered(rolled, real, scale, w, COVER_EPS)
    straddle = (np.arange(len(reach)) < seam) & (np.arange(len(reach)) + w > seam)
    assert (reach[~straddle] == 0).all() and reach[straddle].any()
    assert float(cover_loss(rolled, real, scale, w, COVER_EPS)) == pytest.approx(reach.mean(), rel=1e-4)
    third = n // 3
    dropped = real.clone()
    dropped[..., n - third:] = real[..., :third]  # the last section never played
    dropped.requires_grad_(True)
    loss = cover_loss(dropped, real, scale, w, COVER_EPS)
    oracle = _uncovered(dropped.detach(), real, scale, w, COVER_EPS)
    assert float(loss.detach()) == pytest.approx(oracle.mean(), rel=1e-4) and oracle.mean() > 0.05
    assert (oracle[: n - third - w] == 0).all() and (oracle[n - third:] > 0).mean() > 0.5  # the end is what is missing
    loss.backward()
    moved = dropped.grad.abs().sum(1)[0]
    assert float(moved[w:n - third - 2 * w].abs().sum()) < 0.05 * float(moved.sum())  # the middle stays free
    # and following the gradient covers the missing windows
    x = dropped.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.1)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        losses.append(cover_loss(x, real, scale, w, COVER_EPS))
        losses[-1].backward()
        opt.step()
    assert float(losses[-1].detach()) < 0.1 * float(losses[0].detach())
    assert _uncovered(x.detach(), real, scale, w, COVER_EPS).mean() < 0.1 * oracle.mean()


def test_the_coverage_loss_is_a_setting_of_the_coarse_level_and_of_the_model_file(monkeypatch):
    """``fast`` weighs the coverage loss at the coarse level only: every iteration where that level trains on the whole
    clip (Gangnam's 98-frame coarse stage), and where it trains on windows (Salsa's 172 frames on 160-frame
    windows) every k-th iteration on a pass over the stages' whole length, k the windows the last stage holds. The
    paper's and GANimator's presets do not use it, a take too long for its distances goes without it, and a model
    file written before it existed trains on as it was trained (none)."""
    import io

    from motionkit import train
    from motionkit.train import cover_every, cover_weights

    assert Config.from_preset("fast").lambda_cover[0] > 0 and not any(Config.from_preset("fast").lambda_cover[1:])
    assert not any(Config.from_preset("paper").lambda_cover) and not any(Config.from_preset("ganimator").lambda_cover)
    for name, every in (("Malcolm_Gangnam-Style", 1), ("Joe_Salsa-Dancing-6", 2)):
        model = Model.from_clip(read_motions(str(clip(name)))[0], Config.from_preset("fast"))
        assert cover_weights(model) == [5.0, 0, 0, 0] and cover_every(model, model.levels[0]) == every, name
    seen, compared = [], []
    loss = train.cover_loss
    monkeypatch.setattr(train, "cover_loss", lambda fake, real, *a: compared.append(
        (fake.shape[-1], real.shape[-1])) or loss(fake, real, *a))
    for window in (0, 20):  # the tiny clip's coarse level whole, then on windows shorter than its last stage
        m, model, x = tiny(iterations=[4, 1, 1, 1], window=window)
        every = cover_every(model, model.levels[0])
        assert every == (1 if window == 0 else -(-model.lengths[1] // window)) and (window == 0 or every > 1)
        seen.clear(), compared.clear()
        fit(model, x, progress=lambda level, it, total, losses: seen.append((level, it, "cover" in losses)))
        assert {lv for lv, _, has in seen if has} == {0}  # the coarse level, not the finer ones
        assert [it for lv, it, has in seen if lv == 0 and not has] == list(range(1, every))  # until the first pass
        whole = [(model.lengths[s], model.lengths[s]) for s in model.levels[0]]
        assert compared == whole * (4 // every), window  # whole-length sequences, every k-th iteration
    # a take so long that its distances would not fit (here: any take) is not weighed at all
    monkeypatch.setattr(train, "COVER_MOST", 2 * model.lengths[1] ** 2 - 1)
    seen.clear(), compared.clear()
    m, model, x = tiny(iterations=[2, 1, 1, 1])
    fit(model, x, progress=lambda level, it, total, losses: seen.append((level, it, "cover" in losses)))
    assert cover_every(model, model.levels[0]) == 0 and not compared and not any(has for *_, has in seen)
    again = modelfile.loads(modelfile.dumps(model))
    assert again.config.lambda_cover == model.config.lambda_cover
    arrays = dict(np.load(io.BytesIO(modelfile.dumps(model)), allow_pickle=False))
    header = json.loads(bytes(arrays["header"]).decode())
    del header["config"]["lambda_cover"]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    assert modelfile.loads(buf.getvalue()).config.lambda_cover == [0.0]
