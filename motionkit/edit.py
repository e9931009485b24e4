"""One forward pass of a trained pyramid: sampling, and editing without retraining (the paper's §4.2).

``sample`` is the one way motionkit makes new motions from noise (every command that samples calls it): noise at
the first stage, the trained generators in turn, decoding onto the clip's full skeleton at the asked frame rate,
then foot locking.

Every editing operation is one more move in the same pass: a mask M over (frames × feature channels) says what
must come from a given motion; at the input of level 2 (the paper's L2: ``Model.level_start(1)``) the masked part
of the downsampled given motion replaces the generated one (eq. 5: M ⊙ T̂ ⊕ M̃ ⊙ ↓T), and the later generators
refine the whole. Masks over frames give inpainting, composition and expansion; masks over joints give body-part
composition; a full mask at an earlier stage gives re-styling.

The generators blur a hard edge, so the result is finally composited with the given motion, per frame and joint,
with the mask's edges feathered over a few frames: kept frames and joints are then the given ones exactly, and the
root's ground trajectory is integrated so the kept parts keep their own positions.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import features as feat
from . import rotations as rot
from .errors import MotionkitError
from .footfix import fix_feet, fix_feet_world
from .model import Injection, Model, resize
from .model import precision as compute_dtype
from .motion import Motion, world_transforms_many

FEATHER = 4  # frames (at 30 fps) over which a kept region fades into a generated one


def model_frames(model: Model, frames: int, fps: float) -> int:
    """Frames at the model's rate whose span covers ``frames`` output frames at ``fps`` (at least 8)."""
    return max(8, int(math.ceil((frames - 1) * model.enc.fps / fps - 1e-9)) + 1)


def keep_weights(kept: np.ndarray, feather: int) -> np.ndarray:
    """(T,) compositing weights: 1 on kept frames, ramping down to 0 over ``feather`` generated frames beside
    them (kept frames stay exact; the blend lives in the generated part)."""
    kept = np.asarray(kept, dtype=bool)
    w = kept.astype(np.float64)
    for d in range(1, feather + 1):
        near = np.zeros_like(kept)
        near[d:] |= kept[:-d]
        near[:-d] |= kept[d:]
        w = np.maximum(w, near * (1.0 - d / (feather + 1)))
    return w


def resample_mask(w: np.ndarray, frames: int) -> np.ndarray:
    if len(w) == frames:
        return np.asarray(w, dtype=np.float64)
    return np.interp(np.linspace(0, 1, frames), np.linspace(0, 1, len(w)), w)


def channel_mask(model: Model, joints: set[int]) -> np.ndarray:
    """(C,) 0/1 over feature channels: the 6D rotations and modelled offsets of ``joints`` (skeleton indices), the
    contact labels of contacts among them, and the travel joint's trajectory if it is among them."""
    enc = model.enc
    m = np.zeros(enc.width)
    for k, j in enumerate(enc.joints):
        if j in joints:
            m[6 * k:6 * k + 6] = 1
    for k, j in enumerate(enc.contacts):
        if j in joints:
            m[6 * len(enc.joints) + k] = 1
    if enc.travel in joints:
        m[enc.root_slice] = 1
    for k, j in enumerate(enc.offsets):
        if j in joints:
            m[enc.root_slice.stop + 3 * k:enc.root_slice.stop + 3 * k + 3] = 1
    return m


