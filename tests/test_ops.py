"""Operations without retraining (crowd, inpaint, compose, expand, restyle, body parts), through the installed
command, checked numerically on real clips with a small model trained here."""
import numpy as np
import pytest
from conftest import clip, require_clients, run_cli
from gltf_validator import validate, validator_dir

from motionkit import modelfile, placement
from motionkit.features import travel_headings
from motionkit.model import Config, Model
from motionkit.train import fit
from motionkit.files import read_motions

SALSA = clip("Joe_Salsa-Dancing-6")


def _salsa_model(tmp_path_factory, **cfg):
    m = read_motions(str(SALSA))[0].slice(0, 300)
    config = Config.from_preset("fast", iterations=[30, 20, 10, 5], batch=2, d_steps=1, **cfg)
    model = Model.from_clip(m, config)
    x = model.encode(m)
    fit(model, x)
    path = tmp_path_factory.mktemp("model") / "salsa.mkm"
    path.write_bytes(modelfile.dumps(model))
    return path


@pytest.fixture(scope="module")
def salsa_model(tmp_path_factory):
    return _salsa_model(tmp_path_factory)


@pytest.fixture(scope="module")
def salsa_heading_model(tmp_path_factory):
    """Its samples start at the clip's first heading, whatever the given motion's: the joins must turn them."""
    return _salsa_model(tmp_path_factory, heading=True)


def world(m):
    return m.world_positions()


def speeds(m):
    return np.linalg.norm(np.diff(world(m), axis=0), axis=-1).max(axis=1)  # (T-1,) fastest joint per frame


@pytest.mark.parametrize("model", ["salsa_model", "salsa_heading_model"])
def test_inpaint_keeps_the_rest_and_joins_without_a_pop(model, tmp_path, request):
    out, source = tmp_path / "inpaint.bvh", tmp_path / "source.bvh"
    run_cli("convert", SALSA, "--frames", "500:1100", "-o", source)  # starts facing elsewhere than the clip
    run_cli("inpaint", source, "--frames", "100:160", "--frames", "400:450", "-m", request.getfixturevalue(model),
            "--seed", "3", "-o", out)
    src, got = read_motions(str(source))[0], read_motions(str(out))[0]
    assert got.frames == src.frames and got.fps == src.fps
    kept = np.ones(src.frames, bool)
    kept[100:160] = kept[400:450] = False
    h = src.skeleton.height()
    err = np.linalg.norm(world(got) - world(src), axis=-1).max(axis=1)
    assert err[kept].max() < 1e-4 * h  # BVH text precision
    assert err[110:150].max() > 1e-3 * h  # the interval really is new
    # no pop where the new frames meet the old: the fastest joint stays within the source's own range
    limit = 1.5 * speeds(src).max()
    for edge in (100, 160, 400, 450):
        assert speeds(got)[edge - 3:edge + 3].max() < limit
    # nor a turn: the new frames face where the old ones do (a model encoding the heading as a turning rate
    # starts its samples at its clip's first heading, 60 degrees from this source's)
    enc = modelfile.loads(request.getfixturevalue(model).read_bytes()).enc
    turning = np.abs(np.diff(travel_headings(got, enc)))
    for edge in (100, 160, 400, 450):
        assert turning[edge - 8:edge + 8].max() < 1.5 * np.abs(np.diff(travel_headings(src, enc))).max()


@pytest.mark.parametrize("model", ["salsa_model", "salsa_heading_model"])
def test_compose_places_the_roi_at_the_requested_frames(model, tmp_path, request):
    out = tmp_path / "compose.npz"
    run_cli("compose", "--roi", "120:180", "--at", "40,300", "--length", "420", "-m",
            request.getfixturevalue(model), "--seed", "1", "-o", out)
    src, got = read_motions(str(SALSA))[0], read_motions(str(out))[0]
    assert got.frames == 420 and got.fps == src.fps
    assert got.metadata["kept_frames"] == list(range(40, 100)) + list(range(300, 360))
    for start in (40, 300):
        window = got.slice(start, start + 60)
        roi = src.slice(120, 180)
        assert np.allclose(window.rotations, roi.rotations, atol=1e-6) or \
            np.allclose(np.abs((window.rotations * roi.rotations).sum(-1)), 1, atol=1e-6)
        # the ROI's own movement over the ground, wherever the generated path brought it
        d_got = np.diff(window.root_translation, axis=0)
        d_roi = np.diff(roi.root_translation, axis=0)
        assert np.allclose(d_got, d_roi, atol=1e-4 * src.skeleton.height())


