"""How a trained model's samples score, drawn two ways: noise at the first stage only (GANimator's sampling) and noise
at every stage with its amplitude (as the generators see it in training).

    python bench/sampling.py MODEL.mkm [-n 20] [--length 2x] [--seed 0]

Prints coverage, global/local diversity and the energy ratios (body speed, root travel, acceleration, foot
skating: samples / clip) of ``-n`` samples against the model's own training clip, for each way."""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main():
    import torch

    from motionkit import edit, modelfile
    from motionkit.footfix import fix_feet
    from motionkit.metrics import evaluate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--length", default="2x")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = modelfile.loads(open(args.model, "rb").read(), args.model)
    ref = model.clip
    frames = int(round(float(args.length[:-1]) * ref.frames)) if args.length.endswith("x") else int(args.length)
    print("| sampling | coverage | global | local | body speed | root travel | acceleration | foot skating |")
    print("|---|---|---|---|---|---|---|---|")
    for every in (False, True):
        rng = torch.Generator().manual_seed(args.seed)
        tm = edit.model_frames(model, frames, ref.fps)
        x = model.generate(args.n, tm, rng, upto=max(1, model.trained_stages), every_stage=every)
        samples = [fix_feet(m) for m in edit.to_motions(model, x, ref.fps, frames)]
        r = evaluate(ref, samples)
        print(f"| {'every stage' if every else 'first stage'} | {r['coverage']:.3f} | {r['global_diversity']:.3f} | "
              f"{r['local_diversity']:.3f} | {r['body_speed']:.2f} | {r['root_speed']:.2f} | "
              f"{r['acceleration']:.2f} | {r['foot_skating']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
