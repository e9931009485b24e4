"""Quality of one level while it trains: how the fast recipe's knobs were chosen.

    python bench/level_curve.py [clip=PATH] [level=1] [every=300] [threads=1] [noise=frame] [iterations=2400,...]
                                [d_steps=2] [batch=2] [lambda_adv=5,5,2.5,1] [lambda_rec=...]
                                [pyramid_ratio=0.2] [window=160] [stretch=1] ...

Trains the `fast` preset (with the given overrides) up to ``level`` and, every ``every`` iterations of it, draws 20
samples at twice the clip's length from the stages trained so far and scores them (coverage, global and local
diversity, and the energy ratios: body speed, pose amplitude — the spread of the joints about the carrying
joint —, root travel) against the clip blurred to the last trained stage's length. Prints one line per checkpoint
with the training seconds spent so far (scoring excluded). Slow: minutes per level."""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from motionkit import edit  # noqa: E402
from motionkit.files import read_motions  # noqa: E402
from motionkit.metrics import evaluate  # noqa: E402
from motionkit.model import Config, Model, resize  # noqa: E402
from motionkit.train import fit  # noqa: E402

LISTS = {"iterations": int, "lambda_adv": float, "lambda_rec": float, "lambda_cover": float}
INTS = {"batch", "d_steps", "transfer_layers", "seed", "window", "gp_every"}
FLOATS = {"pyramid_ratio", "pyramid_scale", "lr", "stretch"}


class _Stop(Exception):
    pass


def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    torch.set_num_threads(int(args.pop("threads", 1)))
    clip = args.pop("clip", os.path.join(os.path.dirname(__file__), "../../shared/data/bvh/Joe_Salsa-Dancing-6.bvh"))
    every, level = int(args.pop("every", 300)), int(args.pop("level", 1))
    over = {k: ([LISTS[k](x) for x in v.split(",")] if k in LISTS else int(v) if k in INTS else
                float(v) if k in FLOATS else v)
            for k, v in args.items()}
    motion = read_motions(clip)[0]
    model = Model.from_clip(motion, Config.from_preset("fast", **over))
    x = model.encode(motion)
    t30, fps = model.lengths[-1], motion.fps
    reference = model.encode(motion)
    upto = min(2 * level, model.n_stages)
    started, scoring = time.perf_counter(), 0.0

    def score():
        out = resize(model.generate(20, 2 * t30, torch.Generator().manual_seed(0), upto=upto), 2 * t30)
        n = model.stage_lengths(t30)[upto - 1]
        covered = int((t30 - 1) * fps / model.enc.fps) + 1  # source frames the model's frames reach (an even
        # clip's last frame may fall past them)
        blurred = edit.to_motions(model, resize(resize(reference, n), t30), fps, covered)[0]
        samples = edit.to_motions(model, out, fps, int((2 * t30 - 1) * fps / model.enc.fps) + 1)
        report = evaluate(blurred, samples)
        report["amplitude"] = float(np.mean([amplitude(s) for s in samples]) / amplitude(blurred))
        return report

    def amplitude(m):
        p = m.world_positions() / model.enc.height
        return float((p - p[:, model.enc.travel:model.enc.travel + 1]).std(axis=0).mean())

    def progress(li, it, total, losses):
        nonlocal scoring
        if li + 1 == level and it % every == 0:
            t = time.perf_counter()
            r = score()
            scoring += time.perf_counter() - t
            print(f"level {level} it {it} train {time.perf_counter() - started - scoring:.0f}s "
                  f"cov {r['coverage']:.3f} glob {r['global_diversity']:.3f} loc {r['local_diversity']:.3f} "
                  f"body {r['body_speed']:.2f} ampl {r['amplitude']:.2f} root {r['root_speed']:.2f} "
                  f"rec {losses['rec']:.4f}", flush=True)

    def checkpoint(m):
        if m.trained_levels >= level:
            raise _Stop

    try:
        fit(model, x, progress=progress, checkpoint=checkpoint)
    except _Stop:
        pass


if __name__ == "__main__":
    main()
