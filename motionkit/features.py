"""GANimator's motion features (the paper's §3.1), for any rig.

Per frame at 30 fps: the 6D rotation of each modelled joint | one contact label per contact joint | the travel
joint's x and z velocity and y height (in body heights) and its turning rate | the local translation of each joint
that animates its offset (in body heights). Features are normalised per channel with the clip's statistics, which the
model keeps; channels that never change in the clip are decoded as their constant value, whatever the generator
says, so nothing that stands still in the clip can drift.

Everything is decided from what the clip does (``anatomy``): the *travel joint* is the one that carries the
character through the world (the root, or the hips under a static game-rig root), its position is read and
written in world space and written back to its own channels; the modelled joints are the travel joint and the
joints below it that move, minus digits; the contacts are the tips the character stands on.

Rotations are rig-independent: a joint's local rotation q_j is expressed as r_j = M_parent · q_j · M_j⁻¹, where
M_j is a constant frame fixed by the clip (M_travel = the travel joint's world rotation on the first frame,
M_j = M_parent · mean(q_j) below it). A rig built differently — bones along +X at rest, other joint axes, a
static root above the hips — that moves the same way in the world gives the same features, so it trains the same.

The heading (``Encoding.heading``): GANimator writes the travel joint's rotation and velocity in the world frame, so
a dancer who turns draws a steady turn as sines and cosines of its 6D channels, and every fine stage's small
correction to them is a wobble of the whole body (Salsa's samples turned at 1.36x the clip's rate with 1.67x its
angular acceleration, while their limbs turned at 0.46-0.94x: the body speed the calibration matches was the
heading's; ``bench/sampling.py MODEL --turning``). Here the travel joint's rotation is split into its heading (the twist about the up axis, y) and the
rest: the features carry the rest as 6D, the heading as a turning rate (radians per frame), and the ground
velocity in the heading's frame — a steady turn or a walk in a circle is a constant, and a small error in a rate
integrates to a small drift instead of a shake. It costs coverage on clips that turn to and fro or hardly (Salsa
0.922 against 0.994, Gangnam 0.751 against 0.815, the crab 0.491 against 0.888; BENCHMARKS.md), and it is what a
clip that turns steadily one way needs (``turns_steadily``: a walk in a circle, whose samples spin in the world
frame); ``train`` decides it from the clip (``--heading auto``, the default; ``rate`` or ``world`` to override).
Models trained before the option have ``heading`` False.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import anatomy
from . import rotations as rot
from .errors import MotionkitError
from .motion import Motion, Skeleton

CONSTANT = 1e-4  # a feature channel whose standard deviation over the clip is below this is held at its mean


@dataclass
class Encoding:
    """How a clip becomes features and back: the joints it models, its constant frames and normalisation."""

    skeleton: Skeleton
    travel: int  # the joint that carries the character's travel
    joints: list[int]  # modelled rotations (the travel joint first), skeleton order
    contacts: list[int]
    offsets: list[int]  # joints whose local translation is modelled (it varies in the clip)
    fps: float
    height: float  # body height (anatomy.body_height), the unit of every length in the features
    rest_rotations: np.ndarray  # (J, 4): the clip's mean rotation per joint, for joints not modelled
    rest_translations: np.ndarray  # (J, 3): the clip's mean local translation per joint
    frames: np.ndarray  # (J, 4): the constant frame M_j of each joint (see the module docstring)
    start: np.ndarray  # (3,): the travel joint's first world position (x, z are integrated from there)
    mean: np.ndarray = field(default=None)
    std: np.ndarray = field(default=None)
    fixed: np.ndarray = field(default=None)  # (width,) bool: channels constant in the clip
    heading: bool = False  # the travel joint's heading as a turning rate (see the module docstring); False: world

    @property
    def root_width(self) -> int:
        return 4 if self.heading else 3

    @property
    def width(self) -> int:
        return 6 * len(self.joints) + len(self.contacts) + self.root_width + 3 * len(self.offsets)

    @property
    def root_slice(self) -> slice:
        """The travel joint's channels: x velocity, y height, z velocity (in the heading's frame where ``heading``)
        and then the turning rate."""
        start = 6 * len(self.joints) + len(self.contacts)
        return slice(start, start + self.root_width)

    @property
    def modelled_parents(self) -> list[int]:
        """Parent of each modelled joint among the modelled joints (nearest modelled ancestor; the travel joint
        for a joint with none)."""
        return [-1 if j == self.travel else self.owner(int(self.skeleton.parents[j])) for j in self.joints]

    def owner(self, j: int) -> int:
        """Index among the modelled joints of ``j`` or its nearest modelled ancestor (the travel joint's if none)."""
        pos = {k: i for i, k in enumerate(self.joints)}
        while j >= 0 and j not in pos:
            j = int(self.skeleton.parents[j])
        return pos.get(j, 0)

    def parent_world(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotation and position of the travel joint's parent (constant: nothing above it moves)."""
        q, p = rot.identity(), np.zeros(3)
        chain = []
        j = int(self.skeleton.parents[self.travel])
        while j >= 0:
            chain.append(j)
            j = int(self.skeleton.parents[j])
        for j in reversed(chain):
            p = p + rot.rotate(q, self.rest_translations[j])
            q = rot.multiply(q, self.rest_rotations[j])
        return q, p

    def to_dict(self) -> dict:
        return {"skeleton": self.skeleton.to_dict(), "travel": self.travel, "joints": self.joints,
                "contacts": self.contacts, "offsets": self.offsets, "fps": self.fps, "height": self.height,
                "rest_rotations": self.rest_rotations.tolist(), "rest_translations": self.rest_translations.tolist(),
                "frames": self.frames.tolist(), "start": self.start.tolist(), "mean": self.mean.tolist(),
                "std": self.std.tolist(), "fixed": self.fixed.astype(int).tolist(), "heading": self.heading}

    @classmethod
    def from_dict(cls, d: dict) -> "Encoding":
        return cls(Skeleton.from_dict(d["skeleton"]), int(d["travel"]), [int(j) for j in d["joints"]],
                   [int(j) for j in d["contacts"]], [int(j) for j in d["offsets"]], float(d["fps"]),
                   float(d["height"]), np.array(d["rest_rotations"], dtype=np.float64),
                   np.array(d["rest_translations"], dtype=np.float64), np.array(d["frames"], dtype=np.float64),
                   np.array(d["start"], dtype=np.float64), np.array(d["mean"], dtype=np.float64),
                   np.array(d["std"], dtype=np.float64), np.array(d["fixed"], dtype=bool),
                   d.get("heading") is True)  # files written before the heading: world


STEADY_RANGE = float(np.radians(330.0))  # a clip whose heading spans this much (it faces nearly every way) ...
STEADY_SHARE = 0.75  # ... and whose net turn is at least this share of all its turning, turns steadily
STEADY_SWAY = 1 / 6  # seconds: the Gaussian that takes a gait's sway out of the heading before its turning is summed


def smoothed(x: np.ndarray, sigma: float) -> np.ndarray:
    """``x`` (T,) convolved with a Gaussian of ``sigma`` samples, its ends held (edge-padded): the same length."""
    if sigma <= 0:
        return np.asarray(x, dtype=np.float64)
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return np.convolve(np.pad(x, r, mode="edge"), k / k.sum(), mode="valid")


def turning(psi: np.ndarray, fps: float = 30.0) -> tuple[float, float, float]:
    """(span, net turn, total turning) of an unwrapped heading (T,) at ``fps``, in radians; the total is summed
    after the hips' sway with each step is smoothed out (``STEADY_SWAY``)."""
    if len(psi) < 2:
        return 0.0, 0.0, 0.0
    smooth = smoothed(psi, STEADY_SWAY * fps)
    return float(np.ptp(psi)), float(smooth[-1] - smooth[0]), float(np.abs(np.diff(smooth)).sum())


def turns_steadily(psi: np.ndarray, fps: float = 30.0) -> bool:
    """Does an unwrapped heading (T,) at ``fps`` turn steadily: face nearly every direction over the clip, turning
    mostly one way (a walk in a circle, a spin), rather than to and fro (a dance that turns back and forth, however
    far)? Read from ``turning``.

    Where it does, GANimator's world frame fails it: the facing takes every direction, the coarse stage blends
    opposite ones, the hips' 6D collapses and the samples spin. Joe_Walk-In-Circle (a net 360° and a span of 362°;
    0.96 of its turning one way), `fast`, seed 0, 20 samples at 2x: in the world frame the hips turn at 2.96x the
    clip's speed with 1039 undefined frames in 8 samples, root travel 0.93 and foot skating 1.40 of the clip's; as a
    rate 1.25x, none, 0.98 and 1.05, coverage 1.000 both. Salsa spins twice, but to and fro (0.57 of its turning
    one way): the world frame covers 0.994 against the rate's 0.922 (BENCHMARKS.md). Every other shared clip spans
    147° or less (the baseball idle; Gangnam 39°, the crab 64°)."""
    span, net, total = turning(psi, fps)
    return bool(span >= STEADY_RANGE and abs(net) >= STEADY_SHARE * total)


def make_encoding(motion: Motion, fps: float = 30.0, joints: list[str] | None = None,
                  contacts: list[str] | None = None, offsets: list[str] | None = None,
                  heading: bool | None = False) -> Encoding:
    """Read ``motion`` with the anatomy rules (names in ``joints``/``contacts``/``offsets`` override them) and fit
    the constant frames and the normalisation; ``heading``: the travel joint's heading as a turning rate (None: where
    the clip ``turns_steadily``)."""
    sk = motion.skeleton
    m = motion.resampled(fps)
    height = anatomy.body_height(m)
    travel = anatomy.travel_joint(m)
    if joints:
        jidx = sorted({travel, *[sk.index(n) for n in joints]})
        below = set(anatomy.subtree(sk, travel))
        outside = [sk.names[j] for j in jidx if j not in below]
        if outside:
            raise MotionkitError(f"--joints: {outside[0]} is not below {sk.names[travel]}, the joint that carries "
                                 "the character (joints above it never move in this clip)")
    else:
        jidx = anatomy.animated_joints(m)
    cidx = [sk.index(n) for n in contacts] if contacts else anatomy.guess_contacts(m, height)
    moving_t = np.ptp(m.translations, axis=0).max(axis=-1) > anatomy.STILL * height
    offsets = ([j for j in sorted({sk.index(n) for n in offsets}) if j != travel] if offsets is not None else
               [j for j in range(len(sk)) if moving_t[j] and j != travel])
    q = rot.make_continuous(m.rotations, axis=0)
    mean_q = rot.normalize(q.mean(axis=0) + 1e-12 * rot.identity((len(sk),)))
    mean_t = m.translations.mean(axis=0)
    # what never changes is kept to the bit (a static root, constant six-channel offsets)
    same_q, same_t = np.all(q == q[:1], axis=(0, 2)), np.all(m.translations == m.translations[:1], axis=(0, 2))
    mean_q[same_q], mean_t[same_t] = m.rotations[0, same_q], m.translations[0, same_t]
    enc = Encoding(sk, travel, jidx, cidx, offsets, fps, height, mean_q, mean_t, rot.identity((len(sk),)),
                   np.zeros(3), heading=bool(heading))
    pq, pp = enc.parent_world()
    frames = np.empty((len(sk), 4))
    for j in range(len(sk)):  # parents come first in a Skeleton
        p = int(sk.parents[j])
        frames[j] = (rot.multiply(pq, m.rotations[0, travel]) if j == travel
                     else rot.multiply(frames[p] if p >= 0 else rot.identity(), mean_q[j]))
    enc.frames = rot.normalize(frames)
    enc.start = pp + rot.rotate(pq, m.translations[0, travel])
    if heading is None:
        enc.heading = turns_steadily(travel_headings(m, enc), fps)
    raw = encode(m, enc, normalise=False)
    enc.mean = raw.mean(axis=0)
    std = raw.std(axis=0)
    enc.fixed = std < CONSTANT
    enc.std = np.where(enc.fixed, 1.0, std)
    return enc


def contact_labels(motion: Motion, contacts: list[int], height: float) -> np.ndarray:
    """(T, len(contacts)) 0/1: a contact tip is on the ground on frames where it moves less than
    ``anatomy.CONTACT_SPEED`` body heights per frame at 30 fps (GANimator's rule)."""
    if not contacts:
        return np.zeros((motion.frames, 0))
    tips = anatomy.tips(motion, contacts)
    speed = np.zeros(tips.shape[:2])
    if motion.frames > 1:
        speed[1:] = np.linalg.norm(np.diff(tips, axis=0), axis=-1)
        speed[0] = speed[1]
    return (speed < anatomy.CONTACT_SPEED * height * 30.0 / motion.fps).astype(np.float64)


def heading_angles(q: np.ndarray) -> np.ndarray:
    """The heading of rotations ``q`` (..., 4): the angle of their twist about the up axis (y), modulo 2 pi."""
    return 2.0 * np.arctan2(q[..., 2], q[..., 0])


def travel_headings(m: Motion, enc: Encoding) -> np.ndarray:
    """(T,) the travel joint's heading in the world (its turn about the up axis), unwrapped, in radians: the twist
    about the up axis of its world rotation relative to the clip's first frame (the encoding's rig-free frame, as
    ``--heading rate`` reads it), so a rig whose hip frame stands another way at rest gets the same heading."""
    pq, _ = enc.parent_world()
    world = rot.multiply(rot.multiply(pq, m.rotations[:, enc.travel]), rot.conjugate(enc.frames[enc.travel]))
    return np.unwrap(heading_angles(world))


def about_up(angle) -> np.ndarray:
    """Quaternions (..., 4) of rotations by ``angle`` radians about the up axis (y)."""
    a = 0.5 * np.asarray(angle, dtype=np.float64)
    return np.stack([np.cos(a), np.zeros_like(a), np.sin(a), np.zeros_like(a)], axis=-1)


def travel_positions(motion: Motion, enc: Encoding) -> np.ndarray:
    """(T, 3) world positions of the travel joint."""
    pq, pp = enc.parent_world()
    return pp + rot.rotate(pq, motion.translations[:, enc.travel])


def with_travel_positions(motion: Motion, enc: Encoding, world: np.ndarray) -> Motion:
    """``motion`` with the travel joint moved to the given (T, 3) world positions (through its own channels)."""
    pq, pp = enc.parent_world()
    translations = motion.translations.copy()
    translations[:, enc.travel] = rot.rotate(rot.conjugate(pq), world - pp)
    return motion.replace(translations=translations)


def encode(motion: Motion, enc: Encoding, normalise: bool = True) -> np.ndarray:
    """(T, width) features of ``motion`` (resampled to the encoding's fps)."""
    if motion.skeleton.names != enc.skeleton.names:
        raise MotionkitError("the motion's skeleton does not match the model's "
                             f"({len(motion.skeleton)} joints vs {len(enc.skeleton)})")
    m = motion.resampled(enc.fps)
    sk = enc.skeleton
    pq, _ = enc.parent_world()
    parents = [int(sk.parents[j]) for j in enc.joints]
    left = np.stack([enc.frames[p] if j != enc.travel else pq for j, p in zip(enc.joints, parents)])
    right = rot.conjugate(enc.frames[enc.joints])
    canonical = rot.multiply(rot.multiply(left, m.rotations[:, enc.joints]), right)
    labels = contact_labels(m, enc.contacts, enc.height)
    root = travel_positions(m, enc) / enc.height
    vel = np.zeros((m.frames, 3))
    if m.frames > 1:
        vel[1:] = np.diff(root, axis=0)
        vel[0] = vel[1]
    turn = np.zeros((m.frames, 0))
    if enc.heading:  # the travel joint's rotation less its heading; velocity in the heading's frame; turning rate
        psi = np.unwrap(heading_angles(canonical[:, 0]))
        back = rot.conjugate(about_up(psi))
        canonical[:, 0] = rot.multiply(back, canonical[:, 0])
        vel = rot.rotate(back, vel)
        turn = np.zeros((m.frames, 1))
        if m.frames > 1:
            turn[1:, 0] = np.diff(psi)
            turn[0] = turn[1]
    rot6 = rot.to_6d(canonical).reshape(m.frames, -1)
    offs = [rot.rotate(enc.frames[int(sk.parents[j])], m.translations[:, j]) / enc.height for j in enc.offsets]
    offs = np.concatenate(offs, axis=1) if offs else np.zeros((m.frames, 0))
    feats = np.concatenate([rot6, labels, vel[:, :1], root[:, 1:2], vel[:, 2:], turn, offs], axis=1)
    return (feats - enc.mean) / enc.std if normalise else feats


DEFINED = 0.25  # a 6D rotation whose column, or the second's part across the first, is shorter is undefined


def undefined_6d(d6: np.ndarray, floor: float = DEFINED) -> np.ndarray:
    """(...,) True where a 6D rotation (..., 6) hardly defines one: its first column, or the second's part across
    the first, shorter than ``floor`` (NaN counts as undefined)."""
    a, b = d6[..., :3], d6[..., 3:]
    na = np.linalg.norm(a, axis=-1)
    x = a / np.maximum(na, 1e-12)[..., None]
    across = np.linalg.norm(b - np.sum(x * b, axis=-1, keepdims=True) * x, axis=-1)
    return ~(np.minimum(na, across) >= floor)


def held_where_undefined(q: np.ndarray, d6: np.ndarray, floor: float = DEFINED) -> np.ndarray:
    """``q`` (T, J, 4), the rotations of ``d6`` (T, J, 6), where frames whose 6D hardly defines a rotation take it
    from the nearest well-defined frames on either side (slerp between them; the first or last one at the ends).

    A clip's 6D columns are orthonormal; a generator's may shrink towards zero or fold onto each other where it
    blends two modes (the hips facing +X and -X: their first column passes through zero), and Gram-Schmidt then
    turns noise into a direction — a snap of up to 180° in one frame (``bench/sampling.py MODEL --turning``: Salsa's
    `fast` model, 20 samples at twice the clip's length, 586 hips frames under the floor; the fastest turn in one
    frame 179° decoded frame by frame, 84° mended, the clip's 101°). Such a frame's rotation is carried over from
    its neighbours instead: the turn spreads over the frames that had none."""
    bad = undefined_6d(d6, floor)
    if not bad.any():
        return q
    q = q.copy()
    for j in np.flatnonzero(bad.any(axis=0) & ~bad.all(axis=0)):
        good, frames = np.flatnonzero(~bad[:, j]), np.flatnonzero(bad[:, j])
        k = np.searchsorted(good, frames)
        before, after = good[np.maximum(k - 1, 0)], good[np.minimum(k, len(good) - 1)]
        w = np.where(after > before, (frames - before) / np.maximum(after - before, 1), 0.0)
        q[frames, j] = rot.slerp(q[before, j], q[after, j], w)
    return q


def decode(feats: np.ndarray, enc: Encoding, name: str = "", metadata: dict | None = None,
           contact_threshold: float = 0.5, floor: float = DEFINED) -> Motion:
    """A full-skeleton Motion from (T, width) normalised features; a contact is down where its label is above
    ``contact_threshold`` (the model's calibrated one, ``Model.contact_threshold``)."""
    f = np.asarray(feats, dtype=np.float64) * enc.std + enc.mean
    f[:, enc.fixed] = enc.mean[enc.fixed]
    sk = enc.skeleton
    t, nj = f.shape[0], len(enc.joints)
    pq, pp = enc.parent_world()
    rotations = np.broadcast_to(enc.rest_rotations, (t, len(sk), 4)).copy()
    d6 = f[:, :6 * nj].reshape(t, nj, 6)
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero column: an undefined frame, mended below
        canonical = held_where_undefined(rot.from_6d(d6), d6, floor)
    root = f[:, enc.root_slice]
    vel = np.stack([root[:, 0], np.zeros(t), root[:, 2]], axis=1)
    if enc.heading:
        turn = about_up(np.cumsum(root[:, 3]) - root[0, 3])
        canonical[:, 0] = rot.multiply(turn, canonical[:, 0])
        vel = rot.rotate(turn, vel)
    left = np.stack([rot.conjugate(enc.frames[int(sk.parents[j])] if j != enc.travel else pq) for j in enc.joints])
    rotations[:, enc.joints] = rot.multiply(rot.multiply(left, canonical), enc.frames[enc.joints])
    translations = np.broadcast_to(enc.rest_translations, (t, len(sk), 3)).copy()
    for k, j in enumerate(enc.offsets):
        d = f[:, enc.root_slice.stop + 3 * k:enc.root_slice.stop + 3 * k + 3] * enc.height
        translations[:, j] = rot.rotate(rot.conjugate(enc.frames[int(sk.parents[j])]), d)
    xz = np.cumsum(vel[:, [0, 2]], axis=0) - vel[:1, [0, 2]] + enc.start[[0, 2]] / enc.height
    world = np.stack([xz[:, 0], root[:, 1], xz[:, 1]], axis=1) * enc.height
    translations[:, enc.travel] = rot.rotate(rot.conjugate(pq), world - pp)
    meta = dict(metadata or {})
    meta["contacts"] = {sk.names[j]: (f[:, 6 * nj + k] > contact_threshold).astype(int).tolist()
                        for k, j in enumerate(enc.contacts)}
    return Motion(sk, rotations, translations, enc.fps, name=name, metadata=meta)
