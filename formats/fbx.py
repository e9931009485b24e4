"""FBX (.fbx), read and write, through Blender: the one free, maintained FBX implementation. Blender runs as a
separate process (it is GPL; nothing of it is imported here) on ``formats/_fbx_blender.py``, and the motions cross
as BVH through a private temporary folder.

Which Blender: ``$MOTIONKIT_BLENDER`` — a ``blender`` executable, or a Python that can ``import bpy`` (``pip install
bpy`` in a venv of its own) — else ``blender`` on the PATH. Without one, reading or writing FBX is a one-line error
that says how to get it.

- Reading: every armature of the file and every take of it (one motion each), baked to per-frame local
  rotations and translations (frames and bones checked against motionkit's limits before Blender samples them),
  the whole skeleton, in metres (Blender applies the file's units),
  at the file's frame rate; Blender's Z-up world is turned back to Y-up. Several armatures are several motions.
- Writing: each motion an armature (named after it) with its animation baked at the motion's frame rate into one
  take, in metres (units guessed from the body height as for glTF, or ``--scale``), Y up as FBX DCCs expect;
  several motions stand side by side along +X as in glTF and USD (a crowd passes its own placements).
  Several motions of different rates are resampled to the first one's rate (one take has one rate).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from motionkit import Format, anatomy, hookimpl, limits
from motionkit import rotations as rot
from motionkit.errors import MotionkitError
from motionkit.motion import Motion

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_fbx_blender.py")
NEEDS = ("FBX needs Blender: install it and put `blender` on the PATH, or set MOTIONKIT_BLENDER to a blender "
         "executable or to a Python that can import bpy (python -m venv bpy-env && bpy-env/bin/pip install bpy)")
TIMEOUT = float(os.environ.get("MOTIONKIT_BLENDER_TIMEOUT", "600"))
Z_UP_TO_Y_UP = rot.from_axis_angle(0, -np.pi / 2)  # Blender's (x, y, z) → (x, z, -y)


def blender_command() -> list[str]:
    """How to start Blender with a script: ``[..., SCRIPT, "--"]`` is appended by the caller."""
    exe = os.environ.get("MOTIONKIT_BLENDER") or shutil.which("blender")
    if not exe or not (os.path.isfile(exe) or shutil.which(exe)):
        raise MotionkitError(NEEDS)
    if "python" in os.path.basename(exe).lower():
        return [exe, SCRIPT, "--"]
    return [exe, "--background", "--factory-startup", "--python-exit-code", "3", "--python", SCRIPT, "--"]


def _run(args: list[str], source: str | None) -> dict:
    try:
        proc = subprocess.run(blender_command() + args, capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MotionkitError(f"Blender did not finish within {TIMEOUT:g} s (MOTIONKIT_BLENDER_TIMEOUT)",
                             source) from None
    except OSError as e:
        raise MotionkitError(f"could not start Blender: {e.strerror or e}; {NEEDS}") from None
    for line in proc.stdout.splitlines():
        if line.startswith("MOTIONKIT_FBX_ERROR "):
            raise MotionkitError(f"Blender could not read it as FBX: {line[len('MOTIONKIT_FBX_ERROR '):]}", source)
        if line.startswith("MOTIONKIT_FBX "):
            return json.loads(line[len("MOTIONKIT_FBX "):])
    tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-1:])[:200]
    raise MotionkitError(f"Blender failed (exit {proc.returncode}){': ' + tail if tail else ''}", source)


def _orthonormal(m: np.ndarray) -> np.ndarray:
    """The rotation part of (..., 3, 3) matrices that may carry scale (Mixamo's armatures are scaled 0.01)."""
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def _motion(rest: np.ndarray, world: np.ndarray, parents: list[int], names: list[str], fps: float,
            name: str, source: str) -> Motion:
    """A BVH-like Motion (identity rotations = the armature's rest pose, offsets along world axes) from Blender's
    world bone matrices: rest (J, 4, 4) and per frame (T, J, 4, 4), Z up, metres."""
    from motionkit.motion import Skeleton

    order = []  # parents first; several root bones hang under one static root at the armature's origin
    placed = set()
    while len(order) < len(names):
        ready = [j for j in range(len(names)) if j not in placed and (parents[j] < 0 or parents[j] in placed)]
        if not ready:
            raise MotionkitError("the armature's bones form a cycle", source)
        order += ready
        placed.update(ready)
    roots = [j for j in order if parents[j] < 0]
    extra = int(len(roots) > 1)
    y_up = rot.to_matrix(Z_UP_TO_Y_UP)
    r_rest, r = _orthonormal(rest[:, :3, :3]), _orthonormal(world[..., :3, :3])
    delta = y_up @ (r @ np.swapaxes(r_rest, -1, -2)) @ y_up.T  # each bone's world rotation away from its rest
    p, p_rest = world[..., :3, 3] @ y_up.T, rest[:, :3, 3] @ y_up.T
    t, n = world.shape[0], len(order) + extra
    new = {j: k + extra for k, j in enumerate(order)}
    par = [-1] * extra + [new[parents[j]] if parents[j] >= 0 else (0 if extra else -1) for j in order]
    d = np.concatenate([np.broadcast_to(np.eye(3), (t, extra, 3, 3)), delta[:, order]], axis=1)
    pos = np.concatenate([np.zeros((t, extra, 3)), p[:, order]], axis=1)
    pr = np.concatenate([np.zeros((extra, 3)), p_rest[order]], axis=0)
    local = d.copy()
    trans = pos.copy()
    offsets = pr.copy()
    for k in range(n):
        q = par[k]
        if q >= 0:
            local[:, k] = np.swapaxes(d[:, q], -1, -2) @ d[:, k]
            trans[:, k] = np.einsum("tba,tb->ta", d[:, q], pos[:, k] - pos[:, q])
            offsets[k] = pr[k] - pr[q]
    # A bone whose local translation is the same on every frame is rigid: that translation is its offset (an
    # FBX's rest pose may place it elsewhere, with the animation moving it back); one that varies gets channels.
    height = max(float(np.ptp(pos[..., 1])), 1e-9)
    moving = np.abs(trans - trans.mean(axis=0)).max(axis=(0, 2)) > 1e-5 * height
    offsets[~moving] = trans.mean(axis=0)[~moving]
    trans[:, ~moving] = offsets[~moving]  # exactly: float noise in the file is not motion
    rotation = ("Zrotation", "Xrotation", "Yrotation")
    channels = [("Xposition", "Yposition", "Zposition") + rotation if k == 0 or moving[k] else rotation
                for k in range(n)]
    names = ([name or "root"] if extra else []) + [names[j] for j in order]
    skeleton = Skeleton(names, par, offsets, channels)
    return Motion(skeleton, rot.from_matrix(local), trans, fps, name=name)


def read(data: bytes, source: str = "-") -> list[Motion]:
    blender_command()  # no Blender: say so before any work
    with tempfile.TemporaryDirectory(prefix="motionkit-fbx-") as tmp:
        path = os.path.join(tmp, "in.fbx")
        with open(path, "wb") as fh:
            fh.write(data)
        done = _run(["read", path, tmp, str(limits.limit("MOTIONKIT_MAX_FRAMES")),
                     str(limits.limit("MOTIONKIT_MAX_JOINTS")), str(limits.limit("MOTIONKIT_MAX_VALUES"))], source)
        fps = limits.check_fps(done["fps"], source)
        motions = []
        for a in done["armatures"]:
            with np.load(a["path"], allow_pickle=False) as z:
                rest, world, parents = z["rest"], z["world"], z["parents"].tolist()
            if not (np.all(np.isfinite(rest)) and np.all(np.isfinite(world))):
                raise MotionkitError(f"armature {a['name']!r}: transforms that are not finite numbers", source)
            motions.append(_motion(rest, world, parents, a["bones"], fps, a["name"], source))
    return motions


def write(motions: list[Motion], options: dict | None = None) -> bytes:
    from .bvh import write as write_bvh

    options = options or {}
    blender_command()  # no Blender: say so before any work
    fps = motions[0].fps
    scales = [options.get("scale") or anatomy.guess_units(anatomy.body_height(m))[1] for m in motions]
    placements = options.get("placements")
    if placements is None:
        from .gltf import default_placements  # side by side, as in glTF and USD (metres)

        placements = default_placements(motions, scales)
    with tempfile.TemporaryDirectory(prefix="motionkit-fbx-") as tmp:
        sources, used = [], set()
        frames = 0
        for i, (m, scale, place) in enumerate(zip(motions, scales, placements)):
            if abs(m.fps - fps) > 1e-9:
                m = m.resampled(fps)
            m = m.scaled(scale)
            if np.any(place):  # the root carries the character's place in the scene
                translations = m.translations.copy()
                translations[:, 0] += np.asarray(place, dtype=float)
                m = m.replace(translations=translations)
            name = re.sub(r"[^A-Za-z0-9_.]", "_", m.name or f"motion_{i}")[:48] or f"motion_{i}"
            while name in used:
                name = f"{name}_{i}"
            used.add(name)
            path = os.path.join(tmp, f"{i:03d}-{name}.bvh")
            with open(path, "wb") as fh:
                fh.write(write_bvh([m]))
            sources.append(path)
            frames = max(frames, m.frames)
        out = os.path.join(tmp, "out.fbx")
        _run(["write", out, str(frames), repr(float(fps)), *sources], None)
        with open(out, "rb") as fh:
            return fh.read()


def sniff(head: bytes) -> bool:
    return head.startswith(b"Kaydara FBX Binary") or head.lstrip().startswith(b"; FBX")


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="fbx", extensions=(".fbx",), read=read, write=write, sniff=sniff, binary=True,
                    multiple=True, description="FBX through Blender run as its own process (read and write; needs "
                                               "Blender or bpy: MOTIONKIT_BLENDER)"))
