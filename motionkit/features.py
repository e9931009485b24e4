"""GANimator's motion features (the paper's §3.1), for any skeleton.

Per frame at 30 fps: the 6D rotation of each modelled joint | one contact label per contact joint | the root's
x and z velocity and y height (in body heights, so every rig is on one scale). Features are normalised per
channel with the clip's statistics, which the model keeps.

Which joints are modelled is a rule, not a table (``anatomy.animated_joints``); overridable. Joints not modelled keep the clip's average rotation (and translation)
when a feature sequence is turned back into a Motion, so the output has the full original skeleton.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import anatomy
from . import rotations as rot
from .errors import MotionkitError
from .motion import Motion, Skeleton

CONTACT_SPEED = 0.01  # body heights per frame at 30 fps: GANimator's 0.018 m for a 1.8 m human


@dataclass
class Encoding:
    """How a clip becomes features and back: the modelled joints, contact joints, and the clip's constants."""

    skeleton: Skeleton
    joints: list[int]
    contacts: list[int]
    fps: float
    height: float
    rest_rotations: np.ndarray  # (J, 4): the clip's mean rotation per joint, for joints not modelled
    rest_translations: np.ndarray  # (J, 3): the clip's mean local translation per joint
    start: np.ndarray  # (3,): the root's first position (x, z are integrated from there)
    mean: np.ndarray = field(default=None)
    std: np.ndarray = field(default=None)

    @property
    def width(self) -> int:
        return 6 * len(self.joints) + len(self.contacts) + 3

    @property
    def modelled_parents(self) -> list[int]:
        """Parent of each modelled joint among the modelled joints (nearest modelled ancestor)."""
        pos = {j: k for k, j in enumerate(self.joints)}
        out = []
        for j in self.joints:
            p = int(self.skeleton.parents[j])
            while p >= 0 and p not in pos:
                p = int(self.skeleton.parents[p])
            out.append(pos[p] if p >= 0 else -1)
        return out

    def to_dict(self) -> dict:
        return {"skeleton": self.skeleton.to_dict(), "joints": self.joints, "contacts": self.contacts,
                "fps": self.fps, "height": self.height, "rest_rotations": self.rest_rotations.tolist(),
                "rest_translations": self.rest_translations.tolist(), "start": self.start.tolist(),
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Encoding":
        return cls(Skeleton.from_dict(d["skeleton"]), list(d["joints"]), list(d["contacts"]), float(d["fps"]),
                   float(d["height"]), np.array(d["rest_rotations"]), np.array(d["rest_translations"]),
                   np.array(d["start"]), np.array(d["mean"]), np.array(d["std"]))


def make_encoding(motion: Motion, fps: float = 30.0, joints: list[str] | None = None,
                  contacts: list[str] | None = None) -> Encoding:
    """Choose joints and contacts for ``motion`` (names override the rules) and fit the normalisation."""
    sk = motion.skeleton
    m = motion.resampled(fps)
    jidx = sorted({0, *[sk.index(n) for n in joints]}) if joints else anatomy.animated_joints(m)
    cidx = [sk.index(n) for n in contacts] if contacts else anatomy.guess_contacts(m)
    q = rot.make_continuous(m.rotations, axis=0)
    mean_q = rot.normalize(q.mean(axis=0) + 1e-12 * rot.identity((len(sk),)))
    enc = Encoding(sk, jidx, cidx, fps, max(sk.height(), 1e-9), mean_q, m.translations.mean(axis=0),
                   m.translations[0, 0].copy())
    raw = encode(m, enc, normalise=False)
    enc.mean = raw.mean(axis=0)
    std = raw.std(axis=0)
    # Constant channels (a contact that never lifts, a flat 6D entry) stay unscaled instead of blowing up.
    enc.std = np.where(std < 1e-4, 1.0, std)
    return enc


def contact_labels(motion: Motion, contacts: list[int], height: float) -> np.ndarray:
    if not contacts:
        return np.zeros((motion.frames, 0))
    tips = anatomy.tips(motion, contacts)
    speed = np.zeros(tips.shape[:2])
    if motion.frames > 1:
        speed[1:] = np.linalg.norm(np.diff(tips, axis=0), axis=-1)
        speed[0] = speed[1]
    return (speed < CONTACT_SPEED * height * 30.0 / motion.fps).astype(np.float64)


def encode(motion: Motion, enc: Encoding, normalise: bool = True) -> np.ndarray:
    """(T, width) features of ``motion`` (resampled to the encoding's fps)."""
    if motion.skeleton.names != enc.skeleton.names:
        raise MotionkitError("the motion's skeleton does not match the model's "
                             f"({len(motion.skeleton)} joints vs {len(enc.skeleton)})")
    m = motion.resampled(enc.fps)
    rot6 = rot.to_6d(m.rotations[:, enc.joints]).reshape(m.frames, -1)
    labels = contact_labels(m, enc.contacts, enc.height)
    root = m.translations[:, 0] / enc.height
    vel = np.zeros((m.frames, 2))
    if m.frames > 1:
        vel[1:] = np.diff(root[:, [0, 2]], axis=0)
        vel[0] = vel[1]
    feats = np.concatenate([rot6, labels, vel[:, :1], root[:, 1:2], vel[:, 1:]], axis=1)
    return (feats - enc.mean) / enc.std if normalise else feats


def decode(feats: np.ndarray, enc: Encoding, name: str = "", metadata: dict | None = None) -> Motion:
    """A full-skeleton Motion from (T, width) normalised features."""
    f = np.asarray(feats, dtype=np.float64) * enc.std + enc.mean
    t, nj, nc = f.shape[0], len(enc.joints), len(enc.contacts)
    rotations = np.broadcast_to(enc.rest_rotations, (t, len(enc.skeleton), 4)).copy()
    rotations[:, enc.joints] = rot.from_6d(f[:, :6 * nj].reshape(t, nj, 6))
    translations = np.broadcast_to(enc.rest_translations, (t, len(enc.skeleton), 3)).copy()
    root = f[:, 6 * nj + nc:]
    xz = np.cumsum(root[:, [0, 2]], axis=0) - root[:1, [0, 2]] + enc.start[[0, 2]] / enc.height
    translations[:, 0] = np.stack([xz[:, 0], root[:, 1], xz[:, 1]], axis=1) * enc.height
    meta = dict(metadata or {})
    meta["contacts"] = {enc.skeleton.names[j]: (f[:, 6 * nj + k] > 0.5).astype(int).tolist()
                        for k, j in enumerate(enc.contacts)}
    return Motion(enc.skeleton, rotations, translations, enc.fps, name=name, metadata=meta)
