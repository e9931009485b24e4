"""How a trained model's samples move, and why: the numbers behind the sampling calibration.

    python bench/sampling.py MODEL.mkm [-n 20] [--length 2x] [--seed 0]   # noise at the first stage vs every stage
    python bench/sampling.py MODEL.mkm --temperatures 1,1.5,2,3            # the first stage's noise scaled
    python bench/sampling.py MODEL.mkm --per-level [--whole-clip]          # energy after each level
    python bench/sampling.py MODEL.mkm --per-joint                         # speed and pose spread per joint
    python bench/sampling.py MODEL.mkm --coverage-map                      # which parts of the clip are covered
    python bench/sampling.py MODEL.mkm --contacts                          # what the contact labels cost
    python bench/sampling.py MODEL.mkm --thresholds 0.5,0.4,0.3            # the label above which a foot is down
    python bench/sampling.py MODEL.mkm --turning                           # how fast joints and the heading turn

All against the model's own training clip: coverage, global/local diversity and the energy ratios (body speed,
root travel, acceleration, foot skating: samples / clip; ``motionkit.metrics``). ``--per-level`` samples the
stages trained up to each level and compares with the clip blurred to that level's length (coverage and
diversity too, no foot clean-up: where a model drops parts of the clip); ``--per-joint`` gives,
per modelled joint, the samples' speed and pose spread (standard deviation of its position about the carrying
joint) as fractions of the clip's (no foot clean-up); ``--contacts`` splits coverage into what the rotations and
what the contact labels (motion-derived: a tip slower than the contact speed) give it, with the share of frames
whose contact tips are still, in the clip and in the samples before and after the foot clean-up, and how fast the
tips move where the model labels them down; ``--turning`` gives each modelled joint's local angular speed and the
travel joint's heading (its turn about the up axis: speed and acceleration) and tilt (the rest of its rotation),
as fractions of the clip's (no foot clean-up): body speed, measured on world positions about the travel joint,
counts the heading's turns with the limbs' own; and the fastest turn any modelled joint makes in one frame, as
decoded (frames whose 6D defines no rotation mended) and frame by frame, with how many frames are undefined."""
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
    ap.add_argument("--whole-clip", action="store_true",
                    help="With --per-level: score each level's samples against the whole clip (not the clip blurred "
                         "to the level), feet cleaned up as eval does: how much of the final coverage each level "
                         "already holds.")
    ap.add_argument("--per-joint", action="store_true")
    ap.add_argument("--coverage-map", action="store_true",
                    help="Which parts of the clip the samples cover: per tenth of the clip, the share of samples "
                         "that cover its 30-frame windows, and the windows no sample covers.")
    ap.add_argument("--thresholds", default=None,
                    help="Sample with each of these contact thresholds (the model's calibrated one is marked).")
    ap.add_argument("--contacts", action="store_true",
                    help="Coverage from the rotations alone and with the contact labels, and how still the feet are.")
    ap.add_argument("--turning", action="store_true",
                    help="Angular speed of each modelled joint, and the heading's and tilt's of the travel joint.")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = modelfile.loads(open(args.model, "rb").read(), args.model)
    ref = model.clip
    frames = int(round(float(args.length[:-1]) * ref.frames)) if args.length.endswith("x") else int(args.length)
    print(f"model temperature {model.temperature:g}")

    def row(label, samples):
        r = evaluate(ref, samples)
        def ratio(v):
            return f"{v:.2f}" if v is not None else "–"  # no travel in the clip: no root travel ratio

        print(f"| {label} | {r['coverage']:.3f} | {r['global_diversity']:.3f} | {r['local_diversity']:.3f} | "
              + " | ".join(ratio(r[k]) for k in ("body_speed", "root_speed", "acceleration", "foot_skating")) + " |",
              flush=True)

    head = ("|---|---|---|---|---|---|---|---|")
    if args.contacts:
        from motionkit import anatomy
        from motionkit.metrics import Distances, coverage, features

        spec = feature_spec(ref)
        r = features(ref, spec)
        nr = 6 * len(spec.joints)  # the rotations' columns; the contact labels follow
        raw = edit.sample(model, args.n, frames, ref.fps, torch.Generator().manual_seed(args.seed), foot_fix=False)
        threshold = anatomy.CONTACT_SPEED * spec.height * 30.0 / ref.fps  # eval's contact rule
        sk = ref.skeleton

        def cover(a, b):
            return coverage(Distances(a, b))

        print(f"contact joints scored: {', '.join(spec.contacts)}; the clip's tips are still on "
              f"{r[:, nr:].mean():.3f} of frames")
        print("| samples | coverage | rotations alone | tips still (clip: %.3f) |\n|---|---|---|---|" % r[:, nr:].mean())
        for label, group in (("raw", raw), ("foot clean-up", [fix_feet(m) for m in raw])):
            fs = [features(m, spec) for m in group]
            print(f"| {label} | {np.mean([cover(r, f) for f in fs]):.3f} | "
                  f"{np.mean([cover(r[:, :nr], f[:, :nr]) for f in fs]):.3f} | "
                  f"{np.mean([f[:, nr:].mean() for f in fs]):.3f} |")
        down = []  # tip speed / contact threshold on the frames the model labels 'down'
        for m in raw:
            for name, labels in m.metadata.get("contacts", {}).items():
                tip = anatomy.tips(m, [sk.index(name)])[:, 0]
                speed = np.r_[0.0, np.linalg.norm(np.diff(tip, axis=0), axis=-1)] / threshold
                down.append(speed[np.asarray(labels) > 0.5])
        if down:
            down = np.concatenate(down)
            q = np.percentile(down, [25, 50, 75, 90])
            print(f"model-labelled contact frames: {len(down)}; tip speed / contact threshold quartiles "
                  f"{q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}, 90th {q[3]:.2f}; still on {(down < 1).mean():.3f}")
        return
    if args.turning:
        from motionkit import features as feat
        from motionkit import rotations as rot
        from motionkit.features import travel_headings

        enc, sk = model.enc, model.enc.skeleton
        clip = ref.resampled(enc.fps)
        out = edit.sample(model, args.n, frames, enc.fps, torch.Generator().manual_seed(args.seed), foot_fix=False)

        def angle(q):  # (..., 4) → radians
            return 2 * np.arccos(np.clip(np.abs(q[..., 0]), 0, 1))

        def turning(m):
            local = angle(rot.multiply(rot.conjugate(m.rotations[:-1]), m.rotations[1:])).mean(axis=0)
            psi = travel_headings(m, enc)
            pq, _ = enc.parent_world()
            tilt = rot.multiply(rot.conjugate(feat.about_up(psi)), rot.multiply(pq, m.rotations[:, enc.travel]))
            return (local, np.abs(np.diff(psi)).mean(), np.abs(np.diff(psi, 2)).mean(),
                    angle(rot.multiply(rot.conjugate(tilt[:-1]), tilt[1:])).mean())

        c, s = turning(clip), [turning(m) for m in out]
        print(f"travel joint {sk.names[enc.travel]}: heading speed {np.mean([t[1] for t in s]) / c[1]:.2f}, "
              f"heading acceleration {np.mean([t[2] for t in s]) / c[2]:.2f}, tilt speed "
              f"{np.mean([t[3] for t in s]) / c[3]:.2f} of the clip's (clip: {c[1]:.4f} / {c[2]:.4f} / {c[3]:.4f} "
              "rad a frame)")
        # the fastest turn in one frame, of any modelled joint: the samples as decoded (frames whose 6D defines
        # no rotation mended: features.held_where_undefined), the same features decoded frame by frame, the clip
        x = edit.synthesize(model, args.n, edit.model_frames(model, frames, enc.fps),
                            torch.Generator().manual_seed(args.seed))
        f = x.numpy().transpose(0, 2, 1)
        nj = len(enc.joints)
        d6 = (f * enc.std + enc.mean)[..., :6 * nj].reshape(f.shape[0], f.shape[1], nj, 6)
        undefined = feat.undefined_6d(d6)

        def fastest(ms):
            return np.degrees(max(np.nanmax(angle(rot.multiply(rot.conjugate(m.rotations[:-1, enc.joints]),
                                                               m.rotations[1:, enc.joints]))) for m in ms))

        with np.errstate(invalid="ignore", divide="ignore"):
            raw = [feat.decode(xi, enc, floor=0.0) for xi in f]
        mended = [feat.decode(xi, enc) for xi in f]
        print(f"fastest turn in one frame, any modelled joint: samples {fastest(mended):.1f}° (decoded frame by frame: "
              f"{fastest(raw):.1f}°), clip {fastest([clip]):.1f}°; joint-frames whose 6D defines no rotation: "
              f"{int(undefined.sum())} of {undefined.size} (per joint, most: "
              f"{', '.join(f'{sk.names[enc.joints[k]]} {int(n)}' for k, n in sorted(enumerate(undefined.sum(axis=(0, 1))), key=lambda t: -t[1])[:2])})")
        spec = feature_spec(clip)
        steady = energy(edit.steady_heading(clip, enc), spec)["body_speed"] / energy(clip, spec)["body_speed"]
        print(f"the clip's own heading steadied as samples' are (edit.steady_heading): body speed x{steady:.4f}")
        local = np.mean([t[0] for t in s], axis=0)
        print("| joint | local angular speed / clip's |\n|---|---|")
        for j in enc.joints:
            if j != enc.travel and c[0][j] > 0:
                print(f"| {sk.names[j]} | {local[j] / c[0][j]:.2f} |")
        return
    if args.coverage_map:
        from motionkit.metrics import Distances, covered, features

        samples = edit.sample(model, args.n, frames, ref.fps, torch.Generator().manual_seed(args.seed))
        spec = feature_spec(ref)
        r = features(ref, spec)
        hit = np.stack([covered(Distances(r, features(s, spec))) for s in samples])  # (samples, clip windows)
        share = hit.mean(axis=0)
        tenths = np.array_split(share, 10)
        print(f"per sample: {hit.mean(axis=1).min():.2f}–{hit.mean(axis=1).max():.2f} of the clip's windows; "
              f"covered by no sample: {int((~hit.any(axis=0)).sum())} of {len(share)}")
        print("share of samples covering each tenth of the clip: " + " ".join(f"{t.mean():.2f}" for t in tenths))
        return
    if args.per_level:
        clip30 = ref.resampled(model.enc.fps)
        spec = feature_spec(clip30)
        x_ref = model.encode(clip30)
        t = x_ref.shape[-1]
        print("| after level | stage length | coverage (per sample: min–max) | global | local | body speed | "
              "root travel | acceleration |\n|---|---|---|---|---|---|---|---|")
        for level, stages in enumerate(model.levels):
            upto = stages[-1] + 1
            n = model.lengths[upto - 1]
            blurred = clip30 if args.whole_clip else feat.decode(resize(resize(x_ref, n), t)[0].T.numpy(), model.enc)
            e_ref = energy(blurred, spec)
            x = resize(model.generate(args.n, 2 * t, torch.Generator().manual_seed(args.seed), upto=upto), 2 * t)
            decoded = [feat.decode(x[i].T.numpy(), model.enc, contact_threshold=model.contact_threshold)
                       for i in range(args.n)]
            if args.whole_clip:
                decoded = [fix_feet(d) for d in decoded]
            es = [energy(d, spec, e_ref["ground"]) for d in decoded]
            ratio = {k: np.mean([e[k] for e in es]) / e_ref[k] for k in ("body_speed", "root_speed", "acceleration")}
            r = evaluate(blurred, decoded)
            cov = [p["coverage"] for p in r["per_sample"]]
            print(f"| {level + 1} | {n} | {r['coverage']:.3f} ({min(cov):.2f}–{max(cov):.2f}) | "
                  f"{r['global_diversity']:.3f} | {r['local_diversity']:.3f} | {ratio['body_speed']:.2f} | "
                  f"{ratio['root_speed']:.2f} | {ratio['acceleration']:.2f} |", flush=True)
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
    if args.thresholds:
        from motionkit.train import contact_threshold_scores

        calibrated = model.contact_threshold
        print("calibration's own draws (train.contact_threshold_scores): " + ", ".join(
            f"{t:g}: {c:.3f}" for t, c in contact_threshold_scores(model).items()))
        clip30 = ref.resampled(model.enc.fps)
        clip_share = feat.contact_labels(clip30, model.enc.contacts, model.enc.height).mean()
        for t in [float(v) for v in args.thresholds.split(",")] + [calibrated]:
            model.contact_threshold = t
            out = edit.sample(model, args.n, frames, ref.fps, torch.Generator().manual_seed(args.seed))
            share = np.mean([np.mean(list(m.metadata["contacts"].values())) for m in out])
            row(f"threshold {t:.3f}{' (calibrated)' if t == calibrated else ''}: labelled down {share:.3f} (clip {clip_share:.3f})", out)
        return
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
