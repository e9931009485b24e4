"""GANimator's quality metrics (Li et al., SIGGRAPH 2022, §6), vectorised numpy on the CPU.

Feature space: per frame (at 30 fps), the 6D local rotation of each evaluated joint plus binary foot-contact
labels; the root trajectory is excluded. Distance between two frames: L2, scaled by sqrt(148 / D) for a feature
width D, so that a Mixamo body evaluated on GANimator's 24 joints and 4 contacts (D = 24·6 + 4 = 148) has exactly
GANimator's distances and every other skeleton is on the same scale (equivalently: ε grows as sqrt(D / 148)).

- coverage: every 30-frame window of the *reference* is looked up among all 30-frame windows of the generated
  motion; it is covered if the best mean per-frame distance is below ε = 2.0. Score: covered fraction.
- global diversity (patched nearest neighbour): the generated motion is split into consecutive segments of at
  least 30 frames, each matched to the reference segment of the same length that fits it best; dynamic
  programming finds the split of least total cost (sum of per-frame distances). Score: total cost / frames.
  A segment of 60+ frames can always be split into two of 30+ at no extra cost, so only lengths 30–59 are tried.
- local diversity: every 15-frame window of the generated motion, its mean per-frame distance to the nearest
  15-frame window of the reference; averaged.
- inter-sample diversity: the mean per-frame distance between two generated samples over their common length,
  averaged over all pairs (needs no pretrained network; 0 for identical samples).
- the reference's own spread (not GANimator's; to read the diversities by): every 15-frame window of the
  reference, its mean per-frame distance to the nearest reference window that does not overlap it; averaged. A
  sample as new as the clip's own parts are to each other has a local diversity about this large; a clip that barely
  moves (an idle) has a small spread, and no sample that stays plausible can be far from it.
- harmonic mean: of coverage and of each diversity d mapped to d / (1 + d) (so every term is in [0, 1) and higher
  is better); a copy of the reference (diversity 0) and noise (coverage 0) both score 0.

And what those scores cannot see — how much the motion moves (``energy``), each as a ratio to the reference's:
body speed (joints relative to the travel joint), root travel speed, mean joint acceleration, and foot skating
(ground speed of the contact tips while they are down), all at 30 fps in the reference's body heights. A damped
motion covers the clip at ε = 2 and still moves at half its speed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import anatomy
from . import rotations as rot
from .errors import MotionkitError
from .features import contact_labels
from .motion import Motion

EVAL_FPS = 30.0
COVERAGE_WINDOW = 30
COVERAGE_EPS = 2.0
GLOBAL_MIN_SEGMENT = 30
LOCAL_WINDOW = 15
REFERENCE_WIDTH = 24 * 6 + 4  # GANimator's Mixamo features: 24 joints × 6D + 4 contact labels

# GANimator's joints for Mixamo rigs (matched after the "mixamorigN:" namespace), for comparable numbers.
MIXAMO_24 = ["Hips", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToe_End", "RightUpLeg", "RightLeg",
             "RightFoot", "RightToeBase", "RightToe_End", "Spine", "Spine1", "Spine2", "Neck", "Head",
             "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "RightShoulder", "RightArm", "RightForeArm",
             "RightHand"]
MIXAMO_CONTACTS = ["LeftToeBase", "LeftToe_End", "RightToeBase", "RightToe_End"]


def _bare(name: str) -> str:
    return name.rsplit(":", 1)[-1]


@dataclass
class FeatureSpec:
    """Which joints' rotations and which joints' contacts make up the features, by name."""

    joints: list[str]
    contacts: list[str]
    height: float  # the reference's body height: contact speeds and energies are measured in it
    travel: str  # the joint that carries the reference through the world

    @property
    def width(self) -> int:
        return 6 * len(self.joints) + len(self.contacts)


def feature_spec(reference: Motion) -> FeatureSpec:
    """GANimator's 24 joints and 4 toe contacts on a Mixamo rig; otherwise every joint that is not a finger and
    whose rotation moves in the reference, with the contact joints motionkit finds for the rig."""
    sk = reference.skeleton
    height = anatomy.body_height(reference)
    travel = sk.names[anatomy.travel_joint(reference)]
    bare = [_bare(n) for n in sk.names]
    if all(n in bare for n in MIXAMO_24 + MIXAMO_CONTACTS):
        return FeatureSpec([sk.names[bare.index(n)] for n in MIXAMO_24],
                           [sk.names[bare.index(n)] for n in MIXAMO_CONTACTS], height, travel)
    joints = [sk.names[j] for j in anatomy.animated_joints(reference)]
    contacts = [sk.names[j] for j in anatomy.guess_contacts(reference, height)]
    return FeatureSpec(joints, contacts, height, travel)


def features(motion: Motion, spec: FeatureSpec) -> np.ndarray:
    """(T, D) features at 30 fps: 6D rotations of ``spec.joints`` then 0/1 contact labels."""
    m = motion.resampled(EVAL_FPS)
    try:
        idx = [m.skeleton.index(n) for n in spec.joints]
        cidx = [m.skeleton.index(n) for n in spec.contacts]
    except MotionkitError as e:
        raise MotionkitError(f"{motion.name or 'a generated motion'}: skeleton does not match the reference ({e})")
    rot6 = rot.to_6d(m.rotations[:, idx]).reshape(m.frames, -1)
    return np.concatenate([rot6, contact_labels(m, cidx, spec.height)], axis=1)


ENERGY = ("body_speed", "root_speed", "acceleration", "foot_skating")


def energy(motion: Motion, spec: FeatureSpec, ground: float | None = None) -> dict:
    """How much a motion moves, at 30 fps in body heights per frame: ``body_speed`` (joints relative to the travel
    joint), ``root_speed`` (the travel joint over the ground), ``acceleration`` (of every joint, in the world),
    ``foot_skating`` (ground speed of the contact tips on frames where they are down: within 5 % of the body height
    of ``ground``, the reference's floor, else this motion's own) and ``ground`` itself."""
    m = motion.resampled(EVAL_FPS)
    sk = m.skeleton
    idx = [sk.index(n) for n in spec.joints]
    p = m.world_positions() / spec.height
    travel = p[:, sk.index(spec.travel)]
    body = p[:, idx] - travel[:, None]
    out = {"body_speed": float(np.linalg.norm(np.diff(body, axis=0), axis=-1).mean()) if m.frames > 1 else 0.0,
           "root_speed": float(np.linalg.norm(np.diff(travel[:, [0, 2]], axis=0), axis=-1).mean())
           if m.frames > 1 else 0.0,
           "acceleration": float(np.linalg.norm(np.diff(p[:, idx], 2, axis=0), axis=-1).mean())
           if m.frames > 2 else 0.0}
    if spec.contacts and m.frames > 1:
        tips = anatomy.tips(m, [sk.index(n) for n in spec.contacts]) / spec.height
        floor = float(np.percentile(tips[..., 1], 2)) if ground is None else ground
        down = tips[1:, :, 1] < floor + 0.05
        slide = np.linalg.norm(np.diff(tips[..., [0, 2]], axis=0), axis=-1)
        out["foot_skating"] = float(slide[down].mean()) if down.any() else 0.0
        out["ground"] = floor
    else:
        out["foot_skating"], out["ground"] = 0.0, 0.0
    return out


def frame_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(Ta, Tb) L2 distances between frames, on GANimator's scale (see the module docstring)."""
    d = a @ b.T  # in place from here on: a long take's block is tens of MB, and each pass over it counts
    d *= -2.0
    d += (a * a).sum(1)[:, None]
    d += (b * b).sum(1)[None, :]
    np.maximum(d, 0.0, out=d)
    np.sqrt(d, out=d)
    d *= np.sqrt(REFERENCE_WIDTH / a.shape[1])
    return d


