"""Seconds per training iteration, per level, for each preset on Salsa (2 CPU threads), and the extrapolated
total for each preset's iteration budget. Slow (a few minutes): run by hand.

    python bench/train_cost.py [--iterations 4] [--presets ganimator,fast,paper] [--window N] [--gp-every N]
                               [--batch N] [--threads 2] [--clip PATH] [--precision auto|float32|bfloat16]
                               [--adam fused|loop] [--lambda-cover 5,0,0,0]

Budgets are fixed (no stretch: the coverage checks a stretching level makes are not an iteration's cost).
"""
import argparse
import os
import pathlib
import time

import torch

from motionkit.model import PRESETS, Config, Model
from motionkit.train import fit, precision
from motionkit.files import read_motions

SALSA = pathlib.Path(os.environ.get("MOTIONKIT_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared"
                                    / "data" / "bvh")) / "Joe_Salsa-Dancing-6.bvh"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--presets", default="ganimator,fast,paper")
    ap.add_argument("--window", type=int, default=None, help="Train on windows this long (frames, last stage).")
    ap.add_argument("--gp-every", type=int, default=None, help="Gradient penalty every Nth critic step.")
    ap.add_argument("--batch", type=int, default=None, help="Mini-batch size (default: the preset's).")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clip", default=str(SALSA))
    ap.add_argument("--precision", default=None, help="The networks' arithmetic (default: the preset's, auto).")
    ap.add_argument("--adam", choices=["fused", "loop"], default="fused",
                    help="The optimiser's update: one fused kernel (train's, since stop 30) or torch's per-tensor "
                         "loop (before).")
    ap.add_argument("--lambda-cover", default=None,
                    help="Per-level weights of the coverage loss, comma-separated (default: the preset's).")
    args = ap.parse_args()
    if args.adam == "loop":
        from motionkit import train

        train.adam = lambda params, lr, device: torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    torch.set_num_threads(args.threads)
    motion = read_motions(args.clip)[0]
    for preset in args.presets.split(","):
        budget = PRESETS[preset]["iterations"]
        cfg = Config.from_preset(preset, iterations=[args.iterations] * 4, window=args.window,
                                 gp_every=args.gp_every, batch=args.batch, stretch=1.0,
                                 precision=args.precision,
                                 lambda_cover=[float(v) for v in args.lambda_cover.split(",")] if args.lambda_cover
                                 else None)
        model = Model.from_clip(motion, cfg)
        clip = model.encode(motion)
        model.clip = None  # nor the calibration after the last level
        marks, costs = {}, []

        def progress(level, it, total, losses):
            if it == 1:
                marks[level] = time.perf_counter()  # the first iteration (warm-up) is not counted
            if it == total:
                costs.append((time.perf_counter() - marks[level]) / (total - 1))

        fit(model, clip, progress=progress)
        total_h = sum(c * n for c, n in zip(costs, budget)) / 3600
        knobs = f", {precision(cfg.precision)}".replace("torch.", "") + f", Adam {args.adam}" + f", window {cfg.window}" * bool(cfg.window) + f", GP every {cfg.gp_every}" * (cfg.gp_every > 1) + f", coverage loss {cfg.lambda_cover}" * any(cfg.lambda_cover)
        print(f"{preset:<10} batch {cfg.batch:>2}, {cfg.d_steps} critic steps{knobs}: s/iteration per level "
              f"{' / '.join(f'{c:.2f}' for c in costs)}; budget {budget} ⇒ {total_h:.1f} h", flush=True)


if __name__ == "__main__":
    main()
