"""Finding, loading and saving models for the commands: -m/--model, else $MOTIONKIT_MODEL, else the last model
trained in the current directory (recorded in ./.motionkit-model)."""
from __future__ import annotations

import os
import sys

import click

from motionkit.errors import MotionkitError

DEFAULT_FILE = ".motionkit-model"


def record_default(path: str):
    from motionkit.io import atomic_write

    atomic_write(DEFAULT_FILE, (os.path.abspath(path) + "\n").encode())


def find_model(option: str | None) -> str:
    if option:
        return option
    if os.environ.get("MOTIONKIT_MODEL"):
        path = os.environ["MOTIONKIT_MODEL"]
        click.echo(f"using model {path} (from $MOTIONKIT_MODEL)", err=True)
        return path
    if os.path.exists(DEFAULT_FILE):
        path = open(DEFAULT_FILE).read().strip()
        click.echo(f"using model {path} (the last one trained here)", err=True)
        return path
    raise MotionkitError("no model: give -m MODEL, set $MOTIONKIT_MODEL, or run `motionkit train CLIP` here first")


def load_model(path: str):
    from motionkit.io import read_bytes
    from motionkit.modelfile import loads

    return loads(read_bytes(path), path)


def default_output(model_path: str, operation: str, ext: str = ".bvh") -> str:
    """NPZ to stdout on a pipe; at a terminal a new file named after the model and the operation."""
    if not sys.stdout.isatty():
        return "-"
    stem = os.path.splitext(os.path.basename(model_path))[0]
    path, k = f"{stem}-{operation}{ext}", 1
    while os.path.exists(path):
        path, k = f"{stem}-{operation}-{k}{ext}", k + 1
    return path


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise MotionkitError("--device cuda: no CUDA device is available to torch")
    return name


def model_option(f):
    return click.option("-m", "--model", "model_path", default=None,
                        help="Model file (default: $MOTIONKIT_MODEL, else the last one trained here).")(f)


def seed_option(f):
    return click.option("--seed", type=int, default=None, help="Same seed, same model ⇒ same result.")(f)


def foot_fix_option(f):
    return click.option("--foot-fix/--no-foot-fix", default=True, show_default=True,
                        help="Hold feet still where the model predicts ground contact (IK foot locking).")(f)


def keep_option(f):
    return click.option("--keep", default=None, metavar="lower|upper|JOINT,...",
                        help="Body part kept from the source (named joints keep their whole subtree).")(f)


def generator(seed):
    import torch

    return torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2 ** 31)


def emit(motions, output, to, model_path, operation, inputs=(), ext=".bvh", options=None):
    """Write the result: -o, else NPZ to stdout on a pipe, else a new MODEL-OPERATION file here."""
    from motionkit.io import write_motions

    target = output or default_output(model_path, operation, ext if len(motions) == 1 or ext != ".bvh" else ".npz")
    for p in write_motions(motions, target, to, options=options, inputs=(model_path, *inputs)):
        if p != "-":
            click.echo(f"wrote {p}", err=True)


def read_source(path: str, model):
    """The one motion in ``path``, checked against the model's skeleton (a clear error naming the mismatch)."""
    from motionkit.io import read_motions

    motion = read_motions(path)[0]
    a, b = motion.skeleton.names, model.enc.skeleton.names
    if a != b:
        extra = [n for n in a if n not in b][:3]
        missing = [n for n in b if n not in a][:3]
        detail = (f"{len(a)} joints vs the model's {len(b)}" + (f"; not in the model: {', '.join(extra)}" if extra else "")
                  + (f"; missing: {', '.join(missing)}" if missing else "") if extra or missing or len(a) != len(b)
                  else "same joints in a different order")
        raise MotionkitError(f"its skeleton does not match the model's ({detail})", path)
    return motion