BLOCK_ENTRIES = 1 << 22  # frame distances held at once (32 MB of float64), whatever the clips' lengths


class Distances:
    """The (T_reference, T_generated) frame distances, handed out a block of reference rows at a time.

    Every metric below is a reduction over windows of this matrix, so none needs all of it at once: a 10-minute
    take at 30 fps against a sample twice as long would be 18 000 × 36 000 distances, 5 GB, and its window sums
    as many again. Memory is bounded by ``BLOCK_ENTRIES`` (rows × the generated length), time stays the same."""

    def __init__(self, reference: np.ndarray, generated: np.ndarray | None = None, block: int | None = None):
        self.reference = reference
        self.generated = reference if generated is None else generated
        self.shape = (len(self.reference), len(self.generated))
        self.block = block or self.default_block(self.shape[1])

    @staticmethod
    def default_block(columns: int) -> int:
        """Reference windows per block: ``BLOCK_ENTRIES`` distances, and never fewer than 256 rows."""
        return max(256, BLOCK_ENTRIES // max(columns, 1))

    def rows(self, start: int, stop: int) -> np.ndarray:
        return frame_distances(self.reference[start:stop], self.generated)

    def blocks(self, w: int, span: int | None = None):
        """(first, rows) for blocks of the reference's w-frame windows: ``rows`` holds distance rows ``first`` up to
        what the block's last window needs (``span`` frames from it, default w; fewer at the reference's end)."""
        span = w if span is None else span
        n = self.shape[0] - w + 1
        if n < 1 or self.shape[1] < w:
            raise MotionkitError(f"motions must have at least {w} frames at {EVAL_FPS:g} fps to evaluate")
        for first in range(0, n, self.block):
            last = min(n, first + self.block)
            yield first, self.rows(first, min(self.shape[0], last + span - 1))


class Matrix(Distances):
    """Distances given as a whole matrix (small cases, tests)."""

    def __init__(self, d: np.ndarray, block: int | None = None):
        self.d, self.shape = d, d.shape
        self.block = block or self.default_block(d.shape[1])

    def rows(self, start: int, stop: int) -> np.ndarray:
        return self.d[start:stop]


def _distances(d) -> Distances:
    return d if isinstance(d, Distances) else Matrix(np.asarray(d))


def window_means(d: np.ndarray, w: int) -> np.ndarray:
    """(Ta-w+1, Tb-w+1): mean of d along diagonals over w frames, i.e. window-to-window distances."""
    ta, tb = d.shape[0] - w + 1, d.shape[1] - w + 1
    if ta < 1 or tb < 1:
        raise MotionkitError(f"motions must have at least {w} frames at {EVAL_FPS:g} fps to evaluate")
    p = diagonal_sums(d)
    out = p[w:, w:] - p[:ta, :tb]
    out /= w
    return out


def diagonal_sums(d: np.ndarray) -> np.ndarray:
    """(Ta+1, Tb+1): p[i, j] = the sum of d along the diagonal ending at (i-1, j-1), so that the sum over any
    diagonal run is a difference of two entries (one pass over d, not one per frame of a window)."""
    p = np.zeros((d.shape[0] + 1, d.shape[1] + 1))
    for i in range(1, d.shape[0] + 1):
        np.add(p[i - 1, :-1], d[i - 1], out=p[i, 1:])
    return p


def covered(d) -> np.ndarray:
    """(T_reference - 29,) bool: which of the reference's 30-frame windows some generated window is within ε of."""
    return np.concatenate([window_means(rows, COVERAGE_WINDOW).min(axis=1) < COVERAGE_EPS
                           for _, rows in _distances(d).blocks(COVERAGE_WINDOW)])  # blocks come in order


def coverage(d) -> float:
    """Covered share of the reference's windows; ``d``: ``Distances`` or a (T_reference, T_generated) matrix."""
    return float(covered(d).mean())


def mean_coverage(reference: np.ndarray, motions: list[Motion], spec: FeatureSpec) -> float:
    """Mean coverage of ``reference`` (features) by each of ``motions``; 1.0 for a reference shorter than a window."""
    if len(reference) < COVERAGE_WINDOW:
        return 1.0
    return float(np.mean([coverage(Distances(reference, features(m, spec))) for m in motions]))


def local_diversity(d) -> float:
    """Each generated 15-frame window's distance to its nearest reference window, averaged."""
    best = np.inf
    for _, rows in _distances(d).blocks(LOCAL_WINDOW):
        best = np.minimum(best, window_means(rows, LOCAL_WINDOW).min(axis=0))
    return float(best.mean())


def self_spread(d) -> float | None:
    """The reference's distances to itself (``Distances(features)``): each 15-frame window's distance to the
    nearest window that does not overlap it, averaged; None when no two of its windows are apart."""
    d = _distances(d)
    best = []
    for first, rows in d.blocks(LOCAL_WINDOW):
        w = window_means(rows, LOCAL_WINDOW)
        i = first + np.arange(len(w))
        j = np.arange(w.shape[1])
        best.append(np.where(np.abs(i[:, None] - j[None, :]) < LOCAL_WINDOW, np.inf, w).min(axis=1))
    best = np.concatenate(best)
    return float(best[np.isfinite(best)].mean()) if np.isfinite(best).any() else None


def global_diversity(d) -> float:
    """Patched nearest neighbour by dynamic programming over segments of 30–59 frames."""
    d = _distances(d)
    tr, tg = d.shape
    lo = GLOBAL_MIN_SEGMENT
    if tg < lo or tr < lo:
        raise MotionkitError(f"motions must have at least {lo} frames at {EVAL_FPS:g} fps for global diversity")
    hi = min(2 * lo - 1, tg, tr)
    seg = np.full((hi + 1, tg + 1), np.inf)  # seg[L, e]: best cost of generated frames [e-L, e)
    for first, rows in d.blocks(lo, span=hi):
        n = len(rows)
        p = diagonal_sums(rows)  # a segment's cost is a difference of two entries
        starts = min(d.block, tr - lo + 1 - first)  # the block's own segment starts (the rows run past them)
        for length in range(lo, hi + 1):
            k = min(starts, n + 1 - length)  # starts whose segment of this length fits in the reference
            if k < 1:
                continue
            cost = p[length:length + k, length:] - p[:k, :tg + 1 - length]  # (ref start, gen start)
            seg[length, length:] = np.minimum(seg[length, length:], cost.min(axis=0))
    best = np.full(tg + 1, np.inf)
    best[0] = 0.0
    for e in range(lo, tg + 1):
        lengths = np.arange(lo, min(hi, e) + 1)
        best[e] = np.min(best[e - lengths] + seg[lengths, e])
    # best[tg] is always finite: a length of 30 or more splits into parts of 30..hi (hi = tg when tg <= 59)
    return float(best[tg] / tg)


def inter_diversity(feats: list[np.ndarray]) -> float | None:
    if len(feats) < 2:
        return None
    n = min(len(f) for f in feats)
    stacked = np.stack([f[:n] for f in feats])  # (S, T, D)
    scale = np.sqrt(REFERENCE_WIDTH / stacked.shape[-1])
    total, pairs = 0.0, 0
    for i in range(len(feats)):
        diff = np.linalg.norm(stacked[i + 1:] - stacked[i], axis=-1) * scale
        total += diff.mean(axis=1).sum()
        pairs += len(feats) - i - 1
    return float(total / pairs)


def harmonic_mean(values: list[float]) -> float:
    if any(v <= 0 for v in values):
        return 0.0
    return float(len(values) / sum(1.0 / v for v in values))


def evaluate(reference: Motion, generated: list[Motion]) -> dict:
    """Every metric for ``generated`` against ``reference``: per sample and averaged."""
    spec = feature_spec(reference)
    ref = features(reference, spec)
    ref_energy = energy(reference, spec)
    per = []
    feats = []
    for g in generated:
        f = features(g, spec)
        feats.append(f)
        d = Distances(ref, f)
        e = energy(g, spec, ref_energy["ground"])
        per.append({"name": g.name, "frames_30fps": len(f), "coverage": coverage(d),
                    "global_diversity": global_diversity(d), "local_diversity": local_diversity(d),
                    **{k: _ratio(e[k], ref_energy[k]) for k in ENERGY}})
    keys = ("coverage", "global_diversity", "local_diversity") + ENERGY
    mean = {k: (float(np.mean([p[k] for p in per])) if all(p[k] is not None for p in per) else None) for k in keys}
    inter = inter_diversity(feats)
    terms = [mean["coverage"], mean["global_diversity"] / (1 + mean["global_diversity"]),
             mean["local_diversity"] / (1 + mean["local_diversity"])]
    if inter is not None:
        terms.append(inter / (1 + inter))
    return {
        "reference": reference.name, "reference_frames_30fps": len(ref), "samples": len(generated),
        "feature_width": spec.width, "joints": spec.joints, "contacts": spec.contacts,
        "reference_energy": {k: ref_energy[k] for k in ENERGY},
        "reference_spread": self_spread(Distances(ref)),
        **mean, "inter_diversity": inter, "harmonic_mean": harmonic_mean(terms), "per_sample": per,
    }


def _ratio(value: float, reference: float) -> float | None:
    """A sample's energy as a fraction of the reference's (None where the reference has none)."""
    return float(value / reference) if reference > 1e-9 else None
