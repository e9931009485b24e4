"""The model file (.mkm): data, never code. A NumPy .npz read with allow_pickle=False — a JSON header (format
version, configuration, encoding, pyramid, amplitudes, provenance) and float32 arrays (z*, generator weights,
the training clip)."""
from __future__ import annotations

import io
import json
from dataclasses import asdict

import numpy as np

from . import limits, safenpz
from .errors import MotionkitError

FORMAT = "motionkit-model"
VERSION = 3  # 2: masked skeleton convolutions, the training clip; 3: travel joint, rig-free frames, offsets


def dumps(model) -> bytes:
    header = {"format": FORMAT, "version": VERSION, "config": asdict(model.config), "encoding": model.enc.to_dict(),
              "lengths": model.lengths, "amplitudes": model.amplitudes, "trained_levels": model.trained_levels,
              "temperature": model.temperature, "contact_threshold": model.contact_threshold,
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


def _unpack(g, arrays: dict, bad):
    import torch

    state = {}
    for name, t in g.state_dict().items():
        a = arrays[name]
        mask_size = int((g.get_submodule(name.rpartition(".")[0]).mask > 0).sum()) if _is_masked(g, name) else None
        if a is None or (a.shape != (mask_size,) if mask_size is not None else a.shape != tuple(t.shape)):
            bad(f"the generators' weights do not match the encoding ({name})")
        value = torch.from_numpy(a.astype(np.float32))
        if _is_masked(g, name):
            full = torch.zeros_like(t)
            full[g.get_submodule(name.rpartition(".")[0]).mask > 0] = value
            value = full
        state[name] = value
    g.load_state_dict(state)


def _check_training(config, bad) -> None:
    """The training knobs a file carries (``train --resume`` trains with them): numbers of the right kind, in
    ranges a training can run with — a crafted batch of 10^12 must not reach an allocation."""
    from . import gan

    def number(v, low, high, integer=False):
        if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)):
            return False
        return (isinstance(v, int) or bool(np.isfinite(v))) and low <= v <= high

    def numbers(v, low, high, integer=False):
        return isinstance(v, list) and 1 <= len(v) <= 64 and all(number(x, low, high, integer) for x in v)

    checks = {"batch": number(config.batch, 1, 4096, True), "d_steps": number(config.d_steps, 1, 100, True),
              "gp_every": number(config.gp_every, 1, 1000, True),
              "transfer_layers": number(config.transfer_layers, 0, len(gan.HIDDEN) + 1, True),
              "window": number(config.window, 0, limits.limit("MOTIONKIT_MAX_FRAMES"), True),
              "seed": number(config.seed, -2 ** 63, 2 ** 63 - 1, True),
              "iterations": numbers(config.iterations, 0, 10 ** 7, True),
              "lambda_adv": numbers(config.lambda_adv, 0, 1e6), "lambda_rec": numbers(config.lambda_rec, 0, 1e6),
              "lambda_cover": numbers(config.lambda_cover, 0, 1e6),
              "lambda_contact": number(config.lambda_contact, 0, 1e6), "lambda_gp": number(config.lambda_gp, 0, 1e6),
              "lr": number(config.lr, 1e-12, 1.0), "stretch": number(config.stretch, 1.0, 100.0)}
    for name, ok in checks.items():
        if not ok:
            bad(f"{name} {getattr(config, name)!r:.40}")


def is_model(data: bytes) -> bool:
    """Whether ``data`` is a model file, by what it holds (an archive whose header names this format), not by its
    name: any file that is not one, or is broken, answers False."""
    if data[:4] != b"PK\x03\x04":
        return False
    try:
        raw = safenpz.load(data, "model", "model file").get("header")
        return (raw is not None and raw.dtype == np.uint8 and raw.ndim == 1
                and json.loads(raw.tobytes().decode()).get("format") == FORMAT)
    except (MotionkitError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, AttributeError):
        return False