def test_compose_refuses_bad_placements(salsa_model):
    for args, words in [(("--roi", "120:180", "--at", "40,70"), "overlap"),
                        (("--roi", "120:180", "--at", "290", "--length", "300"), "past the output"),
                        (("--roi", "90:60"), "selects no frames")]:
        if "--at" not in args:
            args = args + ("--at", "0")
        proc = run_cli("compose", *args, "-m", salsa_model, "-o", "-", check=False)
        err = proc.stderr.decode()
        assert proc.returncode != 0 and words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_expand_keeps_the_source_in_the_middle(salsa_model, tmp_path):
    src = read_motions(str(SALSA))[0].slice(0, 200)
    part = tmp_path / "part.bvh"
    run_cli("convert", SALSA, "--frames", "0:200", "-o", part)
    out = tmp_path / "expand.bvh"
    run_cli("expand", part, "--before", "2s", "--after", "45", "-m", salsa_model, "--seed", "2", "-o", out)
    got = read_motions(str(out))[0]
    before = int(round(2 * src.fps))
    assert got.frames == before + 200 + 45
    middle = got.slice(before, before + 200)
    assert np.abs(world(middle) - world(src)).max() < 1e-4 * src.skeleton.height()
    assert speeds(got)[before - 3:before + 3].max() < 1.5 * speeds(src).max()


def test_body_part_keeps_the_lower_body(salsa_model, tmp_path):
    out = tmp_path / "keep.npz"
    run_cli("sample", "--keep", "lower", "-n", "2", "-m", salsa_model, "--seed", "4", "-o", out)
    clip300 = read_motions(str(SALSA))[0].slice(0, 300)
    got = read_motions(str(out))
    names = clip300.skeleton.names
    legs = [names.index(n) for n in names if "Leg" in n or "Foot" in n or "Toe" in n or n.endswith("Hips")]
    arms = [names.index(n) for n in names if "Arm" in n]
    for m in got:
        assert m.frames == 300
        assert np.abs(world(m)[:, legs] - world(clip300)[:, legs]).max() < 1e-4 * clip300.skeleton.height()
    assert np.abs(world(got[0])[:, arms] - world(got[1])[:, arms]).max() > 1e-3 * clip300.skeleton.height()


def test_crowd_one_scene_no_overlaps(salsa_model, tmp_path):
    out = tmp_path / "crowd.npz"
    run_cli("crowd", "-n", "9", "--seconds", "4", "--layout", "circle", "-m", salsa_model, "--seed", "5", "-o", out)
    got = read_motions(str(out))
    assert len(got) == 9 and all(m.frames == 120 for m in got)
    assert placement.overlapping(got) == []
    # independently of the layout's boxes: no joint of one character, on any frame, comes within --spacing of any
    # joint of another on any frame (the footprints over time never meet)
    spaced = tmp_path / "spaced.npz"
    run_cli("crowd", "-n", "6", "--seconds", "2", "--layout", "random", "--spacing", "0.5", "-m", salsa_model,
            "--seed", "3", "-o", spaced)
    chars = read_motions(str(spaced))
    pts = [m.world_positions()[::4, :, [0, 2]].reshape(-1, 2) * 0.01 for m in chars]  # cm → m
    for i in range(len(pts)):
        for k in range(i + 1, len(pts)):
            d = np.sqrt(((pts[i][:, None] - pts[k][None]) ** 2).sum(-1)).min()
            assert d >= 0.5 - 1e-6, (i, k, d)
    glb = tmp_path / "crowd.glb"
    run_cli("crowd", "-n", "4", "--seconds", "2", "-m", salsa_model, "--seed", "5", "-o", glb)
    back = read_motions(str(glb))
    assert len(back) == 4 and placement.overlapping(back) == []


