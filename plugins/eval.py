"""`motionkit eval REFERENCE GENERATED...`: GANimator's coverage and diversity metrics (see motionkit.metrics)."""
from __future__ import annotations

import json

import click

from motionkit import hookimpl


def _table(report: dict) -> str:
    rows = [(p["name"] or f"sample {i}", p["frames_30fps"], p["coverage"], p["global_diversity"],
             p["local_diversity"]) for i, p in enumerate(report["per_sample"])]
    out = [f"reference {report['reference'] or '(unnamed)'}: {report['reference_frames_30fps']} frames at 30 fps, "
           f"{len(report['joints'])} joints + {len(report['contacts'])} contacts (feature width "
           f"{report['feature_width']})",
           f"{'sample':<28} {'frames':>6} {'coverage':>9} {'global':>8} {'local':>8}"]
    for name, n, c, g, l in rows:
        out.append(f"{name[:28]:<28} {n:>6} {c:>9.3f} {g:>8.3f} {l:>8.3f}")
    out.append(f"{'mean':<28} {'':>6} {report['coverage']:>9.3f} {report['global_diversity']:>8.3f} "
               f"{report['local_diversity']:>8.3f}")
    inter = report["inter_diversity"]
    out.append(f"inter-sample diversity {inter:.3f}" if inter is not None else
               "inter-sample diversity: needs two or more samples")
    out.append(f"harmonic mean {report['harmonic_mean']:.3f}")
    return "\n".join(out)


@hookimpl
def register_commands(cli):
    @cli.command(name="eval")
    @click.argument("reference")
    @click.argument("generated", nargs=-1, required=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.option("-o", "--output", default=None, help="Also write the JSON report to this file.")
    def eval_command(reference, generated, as_json, output):
        """Coverage, global/local and inter-sample diversity of GENERATED motions against REFERENCE.

        GANimator's definitions (SIGGRAPH 2022, §6): 30-frame coverage windows at ε = 2.0, patched nearest
        neighbour over segments of at least 30 frames, 15-frame local windows; all at 30 fps. Any format; a file
        may hold several samples (NPZ, glTF)."""
        from motionkit.io import atomic_write, read_motions, refuse_overwriting_input
        from motionkit.metrics import evaluate

        ref = read_motions(reference)[0]
        gen = []
        for path in generated:
            for k, m in enumerate(read_motions(path)):
                gen.append(m.replace(name=m.name or f"{path}#{k}"))
        report = evaluate(ref, gen)
        text = json.dumps(report, indent=2)
        if output:
            refuse_overwriting_input(output, (reference, *generated))
            atomic_write(output, (text + "\n").encode())
        click.echo(text if as_json else _table(report))