def synthesize(model: Model, n: int, frames: int, rng: torch.Generator | None = None,
               given: torch.Tensor | None = None, mask: np.ndarray | None = None, stage: int | None = None,
               precision: str = "float32"):
    """(n, C, frames) normalised features from the trained stages; ``given`` (1, C, frames) imposed where ``mask``
    (frames, C) is 1, at the input of ``stage`` (default: level 2's first stage, as in the paper).

    ``precision`` "bfloat16" (or "auto": where the device computes it natively) runs the convolutions in bfloat16
    (``torch.autocast``; each stage's residual sum stays float32): a 50-character crowd's forward pass about 3x
    faster on an AMX CPU, for joints a fraction of a percent of the body's height from float32's
    (``bench/ops.py`` measures both)."""
    inject = None
    if given is not None:
        m = torch.tensor(np.asarray(mask, dtype=np.float32).T[None])
        inject = Injection(model.level_start(1) if stage is None else stage, given, m)
    device = next(model.generators[0].parameters()).device
    dtype = compute_dtype(precision, str(device))
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        x = model.generate(n, frames, rng, upto=max(1, model.trained_stages), inject=inject)
    return x.float()


def sample(model: Model, n: int, frames: int, fps: float | None = None, rng: torch.Generator | None = None,
           foot_fix: bool = True, name: str = "sample", metadata: dict | None = None,
           precision: str = "float32") -> list[Motion]:
    """``n`` new motions of ``frames`` frames at ``fps`` (default: the training clip's rate), in one forward pass:
    GANimator's sampling (noise at the first stage only), decoded onto the full skeleton, feet locked where the
    model predicts contact (``foot_fix``). Each motion's metadata is ``metadata`` plus its ``index``; ``precision``
    as in ``synthesize``."""
    return sample_with_world(model, n, frames, fps, rng, foot_fix, name, metadata, precision, want_world=False)[0]


def sample_with_world(model: Model, n: int, frames: int, fps: float | None = None,
                      rng: torch.Generator | None = None, foot_fix: bool = True, name: str = "sample",
                      metadata: dict | None = None, precision: str = "float32", want_world: bool = True):
    """``sample`` and each motion's ``world_transforms()`` (one forward kinematics for all, which the foot
    clean-up needs anyway and keeps up to date): what a crowd's placement measures footprints on."""
    fps = model.source_fps if fps is None else fps
    device = next(model.generators[0].parameters()).device
    precision = str(compute_dtype(precision, str(device))).replace("torch.", "")  # "auto" resolved here
    x = synthesize(model, n, model_frames(model, frames, fps), rng, precision=precision)

    def finish(x):  # decoding, forward kinematics and foot locking of some of the samples
        motions = to_motions(model, x, fps, frames)
        worlds = world_transforms_many(motions) if foot_fix or want_world else [None] * len(motions)
        if foot_fix:
            fixed = [fix_feet_world(m, world=w, want_world=want_world, in_place=True) for m, w in zip(motions, worlds)]
            motions, worlds = [m for m, _ in fixed], [w for _, w in fixed]
        return motions, worlds

    # numpy lets go of the GIL inside its array loops: a crowd's samples finish in as many threads as torch
    # uses (the work is per sample and deterministic, so the result does not depend on the split)
    parts = min(n, torch.get_num_threads()) if n >= 8 else 1
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(parts) as pool:
            done = list(pool.map(finish, torch.tensor_split(x, parts)))
        motions, worlds = [m for ms, _ in done for m in ms], [w for _, ws in done for w in ws]
    else:
        motions, worlds = finish(x)
    out = []
    for i, m in enumerate(motions):
        meta = {**(metadata or {}), "index": i, "contacts": m.metadata["contacts"]}
        if precision != "float32":
            meta["precision"] = precision
        out.append(m.replace(name=f"{name}_{i:03d}", metadata=meta))
    return out, (worlds if want_world else None)


def unmodelled(model: Model) -> list[int]:
    """Joints the model generates nothing for (neither rotation nor offset): operations keep the given ones."""
    enc = model.enc
    return [j for j in range(len(enc.skeleton)) if j not in enc.joints and j not in enc.offsets]


def given_features(model: Model, motion: Motion) -> tuple[torch.Tensor, int]:
    """``motion``'s features resampled to the frames that cover it at the model's rate, and that frame count."""
    tm = model_frames(model, motion.frames, motion.fps)
    return resize(model.encode(motion), tm), tm