def test_crowd_sampling_in_threads_and_bfloat16(salsa_model):
    """A crowd's samples are finished (decoded, feet locked) in torch's threads: the result is the serial one; the
    world transforms handed to the placement are the finished motions' own; --precision bfloat16 stays within a
    fraction of a percent of float32."""
    import torch
    from motionkit import edit
    from motionkit.footfix import fix_feet
    model = modelfile.loads(salsa_model.read_bytes())
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got, worlds = edit.sample_with_world(model, 8, 90, None, torch.Generator().manual_seed(4))
        x = edit.synthesize(model, 8, edit.model_frames(model, 90, model.source_fps), torch.Generator().manual_seed(4))
        bf, _ = edit.sample_with_world(model, 8, 90, None, torch.Generator().manual_seed(4), precision="bfloat16")
    finally:
        torch.set_num_threads(threads)
    serial = [fix_feet(m) for m in edit.to_motions(model, x, model.source_fps, 90)]
    h = serial[0].skeleton.height()
    for m, s, (wr, wp) in zip(got, serial, worlds):
        assert np.array_equal(m.rotations, s.rotations) and np.array_equal(m.translations, s.translations)
        assert np.abs(wp - m.world_positions()).max() < 1e-9 * h
    gap = np.mean([np.linalg.norm(world(a) - world(b), axis=-1).mean() for a, b in zip(bf, got)])
    assert 0 < gap < 0.01 * h, gap / h
    assert bf[0].metadata["precision"] == "bfloat16" and "precision" not in got[0].metadata


def test_restyle_needs_the_same_skeleton(salsa_model):
    proc = run_cli("restyle", clip("Xia_normal"), "-m", salsa_model, "-o", "-", check=False)
    err = proc.stderr.decode()
    assert proc.returncode != 0 and "does not match" in err and "Xia_normal" in err and "Traceback" not in err


def test_restyle_xia_normal_with_a_proud_model(tmp_path):
    proud = read_motions(str(clip("Xia_proud")))[0]
    config = Config.from_preset("fast", iterations=[20, 10, 5, 5], batch=2, d_steps=1)
    model = Model.from_clip(proud, config)
    x = model.encode(proud)
    fit(model, x)
    path = tmp_path / "proud.mkm"
    path.write_bytes(modelfile.dumps(model))
    out = tmp_path / "restyled.bvh"
    run_cli("restyle", clip("Xia_normal"), "-m", path, "--seed", "1", "-o", out)
    normal, got = read_motions(str(clip("Xia_normal")))[0], read_motions(str(out))[0]
    assert got.frames == normal.frames and got.skeleton.names == normal.skeleton.names
    assert np.allclose(got.root_translation[0, [0, 2]], normal.root_translation[0, [0, 2]])
    # --stage: the later the content joins, the more of it the result keeps (frame by frame, in pose features)
    from motionkit.metrics import feature_spec, features
    late = tmp_path / "late.bvh"
    run_cli("restyle", clip("Xia_normal"), "-m", path, "--seed", "1", "--stage", "5", "-o", late)
    spec = feature_spec(normal)
    content = features(normal, spec)
    away = {k: float(np.linalg.norm(features(read_motions(str(f))[0], spec) - content, axis=1).mean())
            for k, f in (("stage 1", out), ("stage 5", late))}
    assert 0 < away["stage 5"] < away["stage 1"], away
    # the content: the path travelled is the content's (same direction and distance within a fifth)
    travel = lambda m: m.root_translation[-1, [0, 2]] - m.root_translation[0, [0, 2]]  # noqa: E731
    assert np.linalg.norm(travel(got) - travel(normal)) < 0.2 * np.linalg.norm(travel(normal))


@pytest.mark.skipif(validator_dir() is None and not require_clients(),
                    reason="gltf-validator not installed (.ci/run installs it)")
def test_crowd_and_pipe_outputs_validate(salsa_model, tmp_path):
    crowd = tmp_path / "crowd.gltf"
    run_cli("crowd", "-n", "5", "--seconds", "2", "--layout", "random", "-m", salsa_model, "-o", crowd)
    sampled = run_cli("sample", "-m", salsa_model, "-n", "1", "--seconds", "12", "-o", "-").stdout
    inpainted = run_cli("inpaint", "-", "-m", salsa_model, "--frames", "200:260", "-o", "-", input=sampled).stdout
    final = tmp_path / "final.glb"
    run_cli("convert", "-", "-o", final, input=inpainted)
    for report in validate(crowd, final):
        assert report["errors"] == 0 and report["warnings"] == 0, report


