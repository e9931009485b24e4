"""The model file (.mkm): data, never code. A NumPy .npz read with allow_pickle=False — a JSON header (format
version, configuration, encoding, pyramid, amplitudes, provenance) and float32 arrays (z*, generator weights,
the training clip)."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict

import numpy as np

from .errors import MotionkitError

FORMAT = "motionkit-model"
VERSION = 3  # 2: masked skeleton convolutions, the training clip; 3: travel joint, rig-free frames, offsets


def dumps(model) -> bytes:
    header = {"format": FORMAT, "version": VERSION, "config": asdict(model.config), "encoding": model.enc.to_dict(),
              "lengths": model.lengths, "amplitudes": model.amplitudes, "trained_levels": model.trained_levels,
              "provenance": model.provenance}
    arrays = {"z_star": model.z_star.detach().cpu().numpy()}
    for s, g in enumerate(model.generators):
        arrays.update({f"G{s}/{name}": a for name, a in _pack(g).items()})
    if model.clip is not None:  # the training clip itself, for operations that reuse its frames (compose, --keep)
        header["clip"] = {"fps": model.clip.fps, "name": model.clip.name}
        arrays["clip/rotations"] = model.clip.rotations.astype(np.float32)
        arrays["clip/translations"] = model.clip.translations.astype(np.float32)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _is_masked(g, name: str) -> bool:
    from .gan import SkeletonConv

    module, _, leaf = name.rpartition(".")
    return leaf == "weight" and isinstance(g.get_submodule(module), SkeletonConv)


def _pack(g) -> dict:
    """A generator's tensors to store; a skeleton convolution's weight only where its mask is 1 (a fifth)."""
    out = {}
    for name, t in g.state_dict().items():
        if _is_masked(g, name):
            t = t[g.get_submodule(name.rpartition(".")[0]).mask > 0]
        out[name] = t.detach().cpu().numpy()
    return out


def _unpack(g, arrays: dict):
    import torch

    state = {}
    for name, t in g.state_dict().items():
        value = torch.from_numpy(arrays[name])
        if _is_masked(g, name):
            full = torch.zeros_like(t)
            full[g.get_submodule(name.rpartition(".")[0]).mask > 0] = value
            value = full
        state[name] = value
    g.load_state_dict(state)


def loads(data: bytes, source: str = "model"):
    import torch

    from . import features as feat
    from .model import Config, Model

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if "header" not in z.files:
                raise MotionkitError("not a motionkit model file", source)
            header = json.loads(bytes(z["header"]).decode())
            if header.get("format") != FORMAT:
                raise MotionkitError("not a motionkit model file", source)
            if header.get("version") != VERSION:
                age = "a newer" if int(header.get("version", 0)) > VERSION else "an older"
                raise MotionkitError(f"model written by {age} motionkit (file format {header.get('version')}, "
                                     f"this one reads {VERSION}): retrain it", source)
            arrays = {k: z[k] for k in z.files if k != "header"}
    except MotionkitError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, json.JSONDecodeError) as e:
        raise MotionkitError(f"corrupt or truncated model file ({type(e).__name__})", source) from None
    try:
        enc = feat.Encoding.from_dict(header["encoding"])
        model = Model(enc, header["lengths"], header["amplitudes"], torch.from_numpy(arrays["z_star"]),
                      Config(**{"noise": "full", **header["config"]}), trained_levels=header["trained_levels"],
                      provenance=header.get("provenance", {}))
        for s, g in enumerate(model.generators):
            _unpack(g, {name: arrays[f"G{s}/{name}"] for name in g.state_dict()})
        if "clip" in header:
            from .motion import Motion

            model.clip = Motion(enc.skeleton, arrays["clip/rotations"].astype(np.float64),
                                arrays["clip/translations"].astype(np.float64), float(header["clip"]["fps"]),
                                name=header["clip"].get("name", ""))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise MotionkitError(f"malformed model file ({type(e).__name__}: {str(e)[:80]})", source) from None
    return model
