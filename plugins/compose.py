"""`motionkit compose [SOURCE] --roi 120:180 --at 40,300`: the paper's full-body composition, option (b) (§4.2).
The region of interest — frames of the training clip, or of SOURCE — is taken as a mini-clip, downsampled to
the input of level 2 and joined there, at the chosen times, with motion the coarse levels generate from noise;
the later generators blend the copies into one new motion. Inside the placed windows the motion is the ROI."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import (default_output, emit, keep_option, length_options, load_model, operation_options, parse_range,
                      read_source, requested_frames, rng, training_clip)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("source", required=False)
    @click.option("--roi", required=True, metavar="START:STOP", help="Frames of SOURCE (default: the training clip).")
    @click.option("--at", "at", required=True, metavar="F[,F...]", help="Output frames where copies of the ROI start.")
    @length_options
    @keep_option
    @operation_options
    def compose(source, roi, at, length, seconds, model_path, keep, count, seed, foot_fix, output, to):
        """Place the ROI at the given frames of a new motion and generate the rest around it."""
        from motionkit import edit
        from motionkit.errors import MotionkitError

        path, model = load_model(model_path)
        if source is not None:
            motion, where = read_source(source, model), source
        else:
            motion, where = training_clip(model, path), f"the training clip of {path}"
        try:
            starts = sorted(int(v) for v in at.split(","))
        except ValueError:
            raise MotionkitError(f"--at {at!r}: expected frame numbers, e.g. 40,300") from None
        a, b = parse_range(roi, None, "--roi")
        if a < 0 or b < 0:  # counted from the end: of the source itself
            a, b = parse_range(roi, motion.frames, "--roi")
        if a >= b:
            raise MotionkitError(f"--roi {roi}: selects no frames")
        joints = edit.body_part(model, keep) if keep else None
        if b > motion.frames:  # the clip is shorter than the ROI: grow it with the model first (motion expansion)
            click.echo(f"compose: {where} has {motion.frames} frames; frames {motion.frames}:{b} of it are "
                       "generated first (motion expansion) to take the ROI from", err=True)
            motion = edit.expand(model, motion, 0, b - motion.frames, rng=rng(seed), foot_fix=foot_fix)[0]
        frames = requested_frames(length, seconds, motion.fps, motion.frames if joints else None)
        if frames is None:  # long enough for every copy, then as much again as one copy lasts; at least the clip
            frames = max(motion.frames, starts[-1] + 2 * (b - a))
            if frames > motion.frames:
                click.echo(f"compose: output {frames} frames (the last copy ends at frame {starts[-1] + b - a}, "
                           f"then {b - a} more); --length sets it", err=True)
        for s in starts:
            if s < 0 or s + (b - a) > frames:
                raise MotionkitError(f"--at {s}: the {b - a}-frame ROI would run past the output's {frames} frames "
                                     f"(frames 0 to {frames - (b - a)} can start it; --length sets the output)")
        for s0, s1 in zip(starts[:-1], starts[1:]):
            if s1 < s0 + (b - a):
                raise MotionkitError(f"--at {s0},{s1}: the {b - a}-frame ROI copies would overlap")
        if joints and frames > motion.frames:
            raise MotionkitError(f"--keep needs the output ({frames} frames) no longer than {where} "
                                 f"({motion.frames} frames)")
        out = edit.compose(model, motion.slice(a, b), starts, frames, source=motion if joints else None,
                           joints=joints, n=count, rng=rng(seed), foot_fix=foot_fix,
                           name=f"{motion.name or 'motion'}_compose",
                           metadata={"operation": "compose", "model": path, "seed": seed, "roi": [a, b],
                                     "at": starts, "keep": keep})
        emit(out, output or default_output(path, "compose", count), to, inputs=(path, source))
