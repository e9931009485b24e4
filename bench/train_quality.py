"""End to end: `motionkit train CLIP` (wall time, peak memory), then `motionkit eval -m MODEL -n 20 --length 2x`.

    python bench/train_quality.py ../shared/data/bvh/Joe_Salsa-Dancing-6.bvh [--budget 0.25,0.5,1] [--threads 2]

Slow (the full `fast` budget is ~18 min for Salsa on 2 cores): run by hand, with nothing else on the machine.
``--budget`` scales the preset's iterations per level, which gives the quality-per-training-minute curve.
Prints one markdown row per run."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def run(clip: str, budget: float, preset: str, workdir: str) -> dict:
    from motionkit.model import PRESETS

    its = [max(1, round(n * budget)) for n in PRESETS[preset]["iterations"]]
    model = os.path.join(workdir, f"{os.path.splitext(os.path.basename(clip))[0]}-{budget:g}.mkm")
    t = time.perf_counter()
    proc = subprocess.Popen(["motionkit", "train", clip, "-o", model, "--preset", preset, "--iterations",
                             ",".join(map(str, its)), "--no-plots"], cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"motionkit train {clip} failed ({code})")
    out = subprocess.run(["motionkit", "eval", "-m", model, "-n", "20", "--length", "2x", "--json"], check=True,
                         cwd=workdir, capture_output=True, text=True).stdout
    r = json.loads(out)
    return dict(clip=os.path.basename(clip), budget=budget, iterations=its, wall_s=wall,
                peak_mb=usage.ru_maxrss / 1024, coverage=r["coverage"], global_diversity=r["global_diversity"],
                local_diversity=r["local_diversity"], inter_diversity=r["inter_diversity"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--budget", default="1", help="Fractions of the preset's iterations, comma-separated.")
    ap.add_argument("--preset", default="fast")
    args = ap.parse_args()
    print("| clip | budget | iterations | wall | peak RSS | coverage | global | local | inter |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            for b in (float(v) for v in args.budget.split(",")):
                r = run(os.path.abspath(clip), b, args.preset, tmp)
                m, s = divmod(round(r["wall_s"]), 60)
                print(f"| {r['clip']} | {b:g}× | {' / '.join(map(str, r['iterations']))} | {m} min {s:02d} s | "
                      f"{r['peak_mb']:.0f} MB | {r['coverage']:.3f} | {r['global_diversity']:.3f} | "
                      f"{r['local_diversity']:.3f} | {r['inter_diversity']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
