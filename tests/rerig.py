"""Re-express a clip on a differently built skeleton that moves identically in the world — the way game-studio rigs
differ from the shared clips — for the invariance tests and benchmarks.

    rerig(motion, static_root=True, lie_along_x=True, six_channels=True, order="ZXY", scale=0.01)

- ``static_root``: a new joint_Root above the old root that never moves (optionally turned by ``root_turn``, as a
  Z-up export's root is); the old root's world travel goes into its own position channels below it.
- ``lie_along_x``: every joint's frame turned so that the rest pose has each bone along +X (the rest pose no longer
  stands); local rotations are compensated so world motion is unchanged.
- ``six_channels``: position and rotation channels on every joint; ``order``: their rotation order.
- ``scale``: other units; ``zero_end_sites``: end sites of length zero.
"""
from __future__ import annotations

import numpy as np

from motionkit import rotations as rot
from motionkit.motion import Motion, Skeleton


def _from_to(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest rotation (quaternion) taking direction ``a`` to direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        if c > 0:
            return rot.identity()
        perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return np.array([0.0, *(perp / np.linalg.norm(perp))])
    angle = np.arctan2(s, c)
    return np.array([np.cos(angle / 2), *(axis / s * np.sin(angle / 2))])


def rerig(m: Motion, static_root: bool = True, lie_along_x: bool = True, six_channels: bool = True,
          order: str = "ZXY", scale: float = 1.0, zero_end_sites: bool = False,
          root_turn: float = -90.0) -> Motion:
    sk = m.skeleton
    n = len(sk)
    kids = sk.children
    c = np.tile(rot.identity(), (n, 1))  # C_j: each joint's frame turn (new frame = old frame · C_j)
    if lie_along_x:
        for j in range(n):
            towards = sk.offsets[kids[j][0]] if kids[j] else sk.end_sites.get(j)
            if towards is not None and np.linalg.norm(towards) > 1e-9:
                c[j] = _from_to(np.array([1.0, 0.0, 0.0]), towards)
    cp = np.stack([c[p] if p >= 0 else rot.identity() for p in sk.parents])
    inv_cp = rot.conjugate(cp)
    rotations = rot.multiply(rot.multiply(inv_cp[None], m.rotations), c[None])
    translations = rot.rotate(inv_cp[None], m.translations)
    offsets = rot.rotate(inv_cp, sk.offsets)
    ends = {j: (np.zeros(3) if zero_end_sites else rot.rotate(rot.conjugate(c[j]), e)) for j, e in sk.end_sites.items()}
    names, parents, channels = list(sk.names), list(sk.parents), list(sk.channels)
    rot_channels = tuple(f"{a}rotation" for a in order)
    pos_channels = ("Xposition", "Yposition", "Zposition")
    channels = [(pos_channels + rot_channels) if (six_channels or j == 0) else rot_channels for j in range(n)]
    if static_root:
        turn = rot.from_axis_angle(0, np.radians(root_turn))  # a constant turn above everything
        inv_turn = rot.conjugate(turn)
        rotations[:, 0] = rot.multiply(inv_turn[None], rotations[:, 0])
        translations[:, 0] = rot.rotate(inv_turn[None], translations[:, 0])
        offsets[0] = translations[0, 0]
        names = ["joint_Root"] + names
        parents = [-1] + [p + 1 for p in parents]
        channels = [pos_channels + rot_channels] + channels
        offsets = np.concatenate([np.zeros((1, 3)), offsets])
        ends = {j + 1: e for j, e in ends.items()}
        rotations = np.concatenate([np.broadcast_to(turn, (m.frames, 1, 4)), rotations], axis=1)
        translations = np.concatenate([np.zeros((m.frames, 1, 3)), translations], axis=1)
    skeleton = Skeleton(names, np.array(parents), offsets * scale, channels, {j: e * scale for j, e in ends.items()})
    return Motion(skeleton, rotations, translations * scale, m.fps, name=m.name + "-rerigged")


def on_axis(m: Motion, up: str) -> Motion:
    """``m`` as a file that stands on axis ``up`` holds it (a Z-up export: ``up="z"``): the root's offset, rotation
    and translation turned from +Y onto that axis; the rest of the rig as it was."""
    from motionkit.motion import UP_TURNS

    q = rot.conjugate(np.asarray(UP_TURNS[up]))
    offsets = m.skeleton.offsets.copy()
    offsets[0] = rot.rotate(q, offsets[0])
    rotations, translations = m.rotations.copy(), m.translations.copy()
    rotations[:, 0] = rot.multiply(q[None], rotations[:, 0])
    translations[:, 0] = rot.rotate(q[None], translations[:, 0])
    sk = m.skeleton
    skeleton = Skeleton(sk.names, sk.parents, offsets, sk.channels, sk.end_sites)
    return Motion(skeleton, rotations, translations, m.fps, name=m.name + f"-{up}-up")