def loads(data: bytes, source: str = "model"):
    """A Model from model-file bytes, every value checked against the others before anything is built."""
    import torch

    from . import features as feat
    from .model import Config, Model, levels

    arrays = safenpz.load(data, source, "model file")
    raw = arrays.pop("header", None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise MotionkitError("not a motionkit model file", source)
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise MotionkitError("not a motionkit model file (its header is not JSON)", source) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise MotionkitError("not a motionkit model file", source)
    version = header.get("version")
    if version != VERSION:
        age = "a newer" if isinstance(version, int) and version > VERSION else "an older"
        raise MotionkitError(f"model written by {age} motionkit (file format {version!r}, this one reads {VERSION}): "
                             "retrain it", source)

    def bad(what: str):
        raise MotionkitError(f"malformed model file: {what}", source)

    try:
        config = Config(**{"noise": "full", "stretch": 1.0, "heading": False, "lambda_cover": [0.0],  # older files: what they did
                           **header["config"]})
        enc = feat.Encoding.from_dict(header["encoding"])
        lengths, amplitudes, trained = header["lengths"], header["amplitudes"], header["trained_levels"]
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise MotionkitError(f"malformed model file ({type(e).__name__}: {str(e)[:80]})", source) from None
    _check_encoding(enc, bad, source)
    if not (isinstance(lengths, list) and lengths and all(isinstance(n, int) and not isinstance(n, bool)
                                                          for n in lengths)
            and all(a < b for a, b in zip([0] + lengths, lengths))
            and lengths[-1] <= limits.limit("MOTIONKIT_MAX_FRAMES") and len(lengths) <= 64):
        bad("the pyramid's lengths")
    if not (isinstance(config.stages_per_level, int) and config.stages_per_level > 0):
        bad("stages_per_level")
    n_levels = len(levels(len(lengths), config.stages_per_level))
    if not (isinstance(amplitudes, list) and len(amplitudes) == len(lengths)
            and all(isinstance(a, (int, float)) and np.isfinite(a) and 0 < a < 1e6 for a in amplitudes)):
        bad("the noise amplitudes")
    temperature = header.get("temperature", 1.0)
    if not (isinstance(temperature, (int, float)) and 0.25 <= temperature <= 4):
        bad(f"temperature {temperature!r}")
    threshold = header.get("contact_threshold", 0.5)  # files before stop 26: GANimator's 0.5
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 < threshold < 1):
        bad(f"contact threshold {threshold!r}")
    if not (isinstance(trained, int) and 0 <= trained <= n_levels):
        bad(f"trained levels {trained!r} (the pyramid has {n_levels})")
    if config.noise not in ("frame", "full"):
        bad(f"noise {config.noise!r}")
    _check_training(config, bad)
    z = arrays.get("z_star")
    if z is None or z.shape != (1, enc.width, lengths[0]) or not np.all(np.isfinite(z)):
        bad("z* does not match the encoding and pyramid")
    for name, a in arrays.items():
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            bad(f"array {name!r} holds something other than finite numbers")
    model = Model(enc, lengths, [float(a) for a in amplitudes], torch.from_numpy(z.astype(np.float32)), config,
                  trained_levels=trained, provenance=header.get("provenance") if isinstance(
                      header.get("provenance"), dict) else {}, temperature=float(temperature),
                  contact_threshold=float(threshold))
    for s, g in enumerate(model.generators):
        _unpack(g, {name: arrays.get(f"G{s}/{name}") for name in g.state_dict()}, bad)
    clip = header.get("clip")
    if clip is not None:
        from .motion import Motion

        r, t = arrays.get("clip/rotations"), arrays.get("clip/translations")
        n = len(enc.skeleton)
        if not isinstance(clip, dict) or r is None or t is None or r.ndim != 3 or r.shape[1:] != (n, 4) \
                or t.shape != r.shape[:2] + (3,):
            bad("the training clip does not match the skeleton")
        model.clip = Motion(enc.skeleton, r.astype(np.float64), t.astype(np.float64),
                            limits.check_fps(clip.get("fps"), source, "the training clip's fps"),
                            name=clip.get("name", "") if isinstance(clip.get("name"), str) else "")
    return model


def _check_encoding(enc, bad, source):
    """Indices in range, arrays of the right shapes and finite, widths consistent: or ``bad(what)``."""
    n = len(enc.skeleton)
    limits.check_motion_size(1, n, source)
    for what, idx in (("joints", enc.joints), ("contacts", enc.contacts), ("offsets", enc.offsets)):
        if not all(0 <= j < n for j in idx) or len(set(idx)) != len(idx):
            bad(f"the encoding's {what} name joints that do not exist")
    if not enc.joints or enc.travel not in enc.joints or enc.joints != sorted(enc.joints):
        bad("the encoding's travel joint")
    limits.check_fps(enc.fps, source, "the model's fps")
    for what, a, shape in (("rest rotations", enc.rest_rotations, (n, 4)), ("rest translations",
                           enc.rest_translations, (n, 3)), ("frames", enc.frames, (n, 4)), ("start", enc.start, (3,)),
                           ("mean", enc.mean, (enc.width,)), ("std", enc.std, (enc.width,)),
                           ("fixed", enc.fixed, (enc.width,))):
        if a.shape != shape or (a.dtype.kind == "f" and not np.all(np.isfinite(a))):
            bad(f"the encoding's {what}")
    if not (np.isfinite(enc.height) and enc.height > 0) or np.any(enc.std <= 0):
        bad("the encoding's scales")
