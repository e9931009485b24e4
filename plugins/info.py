"""`motionkit info FILE`: what a motion file holds — joints, frames, rate, units, channel layout, feet — or, for a
model file (.mkm), what the model was trained on and how it samples."""
from __future__ import annotations

import json
from collections import Counter

import click

from motionkit import hookimpl

from ._shared import up_option


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
        "up": sk.up,
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


def describe_model(model) -> dict:
    """What a model file says of itself: its clip, the joints and feet it models, its pyramid and training, and the
    sampling calibration (everything from the file's header; nothing is generated)."""
    enc, sk, cfg, p = model.enc, model.enc.skeleton, model.config, model.provenance

    def names(idx):
        return [sk.names[j] for j in idx]

    levels = p.get("levels") if isinstance(p.get("levels"), dict) else {}
    return {
        "clip": p.get("clip"), "clip_sha256": p.get("sha256"), "clip_frames": model.lengths[-1], "fps": enc.fps,
        "up": sk.up, "travel_joint": sk.names[enc.travel], "heading": "rate" if enc.heading else "world",
        "modelled_joints": names(enc.joints), "contacts": names(enc.contacts), "offsets": names(enc.offsets),
        "feature_channels": enc.width, "pyramid": list(model.lengths), "levels": len(model.levels),
        "trained_levels": model.trained_levels, "preset": cfg.preset, "batch": cfg.batch, "seed": cfg.seed,
        "iterations": list(cfg.iterations),
        "iterations_run": [  # a stretched level's record, else its fixed budget; None: not trained
            (levels.get(str(k + 1)) or {}).get("iterations", cfg.iterations[min(k, len(cfg.iterations) - 1)])
            if k < model.trained_levels else None for k in range(len(model.levels))],
        "temperature": model.temperature, "contact_threshold": model.contact_threshold,
        "precision": p.get("precision"), "device": p.get("device"), "motionkit": p.get("motionkit"),
        "torch": p.get("torch"), "init": (p.get("init") or {}).get("model") if isinstance(p.get("init"), dict)
        else None,
    }


def _show_model(r: dict) -> None:
    def listed(items, most=8):
        return ", ".join(_safe(str(n)) for n in items[:most]) + (f" … ({len(items)} in all)" if len(items) > most else "")

    ran = [str(n) if n is not None else "–" for n in r["iterations_run"]]
    click.echo(f"model       trained on {_safe(str(r['clip']))} ({r['clip_frames']} frames at {r['fps']:g} fps)"
               + (f", started from {_safe(str(r['init']))}" if r["init"] else ""))
    click.echo(f"levels      {r['trained_levels']} of {r['levels']} trained"
               + (" (partial: `train --resume` finishes it)" if r["trained_levels"] < r["levels"] else ""))
    click.echo(f"recipe      {r['preset']}: batch {r['batch']}, seed {r['seed']}, iterations run "
               f"{' / '.join(ran)} (budget {' / '.join(map(str, r['iterations']))})"
               + (f"; {r['precision']} on {r['device']}" if r["precision"] else ""))
    click.echo(f"up          {_up(r['up'])}")
    click.echo(f"travel      {_safe(r['travel_joint'])} carries the character; heading in "
               + ("the features as a turning rate" if r["heading"] == "rate" else "the world frame"))
    click.echo(f"modelled    {len(r['modelled_joints'])} joints: {listed(r['modelled_joints'])}")
    click.echo(f"contacts    {listed(r['contacts']) or 'none (no foot locking)'}")
    if r["offsets"]:
        click.echo(f"offsets     {listed(r['offsets'], 6)}")
    click.echo(f"pyramid     {len(r['pyramid'])} stages: {', '.join(map(str, r['pyramid']))} frames; "
               f"{r['feature_channels']} feature channels")
    click.echo(f"sampling    temperature {r['temperature']:g}; a foot is down where its label is above "
               f"{r['contact_threshold']:g}")


def _up(axis: str) -> str:
    if axis == "y":
        return "+Y (the motion stands on it)"
    return (f"{'-' if axis.startswith('-') else '+'}{axis[-1].upper()} in the file (the motion stands on it): held +Y up, "
            "written back to BVH as the file had it")


def _safe(name: str) -> str:
    """A joint name as it may be shown on a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("file", type=str)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @up_option
    def info(file, as_json, up):
        """Describe the motions in FILE (or - for stdin), or the model in a model file."""
        from motionkit.files import read_bytes, read_motions, shown
        from motionkit.modelfile import is_model

        data = read_bytes(file)
        if file.lower().endswith(".mkm") or is_model(data):  # by name, or by what it holds
            from motionkit.modelfile import loads

            r = describe_model(loads(data, "<stdin>" if file == "-" else shown(file)))
            click.echo(json.dumps(r, indent=2)) if as_json else _show_model(r)
            return
        rows = [describe(m) for m in read_motions(file, data=data, up=up)]
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
            click.echo(f"up          {_up(r['up'])}")
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
