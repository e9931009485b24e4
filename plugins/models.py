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
