"""Training, top to bottom (the paper's §3.2–3.3 on GANimator's pyramid; the networks are in ``model.py``).

Levels are trained one after the other, earlier levels frozen. Each iteration: ``d_steps`` WGAN-GP critic
steps, then one generator step with the adversarial loss, the L1 reconstruction through the fixed code z*, the
foot-contact loss, and (motionkit's, not the paper's) the coverage loss, on the whole length of the level's stages. The
paper's recipe: a mini-batch of B copies of the clip with independent noise, per-level weights λadv/λrec, and
cross-level transfer (before a level starts, the early layers of each generator are copied from the same position
in the previous level: G_j ← G_{j−2}).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import features as feat
from . import gan
from .model import Model, draw_noise, precision, resize  # precision: train's --precision, sampling's too


class ContactFK(torch.nn.Module):
    """Forward kinematics in torch for the contact loss: world positions of the contact tips (in body heights),
    from the travel joint down, exactly as ``features.decode`` turns features into joint transforms."""

    def __init__(self, enc: feat.Encoding):
        super().__init__()
        from . import rotations as rot

        sk = enc.skeleton
        self.contacts = [c for c in enc.contacts if _below(sk, c, enc.travel)]
        chain: set[int] = {enc.travel}
        for j in self.contacts:
            while j != enc.travel:
                chain.add(j)
                j = int(sk.parents[j])
        self.order = sorted(chain)  # parents come first in a Skeleton
        self.parent = [-1 if j == enc.travel else self.order.index(int(sk.parents[j])) for j in self.order]
        modelled = {j: k for k, j in enumerate(enc.joints)}
        offsets = {j: k for k, j in enumerate(enc.offsets)}
        self.source = [modelled.get(j, -1) for j in self.order]
        self.offset_source = [offsets.get(j, -1) for j in self.order]
        frames = rot.to_matrix(enc.frames)
        parent_frames = np.stack([np.eye(3) if j == enc.travel else frames[int(sk.parents[j])] for j in self.order])
        self.register_buffer("left", torch.tensor(parent_frames.transpose(0, 2, 1), dtype=torch.float32))
        self.register_buffer("right", torch.tensor(frames[self.order], dtype=torch.float32))
        self.register_buffer("fixed", torch.tensor(rot.to_matrix(enc.rest_rotations[self.order]), dtype=torch.float32))
        self.register_buffer("offsets", torch.tensor(enc.rest_translations[self.order] / enc.height, dtype=torch.float32))
        tips = [sk.end_sites.get(j, np.zeros(3)) / enc.height for j in self.contacts]
        self.register_buffer("tips", torch.tensor(np.array(tips).reshape(-1, 3), dtype=torch.float32))
        self.tip_index = [self.order.index(j) for j in self.contacts]
        self.label_index = [enc.contacts.index(j) for j in self.contacts]
        self.n_joints, self.n_contacts = len(enc.joints), len(self.contacts)
        self.root = enc.root_slice
        self.heading = enc.heading
        self.travel_source = modelled.get(enc.travel, -1)
        self.register_buffer("mean", torch.tensor(enc.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(enc.std, dtype=torch.float32))
        self.register_buffer("is_fixed", torch.tensor(enc.fixed, dtype=torch.bool))

    def forward(self, x):  # x: (B, C, T) normalised → tips (B, T, n_contacts, 3), contact labels (B, T, n_contacts)
        f = x.transpose(1, 2) * self.std + self.mean
        f = torch.where(self.is_fixed, self.mean, f)
        b, t = f.shape[:2]
        d6 = f[..., :6 * self.n_joints].reshape(b, t, self.n_joints, 6)
        a1, a2 = F.normalize(d6[..., :3], dim=-1), d6[..., 3:]
        a2 = F.normalize(a2 - (a1 * a2).sum(-1, keepdim=True) * a1, dim=-1)
        mats = torch.stack([a1, a2, torch.cross(a1, a2, dim=-1)], dim=-1)
        root = f[..., self.root]
        vx, vz = root[..., 0], root[..., 2]
        if self.heading:  # as ``features.decode``: the turning rate integrated, then the heading applied
            psi = root[..., 3].cumsum(1)
            c, s = torch.cos(psi), torch.sin(psi)
            zero, one = torch.zeros_like(c), torch.ones_like(c)
            turn = torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=-1).reshape(b, t, 3, 3)
            k = self.travel_source
            mats = torch.cat([mats[:, :, :k], (turn @ mats[:, :, k]).unsqueeze(2), mats[:, :, k + 1:]], dim=2)
            vx, vz = c * vx + s * vz, c * vz - s * vx
        pos_root = torch.stack([vx.cumsum(1), root[..., 1], vz.cumsum(1)], dim=-1)
        world_r, world_p = [], []
        for k, p in enumerate(self.parent):
            if self.source[k] >= 0:
                r = self.left[k] @ mats[:, :, self.source[k]] @ self.right[k]
            else:
                r = self.fixed[k].expand(b, t, 3, 3)
            if p < 0:
                world_r.append(r)
                world_p.append(pos_root)
                continue
            if self.offset_source[k] >= 0:
                o = self.root.stop + 3 * self.offset_source[k]
                offset = (self.left[k] @ f[..., o:o + 3].unsqueeze(-1)).squeeze(-1)
            else:
                offset = self.offsets[k]
            world_p.append(world_p[p] + (world_r[p] @ offset.unsqueeze(-1)).squeeze(-1))
            world_r.append(world_r[p] @ r)
        tips = torch.stack([world_p[i] + (world_r[i] @ self.tips[c].unsqueeze(-1)).squeeze(-1)
                            for c, i in enumerate(self.tip_index)], dim=2)
        start = 6 * self.n_joints
        labels = f[..., [start + i for i in self.label_index]]
        return tips, labels


def _below(skeleton, j: int, ancestor: int) -> bool:
    while j >= 0:
        if j == ancestor:
            return True
        j = int(skeleton.parents[j])
    return False


def contact_loss(fk: ContactFK, x: torch.Tensor) -> torch.Tensor:
    """GANimator's foot-contact consistency: tip speed (body heights per frame) where the predicted label says 'on
    the ground'. The speed, not its square: a squared speed's pull fades as the foot slows (0.01 body heights a
    frame, the contact threshold, costs 1e-4), so the feet never settle — the crab's samples, labelled on the
    ground about as often as the clip is, had their tips still on 8 % of frames (the clip: 73 %).

    Its weight also pushes the predicted labels down (GANimator's does too), and a heavy one teaches the generator to
    say no foot is down rather than hold its feet: Gangnam at a weight of 25 labelled 748 frames of eight samples
    down against 4 880 at 5. Detaching the labels (a weight of 25) held the samples' feet as still as the clip's
    but damped their motion and covered less (BENCHMARKS.md): not kept."""
    if fk.n_contacts == 0 or x.shape[-1] < 2:
        return x.new_zeros(())
    tips, labels = fk(x)
    speed = (((tips[:, 1:] - tips[:, :-1]) ** 2).sum(-1) + 1e-12).sqrt()
    return (speed * torch.sigmoid((labels[:, 1:] - 0.5) * 12)).mean()


COVER_EPS = 1.0  # the coverage loss's reach: half ``metrics.COVERAGE_EPS``, a margin for the finer levels' detail


def cover_loss(fake: torch.Tensor, real: torch.Tensor, scale: torch.Tensor, width: int, eps: float) -> torch.Tensor:
    """GANimator's coverage made a loss: every ``width``-frame window of the clip should lie within ``eps`` of
    some window of each sample. Windows compare as ``metrics.coverage`` compares them (the per-frame distance of
    the rotations, averaged along a diagonal); only windows farther than ``eps`` from all of a sample's windows pull,
    and each pulls its nearest window of the sample: a covered section leaves the sample free to vary.
    ``fake`` (B, C, T), ``real`` (1, C, T'), normalised; ``scale`` (C6, 1): the rotation channels' std.

    Why: the adversarial loss judges patches, and nothing asks a sample to play every section of the clip — the coarse
    level decides which sections a sample holds, and Gangnam's samples left out its last tenth half the time (each
    covering 0.58-0.94 of the clip; 0.815-0.866 in all at ``fast``, under #13's 0.90 at every seed). With this loss
    at the coarse level (weight 5, reach ``COVER_EPS``), Gangnam's coarse level covers 0.957 after 600 iterations
    where it covered 0.634, and the finished models 0.955 and 0.959 at seeds 0 and 1 (BENCHMARKS.md, "Stop 31").
    It compares whole sequences: a level trained on windows weighs it lazily on a whole-length pass (``cover_every``)."""
    c = scale.shape[0]
    a = (fake[:, :c] * scale).transpose(1, 2)  # (B, T, C6), un-normalised: radians-like 6D
    r = (real[:, :c] * scale).transpose(1, 2).expand(a.shape[0], -1, -1).contiguous()
    d = torch.cdist(r, a)  # (B, T', T): every frame of the clip against every frame of each sample
    w = min(width, d.shape[1], d.shape[2])
    n1, n2 = d.shape[1] - w + 1, d.shape[2] - w + 1
    windows = d[:, :n1, :n2]  # (B, T'-w+1, T-w+1): window-to-window distances, summed along the diagonals — w
    for k in range(1, w):  # shifted adds: 7-38x faster than an identity-kernel convolution (bench/cover_cost.py)
        windows = windows + d[:, k:k + n1, k:k + n2]
    return F.relu(windows.amin(dim=2) / w - eps).mean()


def cover_weights(model: Model) -> list[float]:
    """The coverage loss's weight at each level (the configured ones, the last repeated)."""
    w = model.config.lambda_cover
    return [float(w[min(li, len(w) - 1)]) for li in range(len(model.levels))]


def cover_every(model: Model, stages) -> int:
    """How often a level weighs the coverage loss. A window cannot hold every section of the clip, so where a level
    trains on windows the loss needs a pass of the level's stages over their whole length: every k-th iteration,
    k the number of windows the last stage holds (rounded up), weighted k times (lazily, as the gradient penalty) —
    on average that pass costs what a window's does, however long the clip. Salsa's coarse level (172 frames on
    160-frame windows) had trained without the loss: its warm start from another clip's model covered 0.919
    (BENCHMARKS.md, "Warm start"). Every iteration where the level trains on the whole clip. Never (0) where the
    distances it compares, every frame of the clip against every frame of each sample, would pass ``COVER_MOST``
    (at ``fast``'s batch of 2, a take of more than about 24 minutes at 30 fps): their memory grows with the square
    of the take."""
    n = model.lengths[stages[-1]]
    if model.config.batch * n * n > COVER_MOST:
        return 0
    return -(-n // model.config.window) if _windowed(model, stages) else 1


COVER_MOST = 2 ** 28  # distances in the loss's matrix (float32: 1 GiB; it holds a few such at once with their gradient)


def _windowed(model: Model, stages) -> bool:
    """Whether a level trains on windows: its last stage is longer than the configured window."""
    return bool(model.config.window and model.config.window < model.lengths[stages[-1]])


def gradient_penalty(d: gan.Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    alpha = torch.rand(real.shape[0], 1, 1, device=real.device)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(d(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def adam(params, lr: float, device: str) -> torch.optim.Adam:
    """GANimator's optimiser (Adam, betas 0.5 / 0.999), as one fused kernel where torch has it for the device (CPU
    and CUDA since torch 2.4): the per-tensor update loop was 7 % of a Salsa iteration on two CPU cores."""
    fused = torch.device(device).type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999), **({"fused": True} if fused else {}))


def fit(model: Model, clip: torch.Tensor, device: str = "cpu", progress=None, checkpoint=None) -> Model:
    """Train the levels not yet trained. ``progress(level, it, total, losses)`` reports (``losses``: name → 0-dim
    tensor on ``device``; ``float()`` it only to show it); ``checkpoint(model)`` is called after each level, again
    once sampling is calibrated, and by the caller on interruption."""
    cfg = model.config
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # a level's shapes never change: the fastest kernels, found once
    torch.manual_seed(cfg.seed + 1000 * model.trained_levels)
    reals = [resize(clip, n).to(device) for n in model.lengths]
    fk = ContactFK(model.enc).to(device)
    for g in model.generators:
        g.to(device)
    groups = model.levels
    z_star = model.z_star.to(device)
    dtype = precision(cfg.precision, device)
    amp = torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    for li in range(model.trained_levels, len(groups)):
        stages = groups[li]
        if li > 0 and cfg.transfer_layers:
            for s in stages:  # cross-level transfer: G_j's early layers from G_{j-2}
                src = s - cfg.stages_per_level
                for k in range(cfg.transfer_layers):
                    model.generators[s].layers[k].load_state_dict(model.generators[src].layers[k].state_dict())
        ds = [gan.Discriminator(model.neigh, model.widths).to(device) for _ in stages]
        gens = [model.generators[s] for s in stages]
        opt_g = adam([p for g in gens for p in g.parameters()], cfg.lr, device)
        opt_d = adam([p for d in ds for p in d.parameters()], cfg.lr, device)
        for s in range(stages[0]):
            model.generators[s].requires_grad_(False)
        lam_adv, lam_rec = cfg.lambda_adv[min(li, len(cfg.lambda_adv) - 1)], cfg.lambda_rec[min(li, len(cfg.lambda_rec) - 1)]
        total = cfg.iterations[min(li, len(cfg.iterations) - 1)]
        b = cfg.batch
        with torch.no_grad():  # the frozen levels' reconstruction path is fixed
            rec_in = _run(model, range(stages[0]), z_star, reals, noise=False)
        windowed = _windowed(model, stages)
        lam_cover, every, cov = cover_weights(model)[li], cover_every(model, stages), None
        if lam_cover:
            from .metrics import COVERAGE_WINDOW
            scale = torch.tensor(model.enc.std[:6 * len(model.enc.joints)], dtype=torch.float32, device=device)[:, None]
            cover_width = [max(2, round(COVERAGE_WINDOW * model.lengths[s] / model.lengths[-1])) for s in stages]
        probe = Probe(model, clip, stages[-1] + 1, early=li > 0) if cfg.stretch > 1 and model.clip is not None else None
        it, going = 0, total > 0
        while going:
            it += 1
            with amp:
                # Frozen earlier stages: a fresh random path each iteration, without gradients — on a window, only
                # the frames the window needs (their cost no longer grows with the clip).
                z0 = draw_noise(cfg, (b, clip.shape[1], model.lengths[0]), device=device)
                if windowed:
                    spans, fakes = _random_window(model, stages, cfg.window, z0)
                    targets = [reals[s][..., v0:v1] for s, ((v0, v1), _) in zip(stages, spans)]
                else:
                    with torch.no_grad():
                        prev = _run(model, range(stages[0]), z0, reals, noise=True)
                    fakes = _forward(model, stages, prev, z0, reals, noise=True)
                    targets = [reals[s] for s in stages]
            for step in range(cfg.d_steps):
                # lazy regularisation (as StyleGAN2 does with R1): the penalty every gp_every-th critic step, scaled
                lazy = (((it - 1) * cfg.d_steps + step) % cfg.gp_every == 0)
                with amp:
                    loss_d = 0.0
                    for d, target, fake in zip(ds, targets, fakes):
                        real = target.expand(b, -1, -1)
                        fk_ = fake.detach()
                        loss_d = loss_d + d(fk_).float().mean() - d(real).float().mean()
                        if lazy:
                            loss_d = loss_d + cfg.lambda_gp * cfg.gp_every * gradient_penalty(d, real, fk_)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            with amp:
                adv = sum(-d(fake).float().mean() for d, fake in zip(ds, fakes))
                if windowed:
                    recs = _forward_windowed(model, stages, spans, (rec_in, 0), z_star, noise=False)
                else:
                    recs = _forward(model, stages, rec_in, z_star, reals, noise=False)
            con = sum(contact_loss(fk, fake.float()) for fake in fakes)  # forward kinematics in float32
            rec = sum(F.l1_loss(r.float(), target) for r, target in zip(recs, targets))
            loss_g = lam_adv * adv + lam_rec * rec + cfg.lambda_contact * con
            if lam_cover and every and it % every == 0:
                wholes = fakes
                if windowed:  # the level's stages over their whole length, from the same noise
                    with amp:
                        with torch.no_grad():
                            prev = _run(model, range(stages[0]), z0, reals, noise=True)
                        wholes = _forward(model, stages, prev, z0, reals, noise=True)
                cov = sum(cover_loss(fake.float(), reals[s], scale, w, COVER_EPS)
                          for fake, s, w in zip(wholes, stages, cover_width))
                loss_g = loss_g + lam_cover * every * cov
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            going = it < total
            if probe is not None:
                going = probe.after(it, total, cfg.stretch)
                probe.remember(it, gens)
            if progress is not None:
                # 0-dim tensors, read only where shown: on a GPU each .item() would wait for the step to finish
                losses = {"d": loss_d.detach(), "adv": adv.detach(), "rec": rec.detach(),
                          "contact": con.detach() if torch.is_tensor(con) else float(con)}
                if cov is not None:
                    losses["cover"] = cov.detach()  # the last one weighed
                progress(li, it, max(it, total), losses)
        if probe is not None:
            if not isinstance(model.provenance.get("levels"), dict):  # a file's provenance is only ever reported
                model.provenance["levels"] = {}
            model.provenance["levels"][str(li + 1)] = {"iterations": it, "coverage": probe.history}
            kept = probe.keep_best(gens)
            if kept is not None:
                model.provenance["levels"][str(li + 1)]["kept"] = kept
        for s in stages:
            model.generators[s].requires_grad_(False)
        model.trained_levels = li + 1
        if checkpoint is not None:
            checkpoint(model)
    for g in model.generators:
        g.to("cpu")
    if model.trained_levels == len(groups) and model.clip is not None:
        calibrate(model)
        calibrate_contacts(model)
        if checkpoint is not None:  # the file must carry the calibration, not only this process's model
            checkpoint(model)
    return model


LONG_TAKE = 1800  # frames at the model's rate (a minute at 30 fps) past which checks draw fewer samples


def draws(samples: int, frames: int) -> int:
    """How many samples a check of a ``frames``-long clip draws: ``samples``, or on a take longer than
    ``LONG_TAKE`` proportionally fewer (at least one). Coverage compares every window of the clip with every window
    of a sample twice its length, so one sample costs the square of the clip's length; a long take's sample is
    already an average over many windows, and drawing fewer keeps a check's cost in proportion to the length."""
    return max(1, min(samples, round(samples * LONG_TAKE / max(frames, 1))))


class Probe:
    """How much of the clip the stages trained so far cover, while a level trains: the rule that lets a level
    train past its budget on a clip that needs it, and never on one that does not.

    GANimator's coverage (``metrics.coverage``) of ``SAMPLES`` samples (fewer on a take longer than a minute:
    ``draws``) at twice the clip's length, the better of
    the raw samples and the samples with their feet cleaned up as ``eval`` scores them (contact labels weigh: on the
    crab the clean-up raises the finished samples' coverage and lowers the coarse level's), drawn
    with the same noise at every check (so that two checks differ by what the level learnt, not by their draws),
    against the clip blurred to the level's last stage (a coarse level cannot be asked for detail it does not
    model). Checked at three quarters of the budget and at the budget: a finer level (``early``) that covers
    ``COVERED`` at three quarters stops there (Salsa's and Xia's: their last quarter never covered more; the coarse
    level trains its whole budget, where Xia's walk lost 0.06 of diversity when it stopped early); one that
    gained less than ``GAIN`` in that last quarter, or covers ``COVERED``, stops at its budget; otherwise it goes
    on, a quarter budget at a time while each quarter gains ``GAIN``, up to ``stretch`` times the budget.

    A GAN's coverage does not only rise: the crab's coarse level at batch 2 covered 0.914 at 1500 iterations and
    0.756 at 1800, where it stopped. So the generators' weights at the best check are kept, and a level whose last
    check fell more than ``GAIN`` below its best ends with those weights (``remember``, ``keep_best``)."""

    SAMPLES, GAIN, COVERED = 12, 0.01, 0.98

    def __init__(self, model: Model, clip: torch.Tensor, upto: int, early: bool = True):
        from .metrics import feature_spec, features

        self.model, self.upto, self.early = model, upto, early
        self.frames = clip.shape[-1]
        blurred = resize(resize(clip.detach().cpu(), model.lengths[upto - 1]), self.frames)
        self.spec = feature_spec(model.clip)
        self.reference = features(self._motions(blurred)[0], self.spec)
        self.history: list[list[float]] = []  # [iteration, coverage] at each check
        self.going = False  # the last check's verdict: train past the budget
        self.best: tuple[int, float, list] | None = None  # (iteration, coverage, the generators' weights)

    def _motions(self, x):
        from . import edit

        return edit.to_motions(self.model, x, self.model.enc.fps, x.shape[-1])

    def coverage(self) -> float:
        from .footfix import fix_feet
        from .metrics import COVERAGE_WINDOW, mean_coverage
        from .motion import world_transforms_many

        if len(self.reference) < COVERAGE_WINDOW:
            return 1.0
        x = self.model.generate(draws(self.SAMPLES, self.frames), 2 * self.frames,
                                torch.Generator().manual_seed(self.model.config.seed),
                                upto=self.upto)
        raw = self._motions(resize(x.cpu(), 2 * self.frames))
        cleaned = [fix_feet(m, world=w) for m, w in zip(raw, world_transforms_many(raw))]  # as `eval` scores them
        return max(mean_coverage(self.reference, out, self.spec) for out in (raw, cleaned))

    def remember(self, it: int, generators) -> None:
        """After ``after``: if iteration ``it`` was checked and covers more than any check before, copy the
        level's generators' weights."""
        if self.history and self.history[-1][0] == it and (self.best is None or self.history[-1][1] > self.best[1]):
            self.best = (it, self.history[-1][1],
                         [{k: v.detach().clone() for k, v in g.state_dict().items()} for g in generators])

    def keep_best(self, generators) -> int | None:
        """At the level's end: the best check's weights back where the last check fell more than ``GAIN`` below
        it; returns that check's iteration (None: the last weights stay)."""
        if self.best is None or self.best[1] - self.history[-1][1] <= self.GAIN:
            return None
        for g, state in zip(generators, self.best[2]):
            g.load_state_dict(state)
        return self.best[0]

    def after(self, it: int, budget: int, stretch: float) -> bool:
        """Called after each iteration ``it``: does the level train on? Checks at three quarters of the budget (and
        stops there if covered), at the budget, then every quarter: on while the last quarter gained ``GAIN``."""
        quarter = max(1, budget // 4)
        if it >= budget - quarter and (it - budget) % quarter == 0:
            self.history.append([it, round(self.coverage(), 4)])
            now = self.history[-1][1]
            if self.early and it < budget and now >= self.COVERED:
                return False  # covered a quarter early: the rest of the budget would not cover more
            self.going = now < self.COVERED and (len(self.history) < 2 or now - self.history[-2][1] >= self.GAIN)
        return it < budget or (self.going and it < stretch * budget)


COVERAGE_GIVEN = 0.02  # the most coverage calibration may give up for energy, against the training noise's
TRAVELS = 0.25  # a clip whose travel joint moves over the ground at least this fraction of its body speed travels


def motion_ratio(samples: list[dict], clip: dict) -> float:
    """How much samples move against the clip, from their ``metrics.energy``: the body speed ratio, and for a clip
    that travels (``TRAVELS``) the geometric mean of the body speed and root travel ratios — a walk whose legs move
    at the clip's pace while it travels a sixth as far is a moonwalk, not a match."""
    body = float(np.mean([e["body_speed"] for e in samples])) / clip["body_speed"]
    if clip["root_speed"] < TRAVELS * clip["body_speed"]:
        return body
    return float(np.sqrt(body * float(np.mean([e["root_speed"] for e in samples])) / clip["root_speed"]))


def calibrate(model: Model, samples: int = 8, steps: int = 6) -> float:
    """Set ``model.temperature``, the first stage's sampling noise relative to training's, so that samples move as
    much as the clip (``motion_ratio``: their body speed — joints about the carrying joint, ``metrics.energy`` —
    and, where the clip travels, their root travel match the clip's) without covering less of it: never more than
    ``COVERAGE_GIVEN`` below the coverage at the training noise.

    A GAN trained on one clip draws, from the noise it was trained with, motion whose poses spread ~30 % less than
    the clip's (measured on Salsa: the samples' body speed is ~0.7 of the clip's from the first level on, and falls
    as coverage rises); a noise a little larger restores the clip's energy at a small cost in coverage. On a nearly
    still clip it is the other way round (the elephant's idle: 1.68 of the clip's body speed at the training noise,
    jitter rather than new poses), and a smaller noise calms it. Where more noise costs coverage fast (the crab:
    0.74 at the training noise, 0.50 at the temperature that matched its body speed), the temperature stops where
    coverage would fall by more than ``COVERAGE_GIVEN``: energy is not bought with the clip's content. Root travel
    counts because the temperature moves it most (Joe_Walk-In-Circle: 0.17 → 0.98 of the clip's travel from 0.25
    to 1.5 while body speed stays 1.2-1.6; matched on body speed alone, its samples walked in place).
    Measured on samples twice the clip's length, as ``eval`` draws them, before the foot clean-up (whose IK can move
    the legs of a poorly trained model more than the noise does, so the knob would not be monotonic); bisection on
    [1, 2] when the samples move too little at 1, on [0.25, 1] when they move too much, with a fixed seed (the same
    model gives the same temperature)."""
    from . import edit
    from .metrics import energy, feature_spec, features, mean_coverage

    clip = model.clip.resampled(model.enc.fps)
    spec = feature_spec(clip)
    target = energy(clip, spec)
    reference = features(clip, spec)
    samples = draws(samples, clip.frames)
    if target["body_speed"] <= 0:
        return model.temperature
    measured: dict[float, tuple[float, float]] = {}

    def measure(t: float) -> tuple[float, float]:
        """(motion ratio, coverage) of the samples at temperature t."""
        if t not in measured:
            model.temperature = t
            out = edit.sample(model, samples, 2 * clip.frames, model.enc.fps,
                              torch.Generator().manual_seed(model.config.seed), foot_fix=False)
            measured[t] = (motion_ratio([energy(m, spec) for m in out], target), mean_coverage(reference, out, spec))
        return measured[t]

    model.temperature = choose_temperature(measure, steps)
    return model.temperature


CONTACT_THRESHOLDS = (0.5, 0.4, 0.6, 0.3, 0.7)  # what calibration chooses among: GANimator's 0.5 first


def calibrate_contacts(model: Model, samples: int = 8) -> float:
    """Set ``model.contact_threshold``, the predicted label above which a foot is on the ground (and the clean-up
    locks it), to the one of ``CONTACT_THRESHOLDS`` whose samples, feet cleaned up as ``sample`` cleans them,
    cover the most of the clip (``metrics.coverage``, which reads the feet from the motion: a tip that the clip
    holds still must be still in the samples); GANimator's 0.5 unless another covers more.

    The label is a continuous output, and where it should be cut depends on the model: Gangnam's labelled 0.19 of
    its samples' frames down at 0.5 against the clip's 0.42, the crab's 0.64 against 0.73. Matching the clip's share
    of contact frames (an earlier try's rule) is not what pays: locking a foot the model is unsure of drags the leg's
    rotations toward a position the raw foot wandered from, and costs more than it holds. 20 samples
    (``bench/sampling.py MODEL --thresholds``, stop 26's models): the crab covers 0.871 at 0.5, 0.808 at the
    share-matching 0.39, 0.888 at 0.6; Gangnam 0.800, 0.813 at 0.28, 0.821 at 0.35. Drawn as ``calibrate``
    draws, at the model's temperature (calibrate that first), with a fixed seed: the same model gives the same
    threshold."""
    if not model.enc.contacts or model.clip is None:
        return model.contact_threshold
    scores = contact_threshold_scores(model, samples)
    model.contact_threshold = max(scores, key=scores.get)  # the first of the best: nearest 0.5
    return model.contact_threshold


def contact_threshold_scores(model: Model, samples: int = 8) -> dict[float, float]:
    """What ``calibrate_contacts`` weighs: for each of ``CONTACT_THRESHOLDS``, the coverage of the clip by
    ``samples`` samples at twice its length, feet cleaned up at that threshold (the same draws for each). Leaves
    ``model.contact_threshold`` at the last one tried."""
    from . import edit
    from .metrics import feature_spec, features, mean_coverage

    clip = model.clip.resampled(model.enc.fps)
    spec = feature_spec(clip)
    reference = features(clip, spec)
    samples = draws(samples, clip.frames)
    scores = {}
    for threshold in CONTACT_THRESHOLDS:
        model.contact_threshold = threshold
        scores[threshold] = mean_coverage(reference, edit.sample(
            model, samples, 2 * clip.frames, model.enc.fps, torch.Generator().manual_seed(model.config.seed)), spec)
    return scores


def choose_temperature(measure, steps: int = 6) -> float:
    """The search ``calibrate`` does, given ``measure(t) -> (motion ratio, coverage)`` at temperature t."""
    def ratio(t: float) -> float:
        return measure(t)[0]

    low, high = (1.0, 2.0) if ratio(1.0) < 1.0 else (0.25, 1.0)
    if low == 1.0 and ratio(high) <= 1.0:
        found = high
    elif high == 1.0 and ratio(low) >= 1.0:
        found = low
    else:
        for _ in range(steps):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if ratio(mid) < 1.0 else (low, mid)
        found = round(0.5 * (low + high), 3)
    floor = measure(1.0)[1] - COVERAGE_GIVEN
    if found <= 1.0 or measure(found)[1] >= floor:
        return found
    low, high = 1.0, found  # coverage holds at low and not at high: the largest temperature where it holds
    for _ in range(steps):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if measure(mid)[1] >= floor else (low, mid)
    return float(np.floor(low * 1000) / 1000)  # rounded down: still where coverage holds


def _stage(model: Model, s: int, x, z, reals, noise: bool):
    """One stage: the previous output (or zeros) resized to this stage, plus noise, through G_s."""
    n = reals[s].shape[-1]
    if s == 0:
        base = torch.zeros(z.shape[0], z.shape[1], n, device=z.device)
        return model.generators[0](base, resize(z, n) * model.amplitudes[0])
    x = resize(x, n)
    eps = draw_noise(model.config, x.shape, device=x.device) * model.amplitudes[s] if noise else torch.zeros_like(x)
    return model.generators[s](x, eps)


def _run(model, stage_range, z, reals, noise):
    x = None
    for s in stage_range:
        x = _stage(model, s, x, z, reals, noise)
    return x


def _forward(model, stages, prev, z, reals, noise):
    outs, x = [], prev
    for s in stages:
        x = _stage(model, s, x, z, reals, noise)
        outs.append(x)
    return outs


# ---- windows: training the finer stages on random stretches of the clip ------------------------------------------
# The generators are fully convolutional and the critics judge patches, so a stage can train on a window of its
# sequence: then an iteration costs the same whatever the clip's length. A generator's output is exact on its input
# window less MARGIN frames each side (4 layers of kernel 5), so windows are chosen from the level's last stage
# backwards, each stage computing exactly the frames the next one needs — the frozen stages below the level too.

MARGIN = 2 * 4  # frames one generator's output depends on, each side


def _source_range(lo: int, hi: int, n_src: int, n_dst: int) -> tuple[int, int]:
    """The source frames that linear resampling (``resize``) from n_src to n_dst reads for targets [lo, hi)."""
    scale = n_src / n_dst
    first = max(0.0, (lo + 0.5) * scale - 0.5)
    last = max(0.0, (hi - 1 + 0.5) * scale - 0.5)
    return int(first), min(n_src, int(last) + 2)


def _resize_part(x: torch.Tensor, offset: int, n_src: int, n_dst: int, lo: int, hi: int) -> torch.Tensor:
    """Frames [lo, hi) of ``resize(full, n_dst)``, from ``x``: frames [offset, offset + x.shape[-1]) of ``full``
    (a sequence of n_src frames), which must hold every source frame those targets read."""
    scale = n_src / n_dst
    pos = ((torch.arange(lo, hi, device=x.device, dtype=torch.float64) + 0.5) * scale - 0.5).clamp(min=0)
    i0 = pos.floor().long()
    w = (pos - i0).to(x.dtype)
    i1 = (i0 + 1).clamp(max=n_src - 1)
    a, b = x[..., i0 - offset], x[..., i1 - offset]
    return a + (b - a) * w


def windows(model: Model, stages: list[int], length: int, rng: torch.Generator | None = None):
    """For each stage of a level, (valid, computed): the frames whose output is used, and the input frames that
    produce them exactly — from a random ``length``-frame window of the level's last stage, backwards."""
    n = model.lengths
    last = stages[-1]
    w = min(length, n[last])
    a = int(torch.randint(0, n[last] - w + 1, (1,), generator=rng))
    valid = (a, a + w)
    out = []
    for k, s in enumerate(reversed(stages)):
        computed = (max(0, valid[0] - MARGIN), min(n[s], valid[1] + MARGIN))
        out.append((valid, computed))
        if k + 1 < len(stages):
            valid = _source_range(*computed, n[s - 1], n[s])
    return out[::-1]


def _random_window(model: Model, stages, length: int, z, noise: bool = True, rng=None):
    """A random ``length``-frame window of the level's last stage, generated from ``z`` through every stage: the
    frozen ones without gradients. Returns (spans of the level's stages, their outputs on them)."""
    path = windows(model, list(range(stages[-1] + 1)), length, rng)
    with torch.no_grad():
        frozen = _forward_windowed(model, range(stages[0]), path[:stages[0]], None, z, noise)
    prev = (frozen[-1], path[stages[0] - 1][0][0]) if frozen else None
    return path[stages[0]:], _forward_windowed(model, stages, path[stages[0]:], prev, z, noise)


def _forward_windowed(model: Model, stages, spans, prev, z, noise: bool):
    """Like ``_forward`` but each stage computes only its window; returns the valid part of each stage's output.
    ``prev``: (output of the stage before ``stages``, the frame it starts at) — the whole sequence or the part of
    it the first stage's window reads; None from the first stage."""
    n = model.lengths
    outs = []
    x, x_offset = prev if prev is not None else (None, 0)
    for s, (valid, computed) in zip(stages, spans):
        lo, hi = computed
        if s == 0:
            base = torch.zeros(z.shape[0], z.shape[1], hi - lo, device=z.device)
            inp, eps = base, resize(z, n[0])[..., lo:hi] * model.amplitudes[0]
        else:
            inp = _resize_part(x, x_offset, n[s - 1], n[s], lo, hi)
            eps = (draw_noise(model.config, inp.shape, device=inp.device) * model.amplitudes[s] if noise
                   else torch.zeros_like(inp))
        y = model.generators[s](inp, eps)
        x, x_offset = y[..., valid[0] - lo:valid[1] - lo], valid[0]
        outs.append(x)
    return outs
