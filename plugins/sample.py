"""`motionkit sample`: new variations from a trained model, one forward pass per batch (noise at the first stage,
GANimator's sampling), any length, on the clip's full skeleton, units and frame rate."""
from __future__ import annotations

import math

import click

from motionkit import hookimpl

from .common import to_option
from .models import default_output, emit, find_model, generator, keep_option, load_model, read_source


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.option("-m", "--model", "model_path", default=None, help="Model file (default: $MOTIONKIT_MODEL, else the last trained here).")
    @click.option("-n", "count", type=int, default=1, show_default=True, help="How many variations.")
    @click.option("--length", type=int, default=None, help="Frames (at the output frame rate).")
    @click.option("--seconds", type=float, default=None, help="Duration (default: the clip's).")
    @click.option("--seed", type=int, default=None, help="Same seed, same model ⇒ same samples.")
    @click.option("--fps", type=float, default=None, help="Output frame rate (default: the clip's).")
    @click.option("-o", "--output", default=None, help="Output file or - (default: NPZ on a pipe, else MODEL-sample.bvh).")
    @click.option("--foot-fix/--no-foot-fix", default=True, show_default=True,
                  help="Hold feet still where the model predicts ground contact (IK foot locking).")
    @keep_option
    @click.option("--source", default=None, help="With --keep: the motion whose body part is kept (default: the training clip).")
    @to_option
    def sample(model_path, count, length, seconds, seed, fps, output, to, foot_fix, keep, source):
        """Generate COUNT new variations of the trained clip."""
        import torch

        from motionkit import features as feat
        from motionkit.footfix import fix_feet
        from motionkit.errors import MotionkitError
        from motionkit.io import write_motions

        path = find_model(model_path)
        model = load_model(path)
        if count < 1:
            raise MotionkitError("-n must be at least 1")
        src_fps = float(model.provenance.get("source_fps") or model.enc.fps)
        out_fps = fps or src_fps
        if length is not None and seconds is not None:
            raise MotionkitError("give --length or --seconds, not both")
        asked = length is not None or seconds is not None
        if length is None:
            secs = seconds if seconds is not None else model.lengths[-1] / model.enc.fps
            length = int(round(secs * out_fps))
        if length < 1:
            raise MotionkitError("the requested length is under one frame")
        # Frames at the model's rate that cover `length` output frames once resampled.
        frames = max(30, int(math.ceil((length - 1) * model.enc.fps / out_fps)) + 1)
        gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2 ** 31)
        stages = model.trained_stages
        if stages < model.n_stages:
            click.echo(f"warning: {path} is only partly trained ({stages} of {model.n_stages} stages)", err=True)
        if keep or source:
            return _sample_keeping(model, path, keep, source, count, length if asked else None,
                                   seed, foot_fix, output, to, fps)
        x = model.generate(count, frames, gen, upto=max(1, stages))
        x = torch.nn.functional.interpolate(x, size=frames, mode="linear", align_corners=False)
        motions = []
        for i in range(count):
            m = feat.decode(x[i].T.numpy(), model.enc, name=f"sample_{i:03d}",
                            metadata={"operation": "sample", "model": path, "seed": seed, "index": i})
            if foot_fix:
                m = fix_feet(m)
            if abs(out_fps - m.fps) > 1e-9:
                m = m.resampled(out_fps)
            m = m.slice(0, min(length, m.frames))
            motions.append(m)
        target = output or default_output(path, "sample", ".bvh" if count == 1 else ".npz")
        for p in write_motions(motions, target, to, inputs=(path,)):
            if p != "-":
                click.echo(f"wrote {p}", err=True)


def _sample_keeping(model, path, keep, source, count, length, seed, foot_fix, output, to, fps):
    """Body-part composition (the paper's §4.2): the kept joints' channels are the source's at level 2, the
    rest of the body is generated around them; the kept joints come out exactly as in the source."""
    import numpy as np

    from motionkit import edit
    from motionkit.errors import MotionkitError

    if not keep:
        raise MotionkitError("--source is for --keep: say which body part to keep")
    if source:
        motion = read_source(source, model)
    elif model.clip is not None:
        motion = model.clip
    else:
        raise MotionkitError("this model file does not hold its training clip: give --source", path)
    if length is not None and length != motion.frames:
        raise MotionkitError(f"--keep follows the source: the output has its {motion.frames} frames "
                             "(leave out --length/--seconds, or cut the source with `motionkit convert --frames`)")
    if fps:
        motion = motion.resampled(fps)
    out = edit.conditioned(model, motion, np.zeros(motion.frames, bool), edit.body_part(model, keep), n=count,
                           generator=generator(seed), foot_fix=foot_fix, name="sample",
                           metadata={"operation": "sample", "model": path, "seed": seed, "keep": keep})
    emit(out, output, to, path, "sample", inputs=(source,) if source else ())
