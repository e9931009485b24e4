"""NPZ: motionkit's lossless native format and the pipe format. One or many motions, float64 arrays, JSON header.

Layout: ``header`` (UTF-8 JSON as uint8: format name, version, skeletons, per-motion name/fps/metadata and
skeleton index) and ``rotations_<i>`` / ``translations_<i>``. Read with ``allow_pickle=False``: data, never code.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from motionkit import Format, hookimpl
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
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if "header" not in z.files:
                raise MotionkitError("not a motionkit NPZ file (no header)", source)
            header = json.loads(bytes(z["header"]).decode("utf-8"))
            if header.get("format") != FORMAT_NAME:
                raise MotionkitError("not a motionkit NPZ file", source)
            if header.get("version", 0) > VERSION:
                raise MotionkitError(f"written by a newer motionkit (NPZ version {header['version']}, "
                                     f"this one reads {VERSION})", source)
            skeletons = [Skeleton.from_dict(s) for s in header["skeletons"]]
            out = []
            for i, e in enumerate(header["motions"]):
                rots, trans = z[f"rotations_{i}"], z[f"translations_{i}"]
                if not (np.all(np.isfinite(rots)) and np.all(np.isfinite(trans))):
                    raise MotionkitError(f"motion {i} holds NaN or infinite values", source)
                out.append(Motion(skeletons[e["skeleton"]], rots, trans, float(e["fps"]), name=e.get("name", ""),
                                  metadata=e.get("metadata") or {}))
            return out
    except MotionkitError:
        raise
    except (zipfile.BadZipFile, EOFError):
        raise MotionkitError("corrupt or truncated NPZ file", source) from None
    except (KeyError, IndexError, TypeError, ValueError, json.JSONDecodeError, OSError) as e:
        raise MotionkitError(f"malformed motionkit NPZ file ({type(e).__name__}: {e})", source) from None


def sniff(head: bytes) -> bool:
    return head[:4] == b"PK\x03\x04"


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="npz", extensions=(".npz",), read=read, write=write, sniff=sniff, binary=True,
                    multiple=True, description="motionkit native: lossless, one or many motions (the pipe format)"))
