"""`motionkit crowd`: many variants in one scene (the paper's §4.2, crowd generation). Codes drawn from N(0, I)
share the clip's low-frequency base and differ in detail, so one batched forward pass gives a crowd performing
the same kind of motion; each character is then moved so that no two ever overlap."""
from __future__ import annotations

import math

import click

from motionkit import hookimpl

from .common import to_option
from .models import emit, find_model, foot_fix_option, generator, load_model, model_option, seed_option


@hookimpl
def register_commands(cli):
    @cli.command()
    @model_option
    @click.option("-n", "count", type=int, default=10, show_default=True, help="How many characters.")
    @click.option("--length", type=int, default=None, help="Frames (at the clip's frame rate).")
    @click.option("--seconds", type=float, default=None, help="Duration (default: the clip's).")
    @click.option("--layout", type=click.Choice(["grid", "circle", "random"]), default="grid", show_default=True)
    @click.option("--spacing", type=float, default=None,
                  help="Extra gap between characters' footprints, in metres (default: a quarter of their height).")
    @click.option("--offset-time", is_flag=True, help="Start each character at a different point of its motion.")
    @seed_option
    @foot_fix_option
    @click.option("-o", "--output", default=None,
                  help="One .glb/.gltf scene, one .npz batch, or crowd_%03d.bvh files (default: NPZ on a pipe, "
                       "else MODEL-crowd.glb).")
    @to_option
    def crowd(model_path, count, length, seconds, layout, spacing, offset_time, seed, foot_fix, output, to):
        """A crowd of COUNT variants, placed without overlaps, in one scene."""
        import numpy as np

        from motionkit import anatomy, edit, layout as lay
        from motionkit.errors import MotionkitError
        from motionkit.footfix import fix_feet

        path = find_model(model_path)
        model = load_model(path)
        if count < 1:
            raise MotionkitError("-n must be at least 1")
        fps = float(model.provenance.get("source_fps") or model.enc.fps)
        if length is not None and seconds is not None:
            raise MotionkitError("give --length or --seconds, not both")
        if length is None:
            length = int(round((seconds if seconds is not None else model.lengths[-1] / model.enc.fps) * fps))
        if length < 2:
            raise MotionkitError("the requested length is under two frames")
        gen = generator(seed)
        rng = np.random.default_rng(seed)
        # --offset-time: generate a second more and start each character somewhere in that second
        extra = int(math.ceil(fps)) if offset_time else 0
        x = edit.generate(model, count, edit.model_frames(model, length + extra, fps), gen)
        motions = []
        for i, m in enumerate(edit.decode(model, x, fps, length + extra)):
            if foot_fix:
                m = fix_feet(m)
            start = int(rng.integers(0, extra + 1)) if extra else 0
            m = m.slice(start, start + length)
            m = m.replace(name=f"crowd_{i:03d}", metadata={**m.metadata, "operation": "crowd", "model": path,
                                                           "seed": seed, "index": i})
            motions.append(m)
        units = anatomy.guess_units(model.enc.skeleton)[1]  # metres per unit
        margin = spacing / units if spacing is not None else None
        motions = lay.place(motions, layout, margin, rng)
        emit(motions, output, to, path, "crowd", ext=".glb", options={"placements": [np.zeros(3)] * count})