def conditioned(model: Model, given: Motion, kept_frames: np.ndarray, joints: set[int] | None = None, n: int = 1,
                rng: torch.Generator | None = None, stage: int | None = None, anchored: bool = True,
                foot_fix: bool = True, name: str = "", metadata: dict | None = None) -> list[Motion]:
    """``n`` motions as long as ``given`` (and at its frame rate) that keep its ``kept_frames`` (a (T,) bool
    mask), and its ``joints`` on every frame, and generate the rest: the one move behind every operation."""
    t, fps = given.frames, given.fps
    x_given, tm = given_features(model, given)
    kept = np.asarray(kept_frames, dtype=bool)
    cm = channel_mask(model, joints) if joints else np.zeros(model.enc.width)
    mask = np.maximum(resample_mask(kept.astype(np.float64), tm)[:, None], cm[None, :])
    x = synthesize(model, n, tm, rng, x_given, mask, stage)
    jm = np.zeros(len(given.skeleton))
    if joints:
        jm[sorted(joints)] = 1.0
    jm[unmodelled(model)] = 1.0  # not modelled: the given motion's own
    w = np.maximum(keep_weights(kept, int(round(FEATHER * fps / model.enc.fps)))[:, None], jm[None, :])
    out = []
    for i, g in enumerate(to_motions(model, x, fps, t)):
        if foot_fix:
            g = fix_feet(g)
        m = composite(given, g, w, model.enc, anchored=anchored)
        meta = dict(metadata or {})
        meta["kept_frames"] = np.flatnonzero(kept).tolist()
        meta["contacts"] = g.metadata.get("contacts", {})
        out.append(m.replace(name=f"{name}_{i:03d}" if n > 1 else name, metadata=meta))
    return out


HEADING_SIGMA = 2.0  # frames at the model's rate: the Gaussian that steadies a world-frame sample's heading


def steady_heading(m: Motion, enc: feat.Encoding, sigma: float = HEADING_SIGMA) -> Motion:
    """``m`` with its travel joint's heading (its turn about the up axis) smoothed over time by a Gaussian of
    ``sigma`` frames; its path, tilt and every other joint as they were.

    In GANimator's world-frame encoding the heading is a pair of sines and cosines in the hips' 6D channels, and
    each finer stage's small correction to them is a wobble of the whole body that no clip has: smoothing a clip's
    own heading this way changes its body speed by 0.2 % or less (Salsa, Gangnam, Joe_Walk-In-Circle, Xia_normal;
    the crab, which turns quickly at times, 1.3 %), while samples lose the wobble — Salsa's `fast` model 1.14 →
    1.09 of the clip's body speed, acceleration 1.48 → 1.32, heading acceleration 1.55 → 0.95 of the clip's,
    coverage and root travel unchanged; Joe_Walk-In-Circle's 1.23 → 1.18; Gangnam's coverage 0.815 → 0.814
    (``motionkit eval -m MODEL -n 20 --length 2x --seed 0`` and ``bench/sampling.py MODEL --turning``, which also
    steadies the clip's own heading). The heading is read rig-free (``features.travel_headings``): a rig whose hip frame is
    upside down at rest is steadied as the clip is (tested)."""
    if sigma <= 0 or m.frames < 3:
        return m
    psi = feat.travel_headings(m, enc)
    return m.replace(rotations=_travel_turned(m, enc, feat.smoothed(psi, sigma) - psi))


