"""Latency of everything a trained model does, on Salsa, on the CPU (what an editing session waits for).

    python bench/ops.py [--model salsa.mkm] [--threads 2]

Without --model a model is made with 2 iterations per level (the forward cost does not depend on training).
Times are medians of repeats after one warm-up, model already loaded; one thread pool of --threads.
"""
from __future__ import annotations

import argparse
import io
import os
import pathlib
import statistics
import sys
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("MOTIONKIT_SHARED_DATA", ROOT.parent / "shared" / "data" / "bvh"))


def median_ms(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main():
    from motionkit import edit, modelfile, placement
    from motionkit.anatomy import body_height
    from motionkit.model import Config, Model
    from motionkit.train import fit, precision
    from motionkit.footfix import fix_feet, fix_feet_world
    from motionkit.formats import gltf
    from motionkit.files import read_motions
    from motionkit.motion import world_transforms_many

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    salsa = read_motions(str(SHARED / "Joe_Salsa-Dancing-6.bvh"))[0].resampled(30)
    if args.model:
        model = modelfile.loads(pathlib.Path(args.model).read_bytes())
    else:
        cfg = Config.from_preset("fast", iterations=[2] * 4, batch=1, d_steps=1)
        model = Model.from_clip(salsa, cfg)
        x = model.encode(salsa)
        fit(model, x)
    g = torch.Generator().manual_seed(0)
    r = args.repeats
    rows = []

    def row(name, ms, target=""):
        rows.append((name, ms, target))
        print(f"| {name} | {ms:.1f} ms | {target} |", flush=True)

    print(f"| operation (Salsa model, {args.threads} threads) | median | target |\n|---|---|---|")
    row("sample: forward pass, 1 × 600 frames", median_ms(lambda: model.generate(1, 600, g), r), "≤ 20 ms")
    x = model.generate(1, 600, g)
    m = edit.to_motions(model, x, 30.0, 600)[0]
    row("sample: features → full-skeleton motion, 600 frames", median_ms(lambda: edit.to_motions(model, x, 30.0, 600), r))
    row("foot clean-up (IK), one 600-frame sample", median_ms(lambda: fix_feet(m), r), "≤ 500 ms")

    def crowd(foot, precision="auto"):  # what `motionkit crowd -n 50` does, up to the file's bytes
        ms, ws = edit.sample_with_world(model, 50, 600, 30.0, g, foot_fix=foot, precision=precision)
        ms = placement.place_crowd(ms, "grid", worlds=ws)
        return gltf.write_glb(ms, {"placements": [np.zeros(3)] * 50})

    auto = str(precision("auto")).replace("torch.", "")
    row(f"crowd: 50 × 600 frames → .glb bytes, foot clean-up on ({auto})", median_ms(lambda: crowd(True), max(3, r // 3)),
        "≤ 1000 ms")
    row(f"crowd: the same with --no-foot-fix ({auto})", median_ms(lambda: crowd(False), max(3, r // 3)))
    if auto != "float32":
        row("crowd: foot clean-up on, --precision float32", median_ms(lambda: crowd(True, "float32"), max(3, r // 3)))
        # what bfloat16 costs in accuracy: the same 50 characters (same noise) in both, joint by joint: the pose
        # (each joint about the root) and the root's path (integrated from velocities, so differences add up)
        low = edit.sample(model, 50, 600, 30.0, torch.Generator().manual_seed(1), precision=auto)
        full = edit.sample(model, 50, 600, 30.0, torch.Generator().manual_seed(1))
        h = body_height(full[0])
        pose, path = [], []
        for a, b in zip(low, full):
            pa, pb = a.world_positions(), b.world_positions()
            pose.append(np.linalg.norm((pa - pa[:, :1]) - (pb - pb[:, :1]), axis=-1).ravel() / h)
            path.append(np.linalg.norm(pa[:, 0] - pb[:, 0], axis=-1) / h)
        pose, path = np.concatenate(pose), np.concatenate(path)
        print(f"<!-- {auto} against float32, 50 x 600 frames, in % of the body height: pose {100 * pose.mean():.3f} "
              f"on average, {100 * np.percentile(pose, 99):.2f} at the 99th percentile, {100 * pose.max():.2f} at "
              f"most; the root's path {100 * path.mean():.2f} on average, {100 * path.max():.2f} at most -->",
              flush=True)
    # where a crowd's time goes: the forward pass, decoding, one FK, the foot clean-up, placement, .glb
    frames = edit.model_frames(model, 600, 30.0)
    steps = {f"forward pass ({auto})": lambda: edit.synthesize(model, 50, frames, g, precision=auto),
             "forward pass (float32)": lambda: edit.synthesize(model, 50, frames, g)}
    parts = {}
    steps["decode 50 samples"] = lambda: parts.__setitem__("ms", edit.to_motions(model, parts["x"], 30.0, 600))

    def decode_in_two_threads():  # as the crowd splits its finishing (edit.sample_with_world)
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(lambda x: edit.to_motions(model, x, 30.0, 600), torch.tensor_split(parts["x"], 2)))

    steps["decode 50 samples, in two threads"] = decode_in_two_threads
    steps["forward kinematics, 50 samples"] = lambda: parts.__setitem__("w", world_transforms_many(parts["ms"]))
    steps["forward kinematics and foot clean-up, 50 samples"] = lambda: parts.__setitem__("fixed", [
        fix_feet_world(m, world=w, in_place=True) for m, w in zip(parts["ms"], world_transforms_many(parts["ms"]))])
    steps["placement"] = lambda: placement.place_crowd([m for m, _ in parts["fixed"]], "grid",
                                                       worlds=[w for _, w in parts["fixed"]])
    steps[".glb bytes"] = lambda: gltf.write_glb([m for m, _ in parts["fixed"]], {"placements": [np.zeros(3)] * 50})
    parts["x"] = steps["forward pass (float32)"]()
    for name, fn in steps.items():
        row(f"crowd, step by step: {name}", median_ms(fn, max(3, r // 3)))
    src = salsa.slice(0, 600)
    row("inpaint 600 frames, frames 200:260 regenerated", median_ms(
        lambda: edit.inpaint(model, src, [(200, 260)], rng=g), r))
    row("compose: ROI 120:180 at 40 and 300 of 600 frames", median_ms(
        lambda: edit.compose(model, salsa.slice(120, 180), [40, 300], 600, rng=g), r))
    row("expand 600 frames by 150 before and after", median_ms(lambda: edit.expand(model, src, 150, 150, rng=g), r))
    row("restyle 600 frames", median_ms(lambda: edit.restyle(model, src, rng=g), r))
    lower = edit.body_part(model, "lower")
    row("sample --keep lower, 600 frames", median_ms(
        lambda: edit.conditioned(model, src, np.zeros(600, bool), lower, rng=g), r))
    buf = io.BytesIO(modelfile.dumps(model))
    row(f"model load ({len(buf.getvalue()) / 1e6:.1f} MB file)", median_ms(lambda: modelfile.loads(buf.getvalue()), r))


if __name__ == "__main__":
    sys.exit(main())
