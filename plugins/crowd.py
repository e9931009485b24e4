"""`motionkit crowd`: many variants in one scene (the paper's §4.2, crowd generation). Codes drawn from N(0, I)
share the clip's low-frequency base and differ in detail, so one batched forward pass gives a crowd performing
the same kind of motion; each character is then moved so that no two ever overlap."""
from __future__ import annotations

import math

import click

from motionkit import hookimpl

from ._shared import (DISTANCE, count_option, default_output, emit, foot_fix_option, length_options,
                      load_models, models_option, output_option, requested_frames, rng, seed_option, to_option)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @models_option
    @count_option(10, "How many characters.")
    @length_options
    @click.option("--layout", type=click.Choice(["grid", "circle", "random"]), default="grid", show_default=True)
    @click.option("--spacing", type=DISTANCE, default=None,
                  help="Extra gap between characters' footprints, in metres (default: a quarter of their height).")
    @click.option("--offset-time", is_flag=True, help="Start each character at a different point of its motion.")
    @seed_option
    @click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto",
                  show_default=True,
                  help="The networks' arithmetic: auto is bfloat16 where the CPU or GPU computes it natively (the "
                       "forward pass over 2x faster, joints within a fraction of a percent of float32's), else "
                       "float32.")
    @foot_fix_option
    @output_option("One .glb/.gltf scene, one .npz batch, or crowd_%03d.bvh files (default: NPZ on a pipe, "
                   "else MODEL-crowd.glb).")
    @to_option
    def crowd(model_paths, count, length, seconds, layout, spacing, offset_time, seed, precision, foot_fix, output,
              to):
        """A crowd of COUNT variants (default: as long as the clip), placed without overlaps, in one scene.

        Several models of one rig (-m repeated or a glob) share the COUNT characters in turn: a crowd of takes."""
        import numpy as np

        from motionkit import anatomy, edit, placement
        from motionkit.errors import MotionkitError

        loaded = load_models(model_paths)
        first = loaded[0][1]
        for path, model, _ in loaded[1:]:
            if model.enc.skeleton.names != first.enc.skeleton.names:
                raise MotionkitError(f"a crowd mixes models of one rig: its skeleton is not {loaded[0][0]}'s", path)
        fps = first.source_fps
        length = requested_frames(length, seconds, fps, first.clip_frames(fps))
        # --offset-time: generate a second more and start each character somewhere in that second
        extra = int(math.ceil(fps)) if offset_time else 0
        motions, worlds = [], []  # each character's world transforms: its footprint for the placement
        for k, (path, model, label) in enumerate(loaded):  # characters dealt to the models in turn
            n = count // len(loaded) + (k < count % len(loaded))
            s = None if seed is None else seed + k  # each model its own noise
            if n:
                ms, ws = edit.sample_with_world(model, n, length + extra, fps, rng(s), foot_fix=foot_fix,
                                                name="crowd" if len(loaded) == 1 else label, precision=precision,
                                                metadata={"operation": "crowd", "model": path, "seed": s})
                motions, worlds = motions + ms, worlds + ws
        shuffle = np.random.default_rng(seed)
        if extra:
            starts = [int(shuffle.integers(0, extra + 1)) for _ in motions]
            motions = [m.slice(s, s + length) for m, s in zip(motions, starts)]
            worlds = [(r[s:s + length], p[s:s + length]) for (r, p), s in zip(worlds, starts)]
        units = anatomy.guess_units(first.enc.height)[1]  # metres per unit
        margin = spacing / units if spacing is not None else None
        motions = placement.place_crowd(motions, layout, margin, shuffle, worlds)
        paths = tuple(p for p, _, _ in loaded)
        emit(motions, output or default_output(paths[0] if len(paths) == 1 else "models", "crowd", count, ".glb"), to,
             inputs=paths, options={"placements": [np.zeros(3)] * count, "scale": units})