def to_motions(model: Model, x: torch.Tensor, fps: float, frames: int) -> list[Motion]:
    """Full-skeleton motions at ``fps`` with exactly ``frames`` frames from (n, C, T) normalised features (a
    world-frame heading steadied: ``steady_heading``)."""
    out = []
    for i in range(x.shape[0]):
        m = feat.decode(x[i].T.numpy(), model.enc, contact_threshold=model.contact_threshold)
        if not model.enc.heading:
            m = steady_heading(m, model.enc)
        labels = m.metadata.pop("contacts")  # per frame at the model's rate
        if abs(fps - m.fps) > 1e-9:
            m = m.resampled(fps)
        if m.frames < frames:
            raise ValueError(f"{x.shape[-1]} model frames do not cover {frames} frames at {fps:g} fps")
        if m.frames > frames:
            m = m.slice(0, frames)
        pick = np.minimum(np.round(np.arange(frames) * model.enc.fps / fps).astype(int), x.shape[-1] - 1)
        m.metadata["contacts"] = {k: np.asarray(v)[pick].tolist() for k, v in labels.items()}
        out.append(m)
    return out


def composite(given: Motion, generated: Motion, weight: np.ndarray, enc: feat.Encoding,
              anchored: bool = True) -> Motion:
    """Per frame and joint, ``given`` where ``weight`` (T, J) is 1, ``generated`` where 0, slerped between.

    First the generated motion is turned about the up axis to follow a heading (the travel joint's turn about
    the up axis) that is the given one on kept frames and, in each generated gap, the generated turning rates bent
    to land on the given heading at the gap's other end (a model that encodes the heading as a rate starts its
    samples at the clip's first heading, not the given motion's; kept frames never turn). Then joint rotations
    and translations blend directly; the travel joint's world height keeps that blend, and its ground (x, z) path
    is integrated from blended velocities. ``anchored``: the path passes through ``given`` at its first fully kept
    frame, and a generated gap between two kept frames is bent so that the path meets ``given`` again on the
    other side (inpainting keeps the rest of the clip where it was). Not anchored: the kept parts keep their own
    velocities but ride on the generated path (composition)."""
    t = given.frames
    if generated.frames != t or abs(generated.fps - given.fps) > 1e-9:
        raise ValueError("composite needs motions of equal length and frame rate")
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64).reshape(t, -1), (t, len(given.skeleton)))
    wr = w[:, enc.travel]
    wv = np.minimum(wr[1:], wr[:-1])[:, None]  # a step is the given's where both its frames are kept
    kept = np.flatnonzero(wr >= 1.0)
    psi_giv, psi_gen = feat.travel_headings(given, enc), feat.travel_headings(generated, enc)
    turns = np.zeros((t, 1))
    turns[1:] = wv * np.diff(psi_giv)[:, None] + (1 - wv) * np.diff(psi_gen)[:, None]
    psi = _joined(turns, psi_giv[:, None], kept, True, psi_gen[:1])[:, 0]  # kept frames keep their heading
    generated = turned(generated, enc, psi - psi_gen)
    q_gen = rot.make_continuous(generated.rotations, axis=0)
    q_giv = given.rotations * np.where((given.rotations * q_gen).sum(-1, keepdims=True) < 0, -1.0, 1.0)
    rotations = rot.normalize(q_gen * (1 - w[..., None]) + q_giv * w[..., None])  # nlerp: no pops, exact at 0/1
    exact = w >= 1.0
    rotations[exact] = given.rotations[exact]
    translations = generated.translations * (1 - w[..., None]) + given.translations * w[..., None]
    translations[exact] = given.translations[exact]
    world_giv, world_gen = feat.travel_positions(given, enc), feat.travel_positions(generated, enc)
    p_giv, p_gen = world_giv[:, [0, 2]], world_gen[:, [0, 2]]
    v = np.zeros_like(p_giv)
    v[1:] = wv * np.diff(p_giv, axis=0) + (1 - wv) * np.diff(p_gen, axis=0)
    path = _joined(v, p_giv, kept, anchored, p_gen[0])
    out = given.replace(rotations=rotations, translations=translations)
    world = feat.travel_positions(out, enc)
    world[:, 0], world[:, 2] = path[:, 0], path[:, 1]
    return feat.with_travel_positions(out, enc, world)


