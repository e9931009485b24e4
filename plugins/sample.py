"""`motionkit sample`: new variations from a trained model, one forward pass per batch (noise at the first stage,
GANimator's sampling), any length, on the clip's full skeleton, units and frame rate. With ``--keep`` it is the
paper's body-part composition (§4.2): the kept joints come from the clip (or ``--source``) at level 2, the rest
of the body is generated around them, and the kept joints come out exactly as they were."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import (FPS, count_option, default_output, emit, foot_fix_option, keep_option, length_options,
                      load_models, models_option, output_option, read_source, requested_frames, rng, seed_option,
                      to_option, training_clip)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @models_option
    @count_option(1, "How many variations.")
    @length_options
    @click.option("--fps", type=FPS, default=None, help="Output frame rate (default: the clip's).")
    @seed_option
    @foot_fix_option
    @keep_option
    @click.option("--source", default=None, help="With --keep: the motion whose body part is kept (default: the training clip).")
    @output_option()
    @to_option
    def sample(model_paths, count, length, seconds, fps, seed, foot_fix, keep, source, output, to):
        """Generate COUNT new variations of the trained clip (default: as long as the clip).

        With several models (-m repeated or a glob), COUNT from each, named after its model (MODEL_000, …): one
        NPZ or glTF file holds them all, and `-o 'out/%s.bvh'` writes a BVH each."""
        import numpy as np

        from motionkit import edit
        from motionkit.errors import MotionkitError

        loaded = load_models(model_paths)
        if (keep or source) and len(loaded) > 1:
            raise MotionkitError("--keep composes with one model at a time: give one -m")
        motions = []
        for path, model, label in loaded:
            out_fps = fps or model.source_fps
            meta = {"operation": "sample", "model": path, "seed": seed}
            if keep or source:
                if not keep:
                    raise MotionkitError("--source is for --keep: say which body part to keep")
                motion = read_source(source, model) if source else training_clip(model, path, "--source")
                if requested_frames(length, seconds, motion.fps, None) not in (None, motion.frames):
                    raise MotionkitError(f"--keep follows the source: the output has its {motion.frames} frames "
                                         "(leave out --length/--seconds, or cut the source with `motionkit convert "
                                         "--frames`)")
                if fps:
                    motion = motion.resampled(fps)
                motions += edit.conditioned(model, motion, np.zeros(motion.frames, bool), edit.body_part(model, keep),
                                            n=count, rng=rng(seed), foot_fix=foot_fix, name="sample",
                                            metadata={**meta, "keep": keep})
            else:
                frames = requested_frames(length, seconds, out_fps, model.clip_frames(out_fps))
                motions += edit.sample(model, count, frames, out_fps, rng(seed), foot_fix=foot_fix, name=label,
                                       metadata=meta)
        paths = tuple(p for p, _, _ in loaded)
        emit(motions, output or default_output(paths[0] if len(paths) == 1 else "models", "sample", len(motions)),
             to, inputs=(*paths, source))
