"""The model file (.mkm): data, never code. A NumPy .npz read with allow_pickle=False — a JSON header (format
version, configuration, encoding, pyramid, amplitudes, provenance) and float32 arrays (z*, generator weights)."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict

import numpy as np

from .errors import MotionkitError

FORMAT = "motionkit-model"
VERSION = 2  # 2: skeleton convolutions stored as masked dense weights


def dumps(model) -> bytes:
    header = {"format": FORMAT, "version": VERSION, "config": asdict(model.config), "encoding": model.enc.to_dict(),
              "lengths": model.lengths, "amplitudes": model.amplitudes, "trained_levels": model.trained_levels,
              "provenance": model.provenance}
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
              "z_star": model.z_star.detach().cpu().numpy()}
    for s, g in enumerate(model.generators):
        for name, t in g.state_dict().items():
            arrays[f"G{s}/{name}"] = t.detach().cpu().numpy()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def loads(data: bytes, source: str = "model"):
    import torch

    from . import features as feat
    from .train import Config, Model

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
                      Config(**header["config"]), trained_levels=header["trained_levels"],
                      provenance=header.get("provenance", {}))
        for s, g in enumerate(model.generators):
            g.load_state_dict({name: torch.from_numpy(arrays[f"G{s}/{name}"]) for name in g.state_dict()})
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise MotionkitError(f"malformed model file ({type(e).__name__}: {str(e)[:80]})", source) from None
    return model