def _joined(steps: np.ndarray, given: np.ndarray, kept: np.ndarray, anchored: bool, start) -> np.ndarray:
    """A path (T, d) integrated from per-frame ``steps`` (T, d; the first one unused). ``anchored`` (and frames
    ``kept``): through ``given`` at the first kept frame, each gap between two kept frames bent to land where
    ``given`` does; otherwise from ``start``."""
    steps = steps.copy()
    steps[0] = 0.0
    if not (anchored and len(kept)):
        return np.cumsum(steps, axis=0) + start
    for a, b in zip(kept[:-1], kept[1:]):
        if b - a > 1:
            steps[a + 1:b + 1] += ((given[b] - given[a]) - steps[a + 1:b + 1].sum(axis=0)) / (b - a)
    path = np.cumsum(steps, axis=0)
    return path + given[kept[0]] - path[kept[0]]


def _travel_turned(m: Motion, enc: feat.Encoding, angles) -> np.ndarray:
    """``m``'s rotations with its travel joint turned about the world's up axis by ``angles`` (T,) radians."""
    pq, _ = enc.parent_world()
    rotations = m.rotations.copy()
    rotations[:, enc.travel] = rot.multiply(rot.conjugate(pq), rot.multiply(
        feat.about_up(angles), rot.multiply(pq, m.rotations[:, enc.travel])))
    return rotations


def turned(m: Motion, enc: feat.Encoding, angles) -> Motion:
    """``m`` with its travel joint turned about the up axis by ``angles`` (T,) radians per frame, and its ground
    path re-integrated from its velocities turned the same way, from the same first position (a constant angle
    turns the whole motion about that position)."""
    angles = np.broadcast_to(np.asarray(angles, dtype=np.float64), (m.frames,))
    if not np.any(angles):
        return m
    rotations = _travel_turned(m, enc, angles)
    turn = feat.about_up(angles)
    world = feat.travel_positions(m, enc)
    steps = np.zeros_like(world)
    steps[1:] = rot.rotate(turn[1:], np.diff(world, axis=0))
    steps[:, 1] = 0.0
    path = world[:1] + np.cumsum(steps, axis=0)
    path[:, 1] = world[:, 1]
    return feat.with_travel_positions(m.replace(rotations=rotations), enc, path)


def body_part(model: Model, keep: str) -> set[int]:
    """Skeleton joint indices for ``lower``, ``upper`` or comma-separated joint names.

    Lower body, for a humanoid (as in the paper, the root belongs to it): the travel joint and what is above it,
    the joints on the way down to the first branching joint, and the branches that hold contact joints (the
    legs); upper body: the rest."""
    sk = model.enc.skeleton
    if keep not in ("lower", "upper"):
        names = [n.strip() for n in keep.split(",") if n.strip()]
        missing = [n for n in names if n not in sk.names]
        if missing:
            raise MotionkitError(f"--keep: no joint named {missing[0]!r} in the model's skeleton")
        idx = {sk.index(n) for n in names}
        return {j for j in range(len(sk)) if _under(sk.parents, j, idx)}
    children = sk.children
    j = model.enc.travel
    lower = {j} | {a for a in range(len(sk)) if _under(sk.parents, j, {a})}  # it and what carries it
    while len(children[j]) == 1:
        j = children[j][0]
        lower.add(j)
    contacts = set(model.enc.contacts)
    for c in children[j]:
        sub = {k for k in range(len(sk)) if _under(sk.parents, k, {c})}
        if sub & contacts:
            lower |= sub
    if len(lower) == len(sk) or not contacts:
        raise MotionkitError("cannot tell the upper from the lower body on this skeleton: name the joints to keep")
    return lower if keep == "lower" else set(range(len(sk))) - lower


def _under(parents, j: int, roots: set[int]) -> bool:
    while j >= 0:
        if j in roots:
            return True
        j = int(parents[j])
    return False


