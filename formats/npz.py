"""NPZ: motionkit's lossless native format and the pipe format. One or many motions, float64 arrays, JSON header.

Layout: ``header`` (UTF-8 JSON as uint8: format name, version, skeletons, per-motion name/fps/metadata and
skeleton index) and ``rotations_<i>`` / ``translations_<i>``. Read with ``allow_pickle=False``: data, never code.
"""
from __future__ import annotations

import io
import json

import numpy as np

from motionkit import Format, hookimpl, limits, safenpz
from motionkit.errors import MotionkitError
from motionkit.motion import Motion, Skeleton

FORMAT_NAME = "motionkit-npz"
VERSION = 1


def write(motions: list[Motion], options: dict | None = None) -> bytes:
    skeletons: list[Skeleton] = []
    entries, arrays = [], {}
    for i, m in enumerate(motions):
        idx = next((k for k, s in enumerate(skeletons) if s is m.skeleton or _identical(s, m.skeleton)), None)
        if idx is None:
            skeletons.append(m.skeleton)
            idx = len(skeletons) - 1
        entries.append({"name": m.name, "fps": m.fps, "skeleton": idx, "metadata": m.metadata})
        arrays[f"rotations_{i}"] = m.rotations
        arrays[f"translations_{i}"] = m.translations
    header = {"format": FORMAT_NAME, "version": VERSION, "skeletons": [s.to_dict() for s in skeletons],
              "motions": entries}
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _identical(a: Skeleton, b: Skeleton) -> bool:
    return a.to_dict() == b.to_dict()


def read(data: bytes, source: str = "-") -> list[Motion]:
    arrays = safenpz.load(data, source, "NPZ file")
    if "header" not in arrays or arrays["header"].dtype != np.uint8 or arrays["header"].ndim != 1:
        raise MotionkitError("not a motionkit NPZ file (no header)", source)
    try:
        header = json.loads(arrays["header"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise MotionkitError("not a motionkit NPZ file (its header is not JSON)", source) from None
    if isinstance(header, dict) and header.get("format") == "motionkit-model":  # modelfile.FORMAT
        raise MotionkitError("a motionkit model file, not motions: `motionkit info` describes it, `sample -m` and "
                             "the other operations take it", source)
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise MotionkitError("not a motionkit NPZ file", source)
    version = header.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise MotionkitError(f"written by a newer motionkit (NPZ version {version!r}, this one reads {VERSION})",
                             source)
    skeletons, entries = header.get("skeletons"), header.get("motions")
    if not isinstance(skeletons, list) or not isinstance(entries, list):
        raise MotionkitError("malformed motionkit NPZ file (no skeleton or motion list)", source)
    try:
        skeletons = [Skeleton.from_dict(s) for s in skeletons]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise MotionkitError(f"malformed skeleton in the NPZ file ({type(e).__name__}: {str(e)[:80]})", source) from None
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise MotionkitError(f"motion {i}'s entry is not an object", source)
        k = e.get("skeleton")
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(skeletons):
            raise MotionkitError(f"motion {i} names skeleton {k!r}, which does not exist", source)
        sk = skeletons[k]
        rots, trans = arrays.get(f"rotations_{i}"), arrays.get(f"translations_{i}")
        if rots is None or trans is None:
            raise MotionkitError(f"motion {i}'s arrays are missing", source)
        if rots.ndim != 3 or rots.shape[1:] != (len(sk), 4) or trans.shape != rots.shape[:2] + (3,):
            raise MotionkitError(f"motion {i}'s arrays do not match its {len(sk)}-joint skeleton", source)
        limits.check_motion_size(rots.shape[0], len(sk), source)
        if not (np.all(np.isfinite(rots)) and np.all(np.isfinite(trans))):
            raise MotionkitError(f"motion {i} holds NaN or infinite values", source)
        if np.abs(trans).max(initial=0) > 1e15 or np.abs(sk.offsets).max(initial=0) > 1e15:
            raise MotionkitError(f"motion {i} holds lengths beyond 1e15 units", source)
        if np.any(np.linalg.norm(rots, axis=-1) < 1e-9):
            raise MotionkitError(f"motion {i} holds a zero quaternion", source)
        fps = limits.check_fps(e.get("fps"), source, f"motion {i}'s fps")
        name, metadata = e.get("name", ""), e.get("metadata") or {}
        if not isinstance(name, str) or not isinstance(metadata, dict):
            raise MotionkitError(f"motion {i}'s name or metadata have the wrong type", source)
        out.append(Motion(sk, rots.astype(np.float64), trans.astype(np.float64), fps, name=name, metadata=metadata))
    return out


def sniff(head: bytes) -> bool:
    return head[:4] == b"PK\x03\x04"


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="npz", extensions=(".npz",), read=read, write=write, sniff=sniff, binary=True,
                    multiple=True, y_up=True,  # motionkit holds every motion +Y up (a Z-up clip's skeleton.up says so)
                    description="motionkit native: lossless, one or many motions (the pipe format)"))
