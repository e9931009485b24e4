"""`motionkit inpaint SOURCE --frames 120:180`: the paper's full-body composition, option (a) (§4.2, eq. 5).
The listed intervals are removed from the source and regenerated: at the input of level 2 the generated coarse
motion fills them while the downsampled source is kept everywhere else, T = (M ⊙ T̂) ⊕ (M̃ ⊙ ↓T), and the later
generators refine the whole. Outside the intervals the source is kept exactly; the new frames blend into it
over a few frames and the root's path meets the source again on the far side."""
from __future__ import annotations

import click

from motionkit import hookimpl

from .common import parse_range, to_option
from .models import (emit, find_model, foot_fix_option, generator, keep_option, load_model, model_option,
                     read_source, seed_option)


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("source")
    @click.option("--frames", "spans", multiple=True, required=True, metavar="START:STOP",
                  help="Frames of SOURCE to regenerate (repeat for several intervals).")
    @model_option
    @keep_option
    @click.option("-n", "count", type=int, default=1, show_default=True, help="How many versions.")
    @seed_option
    @foot_fix_option
    @click.option("-o", "--output", default=None, help="Output file or - (default: NPZ on a pipe, else MODEL-inpaint.bvh).")
    @to_option
    def inpaint(source, spans, model_path, keep, count, seed, foot_fix, output, to):
        """Regenerate the given frame intervals of SOURCE, keep the rest."""
        from motionkit import edit
        from motionkit.errors import MotionkitError

        path = find_model(model_path)
        model = load_model(path)
        motion = read_source(source, model)
        ranges = sorted(parse_range(s, motion.frames) for s in spans)
        for (a0, b0), (a1, b1) in zip(ranges[:-1], ranges[1:]):
            if a1 < b0:
                raise MotionkitError(f"--frames {a0}:{b0} and {a1}:{b1} overlap")
        joints = edit.body_part(model, keep) if keep else None
        out = edit.inpaint(model, motion, ranges, joints=joints, n=count, generator=generator(seed),
                           foot_fix=foot_fix, name=f"{motion.name or 'motion'}_inpaint",
                           metadata={"operation": "inpaint", "model": path, "seed": seed,
                                     "frames": [list(r) for r in ranges], "keep": keep})
        emit(out, output, to, path, "inpaint", inputs=(source,))