# ---- the operations, as the paper's §4.2 describes them -------------------------------------------------------

def inpaint(model: Model, source: Motion, spans: list[tuple[int, int]], **kw) -> list[Motion]:
    """Option (a) of full-body composition: the spans are removed and regenerated, the rest is kept (eq. 5).
    Spans that run past the source's end make the output longer (the new frames are generated, as in expand)."""
    frames = max([source.frames] + [b for _, b in spans])
    idx = np.minimum(np.arange(frames), source.frames - 1)
    given = source.replace(rotations=source.rotations[idx], translations=source.translations[idx])
    kept = np.arange(frames) < source.frames
    for a, b in spans:
        kept[a:b] = False
    return conditioned(model, given, kept, **kw)


def compose(model: Model, roi: Motion, at: list[int], frames: int, source: Motion | None = None,
            **kw) -> list[Motion]:
    """Option (b): the ROI mini-clip placed at the frames ``at`` of a new ``frames``-long motion, the rest
    generated from noise; the ROI's features join the generated coarse levels at L2 and the later stages
    blend them in. ``source`` (for --keep) supplies the kept joints outside the ROI windows."""
    base = source if source is not None else roi
    idx = np.minimum(np.arange(frames), base.frames - 1)
    given = base.replace(rotations=base.rotations[idx].copy(), translations=base.translations[idx].copy())
    kept = np.zeros(frames, bool)
    for start in at:
        stop = min(start + roi.frames, frames)
        given.rotations[start:stop] = roi.rotations[:stop - start]
        given.translations[start:stop] = roi.translations[:stop - start]
        kept[start:stop] = True
    return conditioned(model, given, kept, anchored=False, **kw)


def expand(model: Model, source: Motion, before: int, after: int, **kw) -> list[Motion]:
    """Motion expansion: generated motion before and after the source, which stays in the middle."""
    idx = np.clip(np.arange(-before, source.frames + after), 0, source.frames - 1)
    given = source.replace(rotations=source.rotations[idx], translations=source.translations[idx])
    kept = np.zeros(len(idx), bool)
    kept[before:before + source.frames] = True
    return conditioned(model, given, kept, **kw)


def restyle(model: Model, content: Motion, stage: int = 1, n: int = 1, rng=None, foot_fix: bool = True,
            name: str = "", metadata: dict | None = None) -> list[Motion]:
    """Re-styling: the content's (downsampled, low-frequency) motion replaces the style model's own at the input
    of ``stage`` and the generators from there on add the style clip's high-frequency detail. Joints the style
    model does not animate keep the content's; the path starts where the content's does."""
    t, fps = content.frames, content.fps
    x_given, tm = given_features(model, content)
    x = synthesize(model, n, tm, rng, x_given, np.ones((tm, model.enc.width)), stage)
    w = np.zeros((t, len(content.skeleton)))
    w[:, unmodelled(model)] = 1.0
    out = []
    for i, g in enumerate(to_motions(model, x, fps, t)):
        contacts = g.metadata.get("contacts", {})
        m = _start_at(composite(content, fix_feet(g) if foot_fix else g, w, model.enc, anchored=False), content,
                      model.enc)
        out.append(m.replace(name=f"{name}_{i:03d}" if n > 1 else name,
                             metadata={**(metadata or {}), "contacts": contacts}))
    return out


def _start_at(m: Motion, ref: Motion, enc: feat.Encoding) -> Motion:
    """``m`` turned to ``ref``'s first heading and moved to its first ground position."""
    m = turned(m, enc, feat.travel_headings(ref, enc)[0] - feat.travel_headings(m, enc)[0])
    world, first = feat.travel_positions(m, enc), feat.travel_positions(ref, enc)[0]
    world[:, [0, 2]] += first[[0, 2]] - world[0, [0, 2]]
    return feat.with_travel_positions(m, enc, world)
