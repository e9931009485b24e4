"""Reading an .npz (motionkit's NPZ motions and model files) as data, never code, within bounded memory.

Every member's .npy header is read and checked — a plain numeric dtype, a shape whose size is within the limit
($MOTIONKIT_MAX_MEMBER) — before its array is allocated; pickled objects are refused (``allow_pickle`` is never
on), and a member may not decompress to more than its header says.
"""
from __future__ import annotations

import io
import lzma
import tokenize
import zipfile
import zlib

import numpy as np

from . import limits
from .errors import MotionkitError

NUMERIC = "fiub"  # float, int, unsigned, bool: nothing else is data we keep


def load(data: bytes, source: str, what: str = "NPZ file") -> dict[str, np.ndarray]:
    """Name → array for every member of the archive ``data``."""
    cap = limits.limit("MOTIONKIT_MAX_MEMBER")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError):
        raise MotionkitError(f"corrupt or truncated {what}", source) from None
    out = {}
    with archive:
        infos = archive.infolist()
        if len(infos) > 100_000:
            raise MotionkitError(f"{what} with {len(infos)} members: more than motionkit reads", source)
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise MotionkitError(f"unexpected member {info.filename[:60]!r} in the {what}", source)
            if info.file_size > cap:
                raise MotionkitError(f"member {info.filename[:60]!r} decompresses to {info.file_size} bytes, more than "
                                     f"motionkit reads ($MOTIONKIT_MAX_MEMBER raises the limit)", source)
            try:
                with archive.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version in ((2, 0), (3, 0)):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise ValueError(f"npy version {version}")
                    if dtype.hasobject or dtype.kind not in NUMERIC or dtype.fields is not None:
                        raise MotionkitError(f"member {info.filename[:60]!r} is not plain numbers ({dtype}): "
                                             "refused, it could hold code", source)
                    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                    if count < 0 or count * dtype.itemsize > cap:
                        raise MotionkitError(f"member {info.filename[:60]!r} declares {shape}: more than motionkit "
                                             "reads", source)
                    raw = fh.read(count * dtype.itemsize + 1)
                    if len(raw) != count * dtype.itemsize:
                        raise ValueError(f"{len(raw)} bytes of data where the header says {count * dtype.itemsize}")
                    array = np.frombuffer(raw, dtype=dtype, count=count)
                    array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
            except MotionkitError:
                raise
            except (zipfile.BadZipFile, EOFError, ValueError, OSError, SyntaxError, TypeError, KeyError,
                    tokenize.TokenError, RecursionError, MemoryError, zlib.error, NotImplementedError, lzma.LZMAError) as e:
                # NotImplementedError: a compression method zipfile does not implement; LZMAError: bad LZMA data
                raise MotionkitError(f"corrupt or truncated {what} ({type(e).__name__})", source) from None
            out[info.filename[:-4]] = array
    return out