def test_operations_chain_in_a_pipe(salsa_model, tmp_path):
    sampled = run_cli("sample", "-m", salsa_model, "-n", "1", "--seconds", "12", "--seed", "1", "-o", "-").stdout
    inpainted = run_cli("inpaint", "-", "-m", salsa_model, "--frames", "200:260", "-o", "-", input=sampled).stdout
    out = tmp_path / "final.glb"
    run_cli("convert", "-", "-o", out, input=inpainted)
    got = read_motions(str(out))[0]
    (tmp_path / "sampled.npz").write_bytes(sampled)
    before = read_motions(str(tmp_path / "sampled.npz"))[0]
    assert got.frames == before.frames == 360
    err = np.linalg.norm(world(got) - world(before), axis=-1).max(axis=1)
    h = before.skeleton.height()
    assert err[:200].max() < 1e-4 * h and err[260:].max() < 1e-4 * h and err[210:250].max() > 1e-3 * h


def test_eval_samples_the_model_against_its_clip(salsa_model):
    import json

    report = json.loads(run_cli("eval", "-m", salsa_model, "-n", "3", "--length", "2x", "--json").stdout)
    assert len(report["per_sample"]) == 3
    assert all(p["frames_30fps"] == 300 for p in report["per_sample"])  # 2 × the 300-frame (60 fps) clip
    assert report["reference_frames_30fps"] == 150
    assert 0.0 <= report["coverage"] <= 1.0 and report["inter_diversity"] > 0


def test_preview_shows_an_operations_kept_frames(salsa_model, tmp_path):
    from PIL import Image

    out = tmp_path / "compose.npz"
    run_cli("compose", "--roi", "0:60", "--at", "0", "--length", "120", "-m", salsa_model, "-o", out)
    gif = tmp_path / "compose.gif"
    run_cli("preview", out, "--fps", "10", "-o", gif)  # the clip is 60 fps: frame k of the GIF is frame 6k
    im = Image.open(gif)
    assert im.n_frames == 20
    for k in (1, 8, 14, 18):
        im.seek(k)
        rgb = np.asarray(im.convert("RGB"), np.int16)
        grey = int((np.abs(rgb - np.array([0x9a, 0x9a, 0x9a])).max(axis=-1) <= 14).sum())
        assert (grey > 600) == (6 * k < 60), (k, grey)  # placed ROI grey, generated frames not


@pytest.mark.parametrize("seconds", [2, 6, 20, 60])
def test_the_design_cards_lines_work_verbatim(tmp_path, seconds):
    """After `motionkit train dance.bvh` (here: a quick one) on a clip of 2 s to 60 s, the design card's lines as
    typed. Shared clips are at most 21 s long: the 60-s take is the bundled dancer."""
    if seconds <= 20:
        run_cli("convert", SALSA, "--frames", f"0:{seconds * 60}", "-o", tmp_path / "dance.bvh")  # Salsa: 60 fps
    else:
        run_cli("example", "--seconds", str(seconds), "--fps", "60", "-o", tmp_path / "dance.bvh")
    run_cli("train", "dance.bvh", "--iterations", "2", "--batch", "1", "--d-steps", "1", "--no-plots", cwd=tmp_path)
    proc = run_cli("compose", "--roi", "120:180", "--at", "40,300", cwd=tmp_path)  # a pipe: NPZ out
    (tmp_path / "composed.npz").write_bytes(proc.stdout)
    composed = read_motions(str(tmp_path / "composed.npz"))[0]
    src = read_motions(str(tmp_path / "dance.bvh"))[0]
    assert composed.frames == max(src.frames, 300 + 2 * 60) and composed.metadata["at"] == [40, 300]
    first, second = composed.slice(40, 100), composed.slice(300, 360)
    assert np.allclose(first.rotations[:, 1:], second.rotations[:, 1:], atol=1e-9)  # two copies of one ROI
    if src.frames >= 180:  # the ROI is the clip's own frames
        assert np.allclose(np.abs((first.rotations * src.slice(120, 180).rotations).sum(-1)), 1, atol=1e-5)
    else:  # the clip is grown by the model to hold the ROI, and compose says so
        assert "motion expansion" in proc.stderr.decode()
    if composed.frames > src.frames:
        assert "--length sets it" in proc.stderr.decode()
    run_cli("crowd", "-n", "50", "-o", "crowd.gltf", cwd=tmp_path)
    crowd = read_motions(str(tmp_path / "crowd.gltf"))
    assert len(crowd) == 50 and placement.overlapping(crowd) == [] and crowd[0].frames == src.frames
