"""`motionkit export`: the model as an ONNX graph, run by the real client (onnxruntime), against torch."""
import json

import numpy as np
import pytest
import torch
from conftest import clip, require_clients, run_cli, run_process

from motionkit import features as feat
from motionkit import modelfile
from motionkit.files import read_motions
from motionkit.model import Config, Model, draw_noise
from motionkit.train import fit


def need_onnx():
    """onnx and onnxruntime are the [onnx] extra: without them these tests skip, except in CI (.ci/run installs
    them), where a missing one is a failure."""
    if require_clients():
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    pytest.importorskip("onnx", reason="pip install 'motionkit[onnx]' (.ci/run installs it)")
    return pytest.importorskip("onnxruntime", reason="pip install 'motionkit[onnx]' (.ci/run installs it)")


@pytest.fixture(scope="module", params=[("Elephant_idle1", "frame"), ("Joe_Salsa-Dancing-6", "full")],
                ids=["elephant-six-channels", "salsa-full-noise"])
def trained(request, tmp_path_factory):
    """A briefly trained model: the elephant (every joint six channels, offsets that move: modelled), and a Salsa
    excerpt with per-channel noise (the graph's noise input then has every channel)."""
    name, noise = request.param
    m = read_motions(str(clip(name)))[0].slice(0, 240)
    model = Model.from_clip(m, Config.from_preset("fast", iterations=[20, 10, 5, 5], batch=2, d_steps=1,
                                                  noise=noise))
    fit(model, model.encode(m))
    path = tmp_path_factory.mktemp("export") / f"{name}.mkm"
    path.write_bytes(modelfile.dumps(model))
    return path, model


def world_positions(rotations, translations, parents):
    """Forward kinematics from local rotation matrices and translations (written here, not motionkit's)."""
    t, j = rotations.shape[:2]
    wr, wp = np.zeros((t, j, 3, 3)), np.zeros((t, j, 3))
    for k in range(j):
        p = parents[k]
        if p < 0:
            wr[:, k], wp[:, k] = rotations[:, k], translations[:, k]
        else:
            wr[:, k] = wr[:, p] @ rotations[:, k]
            wp[:, k] = wp[:, p] + np.einsum("tab,tb->ta", wr[:, p], translations[:, k])
    return wp


@pytest.mark.parametrize("frames", [None, 301])
def test_onnxruntime_reproduces_torch(trained, tmp_path, frames):
    ort = need_onnx()
    path, model = trained
    out = tmp_path / "m.onnx"
    r = run_cli("export", "-m", str(path), "-o", str(out))
    assert b"checked with onnxruntime" in r.stderr
    side = json.loads((tmp_path / "m.json").read_text())
    assert side["skeleton"]["names"] == model.enc.skeleton.names and side["fps"] == model.enc.fps

    frames = frames or model.lengths[-1]
    first = max(3, round(side["pyramid"][0] * frames / side["pyramid"][-1]))  # the JSON's rule
    assert first == model.stage_lengths(frames)[0]
    noise = draw_noise(model.config, (3, sum(model.widths), first), rng=torch.Generator().manual_seed(7))
    ours = model.generate(3, frames, torch.Generator().manual_seed(7))  # draws that same noise first
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    given = noise if model.config.noise == "full" else noise[:, :1]
    assert session.get_inputs()[0].shape[1] == given.shape[1]
    got = dict(zip([o.name for o in session.get_outputs()],
                   session.run(None, {"noise": given.numpy(), "frames": np.array([frames], np.int64)})))
    assert got["features"].shape == (3, sum(model.widths), frames)
    assert np.abs(got["features"] - ours.numpy()).max() < 1e-4
    height = model.enc.height
    parents = model.enc.skeleton.parents
    for i in range(3):
        m = feat.decode(ours[i].T.numpy(), model.enc, contact_threshold=model.contact_threshold)
        ort_world = world_positions(got["rotations"][i].astype(np.float64), got["translations"][i], parents)
        assert np.abs(ort_world - m.world_positions()).max() < 1e-4 * height
        labels = np.stack([m.metadata["contacts"][model.enc.skeleton.names[j]] for j in model.enc.contacts], 1)
        assert (got["contacts"][i] == labels.astype(bool)).mean() > 0.99  # a label at exactly the threshold may flip


def test_export_refuses_what_it_cannot_do(trained, tmp_path):
    need_onnx()
    path, model = trained
    r = run_process("export", "-m", str(path), "-o", str(tmp_path / "m.bvh"), check=False)
    assert r.returncode == 1 and b"*.onnx" in r.stderr and b"Traceback" not in r.stderr
    partial = Model(model.enc, model.lengths, model.amplitudes, model.z_star, model.config, model.generators,
                    trained_levels=1, provenance=model.provenance, clip=model.clip)
    (tmp_path / "partial.mkm").write_bytes(modelfile.dumps(partial))
    r = run_process("export", "-m", str(tmp_path / "partial.mkm"), "-o", str(tmp_path / "p.onnx"), check=False)
    assert r.returncode == 1 and b"partly trained" in r.stderr and not (tmp_path / "p.onnx").exists()
    model_copy = tmp_path / "same.onnx"
    model_copy.write_bytes(path.read_bytes())  # an input that happens to be named .onnx: never overwritten
    r = run_process("export", "-m", str(model_copy), "-o", str(model_copy), check=False)
    assert r.returncode == 1 and model_copy.read_bytes() == path.read_bytes()
