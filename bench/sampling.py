"""How a trained model's samples move, and why: the numbers behind the sampling calibration.

    python bench/sampling.py MODEL.mkm [-n 20] [--length 2x] [--seed 0]   # noise at the first stage vs every stage
    python bench/sampling.py MODEL.mkm --temperatures 1,1.5,2,3            # the first stage's noise scaled
    python bench/sampling.py MODEL.mkm --per-level                         # energy after each level
    python bench/sampling.py MODEL.mkm --per-joint                         # speed and pose spread per joint

All against the model's own training clip: coverage, global/local diversity and the energy ratios (body speed,
root travel, acceleration, foot skating: samples / clip; ``motionkit.metrics``). ``--per-level`` samples the
stages trained up to each level and compares with the clip blurred to that level's length; ``--per-joint`` gives,
per modelled joint, the samples' speed and pose spread (standard deviation of its position about the carrying
joint) as fractions of the clip's (no foot clean-up)."""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main():
    import numpy as np
    import torch

    from motionkit import edit, modelfile
    from motionkit import features as feat
    from motionkit.footfix import fix_feet
    from motionkit.metrics import energy, evaluate, feature_spec
    from motionkit.model import resize

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--length", default="2x")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperatures", default=None, help="Scale the first stage's noise by each of these.")
    ap.add_argument("--per-level", action="store_true")
    ap.add_argument("--per-joint", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = modelfile.loads(open(args.model, "rb").read(), args.model)
    ref = model.clip
    frames = int(round(float(args.length[:-1]) * ref.frames)) if args.length.endswith("x") else int(args.length)
    print(f"model temperature {model.temperature:g}")

    def row(label, samples):
        r = evaluate(ref, samples)
        print(f"| {label} | {r['coverage']:.3f} | {r['global_diversity']:.3f} | {r['local_diversity']:.3f} | "
              f"{r['body_speed']:.2f} | {r['root_speed']:.2f} | {r['acceleration']:.2f} | {r['foot_skating']:.2f} |",
              flush=True)

    head = ("|---|---|---|---|---|---|---|---|")
    if args.per_level:
        clip30 = ref.resampled(model.enc.fps)
        spec = feature_spec(clip30)
        x_ref = model.encode(clip30)
        t = x_ref.shape[-1]
        print("| after level | stage length | body speed | root travel | acceleration |\n|---|---|---|---|---|")
        for level, stages in enumerate(model.levels):
            upto = stages[-1] + 1
            n = model.lengths[upto - 1]
            blurred = feat.decode(resize(resize(x_ref, n), t)[0].T.numpy(), model.enc)
            e_ref = energy(blurred, spec)
            x = resize(model.generate(args.n, 2 * t, torch.Generator().manual_seed(args.seed), upto=upto), 2 * t)
            es = [energy(feat.decode(x[i].T.numpy(), model.enc), spec, e_ref["ground"]) for i in range(args.n)]
            ratio = {k: np.mean([e[k] for e in es]) / e_ref[k] for k in ("body_speed", "root_speed", "acceleration")}
            print(f"| {level + 1} | {n} | {ratio['body_speed']:.2f} | {ratio['root_speed']:.2f} | "
                  f"{ratio['acceleration']:.2f} |", flush=True)
        return
    if args.per_joint:
        samples = edit.sample(model, args.n, frames, ref.fps, torch.Generator().manual_seed(args.seed), foot_fix=False)

        def stats(m):
            p = m.resampled(30).world_positions() / model.enc.height
            rel = p - p[:, model.enc.travel:model.enc.travel + 1]
            return np.linalg.norm(np.diff(rel, axis=0), axis=-1).mean(0), rel.std(0).mean(-1)

        speed_ref, spread_ref = stats(ref)
        got = [stats(s) for s in samples]
        speed, spread = np.mean([g[0] for g in got], 0), np.mean([g[1] for g in got], 0)
        print("| joint | speed | pose spread |\n|---|---|---|")
        for j in model.enc.joints:
            if j == model.enc.travel:
                continue
            print(f"| {model.enc.skeleton.names[j]} | {speed[j] / speed_ref[j]:.2f} | {spread[j] / spread_ref[j]:.2f} |")
        return
    print("| sampling | coverage | global | local | body speed | root travel | acceleration | foot skating |\n" + head)
    if args.temperatures:
        calibrated = model.temperature
        for t in (float(v) for v in args.temperatures.split(",")):
            model.temperature = t
            row(f"temperature {t:g}", edit.sample(model, args.n, frames, ref.fps,
                                                  torch.Generator().manual_seed(args.seed)))
        model.temperature = calibrated
        return
    for every in (False, True):
        rng = torch.Generator().manual_seed(args.seed)
        tm = edit.model_frames(model, frames, ref.fps)
        x = model.generate(args.n, tm, rng, upto=max(1, model.trained_stages), every_stage=every)
        row("noise at every stage" if every else "noise at the first stage",
            [fix_feet(m) for m in edit.to_motions(model, x, ref.fps, frames)])


if __name__ == "__main__":
    main()
