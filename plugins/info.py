"""`motionkit info FILE`: what a motion file holds — joints, frames, rate, units, channel layout, feet."""
from __future__ import annotations

import json
from collections import Counter

import click

from motionkit import hookimpl


def describe(motion) -> dict:
    import numpy as np

    from motionkit import anatomy

    sk = motion.skeleton
    height = anatomy.body_height(motion)
    unit, factor = anatomy.guess_units(height)
    scores = anatomy.contact_scores(motion, height)
    contacts = anatomy.guess_contacts(motion, height)
    moving_t = np.ptp(motion.translations, axis=0).max(axis=-1) > anatomy.STILL * height
    layout = Counter(" ".join(c) if c else "(none)" for c in sk.channels[1:])
    return {
        "name": motion.name,
        "joints": len(sk),
        "end_sites": len(sk.end_sites),
        "frames": motion.frames,
        "fps": motion.fps,
        "duration_s": round(motion.duration, 4),
        "height": round(height, 6),
        "units_guess": unit,
        "metres_per_unit": factor,
        "root": sk.names[0],
        "root_channels": list(sk.channels[0]),
        "joint_channels": dict(layout.most_common()),
        "animated_positions": [sk.names[j] for j in range(1, len(sk)) if sk.has_position(j)],
        "moving_positions": [sk.names[j] for j in range(len(sk)) if moving_t[j]],
        "travel_joint": sk.names[anatomy.travel_joint(motion)],
        "contacts_guess": [sk.names[j] for j in contacts],
        "contact_frames": {sk.names[j]: round(scores[j], 3) for j in contacts},
        "metadata": motion.metadata,
    }


def _safe(name: str) -> str:
    """A joint name as it may be shown on a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("file", type=str)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def info(file, as_json):
        """Describe the motions in FILE (or - for stdin)."""
        from motionkit.files import read_motions

        rows = [describe(m) for m in read_motions(file)]
        if as_json:
            click.echo(json.dumps(rows if len(rows) > 1 else rows[0], indent=2))
            return
        for i, r in enumerate(rows):
            if len(rows) > 1:
                click.echo(f"--- motion {i}")
            click.echo(f"name        {_safe(r['name']) or '(unnamed)'}")
            click.echo(f"joints      {r['joints']} (+{r['end_sites']} end sites), root {_safe(r['root'])}")
            click.echo(f"frames      {r['frames']} at {r['fps']:g} fps ({r['duration_s']:.2f} s)")
            click.echo(f"height      {r['height']:.4g} units; units look like {r['units_guess']} "
                       f"({r['metres_per_unit']:g} m per unit)")
            click.echo(f"root chans  {' '.join(r['root_channels']) or '(none)'}")
            for layout, n in r["joint_channels"].items():
                click.echo(f"joint chans {n} × {layout}")
            if r["animated_positions"]:
                click.echo(f"positions   {len(r['animated_positions'])} non-root joints animate their position")
            click.echo(f"travel      {_safe(r['travel_joint'])} carries the character"
                       + (" (the root above it never moves)" if r['travel_joint'] != r['root'] else ""))
            moving = [n for n in r["moving_positions"] if n != r["travel_joint"]]
            if moving:
                click.echo(f"offsets     {len(moving)} joints move their offset: {', '.join(_safe(n) for n in moving[:6])}"
                           + (" …" if len(moving) > 6 else ""))
            feet = ", ".join(f"{_safe(n)} ({100 * f:.0f} % of frames)" for n, f in r["contact_frames"].items())
            click.echo(f"feet guess  {feet or '(none found)'}")
            if feet:
                click.echo("            (standing: at its lowest and nearly still)")
