"""End to end: `motionkit train CLIP` (wall time, peak memory), then `motionkit eval -m MODEL -n 20 --length 2x`
(coverage, global/local diversity, and the energy ratios: body speed, root travel, acceleration, foot skating).

    python bench/train_quality.py CLIP[:START:STOP] ... [--budget 0.25,0.5,1] [--preset fast] [--rerig] [--seed 0]
                                  [--out results.jsonl] [-- EXTRA TRAIN OPTIONS]

CLIP:START:STOP trains on those source frames only (an excerpt, made with `motionkit convert --frames`);
``example:SECONDS`` is the bundled dancer of that length; ``--rerig`` trains each clip re-expressed on a
game-style rig instead (tests/rerig.py: a static root above the hips, bones along +X at rest, six channels, ZXY,
other units), for the invariance check against the clip's own run with the same seed. ``--budget`` scales the preset's iterations per level (the
quality-per-training-minute curve); each level may still stretch past its scaled budget as the preset's own
``stretch`` allows (``-- --stretch 1`` keeps budgets fixed). Slow (minutes per run): run by hand, with nothing else on the machine.
Prints one markdown row per run; ``--out`` also appends each result as a JSON line."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


KEYS = ("coverage", "global_diversity", "local_diversity", "inter_diversity", "body_speed", "root_speed",
        "acceleration", "foot_skating", "reference_spread")  # what each row keeps of `eval --json`


def prepare(spec: str, workdir: str, rerig: bool) -> tuple[str, str]:
    """(label, path of the clip to train on) for CLIP, CLIP:START:STOP or example:SECONDS."""
    if spec.startswith("example:"):
        seconds = spec.split(":")[1]
        path = os.path.join(workdir, f"dancer-{seconds}s.bvh")
        subprocess.run(["motionkit", "example", "--seconds", seconds, "-o", path], check=True, capture_output=True)
        label = f"bundled dancer, {seconds} s"
    else:
        clip, _, frames = spec.partition(":")
        stem = os.path.splitext(os.path.basename(clip))[0]
        path, label = os.path.abspath(clip), stem
        if frames:
            path = os.path.join(workdir, f"{stem}-{frames.replace(':', '-')}.bvh")
            subprocess.run(["motionkit", "convert", clip, "--frames", frames, "-o", path], check=True,
                           capture_output=True)
            label = f"{stem} [{frames}]"
    if rerig:
        from rerig import rerig as make_rig

        from motionkit import anatomy
        from motionkit.files import read_motions, write_motions

        m = read_motions(path)[0]
        r = make_rig(m, scale=0.01 if anatomy.body_height(m) > 50 else 100.0)
        path = os.path.join(workdir, os.path.splitext(os.path.basename(path))[0] + "-gamerig.bvh")  # never beside
        # the clip: that may be a shared data folder
        write_motions([r], path)
        label += " (game rig)"
    return label, path


def iterations_run(model) -> list[int]:
    """Iterations each level of ``model`` ran: its budget, or what its stretch checks decided."""
    levels = model.provenance.get("levels")
    levels = levels if isinstance(levels, dict) else {}
    return [levels.get(str(k + 1), {}).get("iterations", n) for k, n in enumerate(model.config.iterations)]


def run(label: str, clip: str, budget: float, preset: str, workdir: str, extra: list[str], seed: int) -> dict:
    from motionkit import modelfile
    from motionkit.model import PRESETS

    its = [max(1, round(n * budget)) for n in PRESETS[preset]["iterations"]]
    model = os.path.join(workdir, f"{os.path.splitext(os.path.basename(clip))[0]}-{budget:g}.mkm")
    t = time.perf_counter()
    proc = subprocess.Popen(["motionkit", "train", clip, "-o", model, "--preset", preset, "--iterations",
                             ",".join(map(str, its)), "--stretch", str(PRESETS[preset]["stretch"]),
                             "--no-plots", "--seed", str(seed), *extra], cwd=workdir,  # the preset's own stretch
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"motionkit train {clip} failed ({code}): {err[-400:]}")
    out = subprocess.run(["motionkit", "eval", "-m", model, "-n", "20", "--length", "2x", "--json"], check=True,
                         cwd=workdir, capture_output=True, text=True).stdout
    r = json.loads(out)
    with open(model, "rb") as fh:
        trained = modelfile.loads(fh.read())
    return dict(clip=label, budget=budget, iterations=its, ran=iterations_run(trained), extra=extra, wall_s=wall,
                temperature=trained.temperature,
                peak_mb=usage.ru_maxrss / 1024, **{k: r[k] for k in KEYS})


def recalibrated(path: str, workdir: str) -> dict:
    """A model trained before `train` saved its calibration (every file had temperature 1.0): calibrate it as
    `train` now does (the weights are what that training gave), write the copy, and evaluate it."""
    from motionkit import modelfile
    from motionkit.train import calibrate, calibrate_contacts

    with open(path, "rb") as fh:
        model = modelfile.loads(fh.read(), path)
    calibrate(model)
    calibrate_contacts(model)
    out = os.path.join(workdir, os.path.basename(path))
    with open(out, "wb") as fh:
        fh.write(modelfile.dumps(model))
    r = json.loads(subprocess.run(["motionkit", "eval", "-m", out, "-n", "20", "--length", "2x", "--json"],
                                  check=True, cwd=workdir, capture_output=True, text=True).stdout)
    return dict(clip=os.path.basename(path) + " (recalibrated)", budget=1.0, iterations=iterations_run(model),
                extra=[], wall_s=float("nan"), peak_mb=float("nan"), temperature=model.temperature,
                **{k: r[k] for k in KEYS})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--budget", default="1", help="Fractions of the preset's iterations, comma-separated.")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rerig", action="store_true", help="Train each clip re-rigged onto a game-style rig.")
    ap.add_argument("--out", default=None, help="Append each result as a JSON line to this file.")
    ap.add_argument("--keep", default=None, help="Keep the trained models in this folder.")
    ap.add_argument("--recalibrate", action="store_true",
                    help="CLIPS are model files trained before `train` saved its calibration: calibrate and "
                         "evaluate each (no training; wall time and memory are the original run's).")
    args, extra = ap.parse_known_args()
    extra = [e for e in extra if e != "--"]
    print("| clip | budget | wall | peak RSS | coverage | global | local | (clip's spread) | body speed | "
          "root travel | accel | skating | temperature | iterations run |\n" + "|---" * 14 + "|", flush=True)

    def ratio(v):
        return f"{v:.2f}" if v is not None else "–"

    with tempfile.TemporaryDirectory() as scratch:
        tmp = os.path.abspath(args.keep) if args.keep else scratch
        os.makedirs(tmp, exist_ok=True)
        for spec in args.clips:
            for rig in [args.rerig]:
                label, path = (spec, spec) if args.recalibrate else prepare(spec, tmp, rig)
                for b in (float(v) for v in args.budget.split(",")):
                    r = (recalibrated(path, tmp) if args.recalibrate else
                         run(label, path, b, args.preset, tmp, extra, args.seed))
                    finite = r["wall_s"] == r["wall_s"]  # not NaN: a run that trained here
                    m, s = divmod(round(r["wall_s"]), 60) if finite else (0, 0)
                    wall, peak = (f"{m} min {s:02d} s", f"{r['peak_mb']:.0f} MB") if finite else ("–", "–")
                    print(f"| {r['clip']} | {b:g}× | {wall} | {peak} | "
                          f"{r['coverage']:.3f} | {r['global_diversity']:.3f} | {r['local_diversity']:.3f} | "
                          f"{r['reference_spread']:.2f} | {ratio(r['body_speed'])} | {ratio(r['root_speed'])} | "
                          f"{ratio(r['acceleration'])} | {ratio(r['foot_skating'])} | {r['temperature']:g} | "
                          f"{' / '.join(map(str, r.get('ran') or r['iterations']))} |", flush=True)
                    if args.out:
                        with open(args.out, "a") as fh:
                            fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
