"""`motionkit crowd`: many variants in one scene (the paper's §4.2, crowd generation). Codes drawn from N(0, I)
share the clip's low-frequency base and differ in detail, so one batched forward pass gives a crowd performing
the same kind of motion; each character is then moved so that no two ever overlap."""
from __future__ import annotations

import math

import click

from motionkit import hookimpl

from ._shared import (DISTANCE, count_option, default_output, emit, foot_fix_option, length_options,
                      load_model, model_option, output_option, requested_frames, rng, seed_option, to_option)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @model_option
    @count_option(10, "How many characters.")
    @length_options
    @click.option("--layout", type=click.Choice(["grid", "circle", "random"]), default="grid", show_default=True)
    @click.option("--spacing", type=DISTANCE, default=None,
                  help="Extra gap between characters' footprints, in metres (default: a quarter of their height).")
    @click.option("--offset-time", is_flag=True, help="Start each character at a different point of its motion.")
    @seed_option
    @foot_fix_option
    @output_option("One .glb/.gltf scene, one .npz batch, or crowd_%03d.bvh files (default: NPZ on a pipe, "
                   "else MODEL-crowd.glb).")
    @to_option
    def crowd(model_path, count, length, seconds, layout, spacing, offset_time, seed, foot_fix, output, to):
        """A crowd of COUNT variants (default: as long as the clip), placed without overlaps, in one scene."""
        import numpy as np

        from motionkit import anatomy, edit, placement

        path, model = load_model(model_path)
        fps = model.source_fps
        length = requested_frames(length, seconds, fps, model.clip_frames(fps))
        # --offset-time: generate a second more and start each character somewhere in that second
        extra = int(math.ceil(fps)) if offset_time else 0
        motions = edit.sample(model, count, length + extra, fps, rng(seed), foot_fix=foot_fix, name="crowd",
                              metadata={"operation": "crowd", "model": path, "seed": seed})
        shuffle = np.random.default_rng(seed)
        if extra:
            motions = [m.slice(s, s + length) for m, s in zip(motions, [int(shuffle.integers(0, extra + 1)) for _ in motions])]
        units = anatomy.guess_units(model.enc.height)[1]  # metres per unit
        margin = spacing / units if spacing is not None else None
        motions = placement.place_crowd(motions, layout, margin, shuffle)
        emit(motions, output or default_output(path, "crowd", count, ".glb"), to, inputs=(path,),
             options={"placements": [np.zeros(3)] * count, "scale": units})
