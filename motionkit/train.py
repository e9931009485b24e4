"""Training and sampling, top to bottom (the paper's §3.1–3.3 on GANimator's coarse-to-fine pyramid).

The clip's features are downsampled into a pyramid of stages; stages are trained in groups ("levels", 2-2-2-1),
earlier levels frozen. Each iteration: ``d_steps`` WGAN-GP critic steps, then one generator step with the
adversarial loss, the L1 reconstruction through the fixed code z*, and the foot-contact loss. The paper's recipe:
a mini-batch of B copies of the clip with independent noise, per-level weights λadv/λrec, and cross-level transfer
(before a level starts, the early layers of each generator are copied from the same position in the previous
level: G_j ← G_{j−2}).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import features as feat
from . import gan

PRESETS = {
    # GANimator's own recipe: batch 1, fixed weights, no transfer, 15k iterations per level, 5 critic steps.
    "ganimator": dict(batch=1, iterations=[15000] * 4, lambda_adv=[1.0] * 4, lambda_rec=[50.0] * 4,
                      transfer_layers=0, d_steps=5),
    # The paper's Table 1 best row (Abl #9): batch 16, annealed weights, transfer, budgets 1 : 1 : 1/2 : 1/3.
    "paper": dict(batch=16, iterations=[15000, 15000, 7500, 5000], lambda_adv=[5.0, 5.0, 2.5, 1.0],
                  lambda_rec=[50.0, 75.0, 100.0, 100.0], transfer_layers=2, d_steps=5),
    # For a CPU: the paper's weights and transfer, a small batch, fewer critic steps and far fewer iterations,
    # weighted to the coarse level (the cheapest, and the one that decides coverage: see BENCHMARKS.md).
    "fast": dict(batch=4, iterations=[1600, 1000, 500, 300], lambda_adv=[5.0, 5.0, 2.5, 1.0],
                 lambda_rec=[50.0, 75.0, 100.0, 100.0], transfer_layers=2, d_steps=2),
}


@dataclass
class Config:
    preset: str = "fast"
    batch: int = 4
    iterations: list = field(default_factory=lambda: list(PRESETS["fast"]["iterations"]))
    lambda_adv: list = field(default_factory=lambda: list(PRESETS["fast"]["lambda_adv"]))
    lambda_rec: list = field(default_factory=lambda: list(PRESETS["fast"]["lambda_rec"]))
    lambda_gp: float = 1.0
    lambda_contact: float = 5.0
    transfer_layers: int = 2
    d_steps: int = 2
    noise: str = "frame"  # "frame": one value per frame shared by all channels (GANimator's default); "full"
    lr: float = 1e-4
    fps: float = 30.0
    pyramid_ratio: float = 0.2
    pyramid_scale: float = 4 / 3
    stages_per_level: int = 2
    seed: int = 0

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "Config":
        values = dict(PRESETS[name], preset=name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def pyramid_lengths(frames: int, ratio: float = 0.2, scale: float = 4 / 3) -> list[int]:
    """GANimator's stage lengths: int(T·ratio), then ×scale (truncated, +1 if that repeats), ending exactly at T."""
    lengths = [max(3, int(frames * ratio))]
    while True:
        nxt = int(lengths[-1] * scale)
        if nxt <= lengths[-1]:
            nxt = lengths[-1] + 1
        if nxt >= frames:
            break
        lengths.append(nxt)
    lengths.append(frames)
    return lengths


def levels(n_stages: int, per_level: int = 2) -> list[list[int]]:
    return [list(range(s, min(s + per_level, n_stages))) for s in range(0, n_stages, per_level)]


def resize(x: torch.Tensor, length: int) -> torch.Tensor:
    """Linear resampling along time: (B, C, T) → (B, C, length)."""
    if x.shape[-1] == length:
        return x
    return F.interpolate(x, size=length, mode="linear", align_corners=False)


class ContactFK(torch.nn.Module):
    """Forward kinematics in torch for the contact loss: world positions of the contact tips (in body heights)."""

    def __init__(self, enc: feat.Encoding):
        super().__init__()
        from . import rotations as rot

        sk = enc.skeleton
        chain: set[int] = set()
        for j in enc.contacts:
            while j >= 0:
                chain.add(j)
                j = int(sk.parents[j])
        self.order = sorted(chain)  # parents come first in a Skeleton
        self.parent = [self.order.index(int(sk.parents[j])) if j else -1 for j in self.order]
        modelled = {j: k for k, j in enumerate(enc.joints)}
        self.source = [modelled.get(j, -1) for j in self.order]
        self.register_buffer("fixed", torch.tensor(rot.to_matrix(enc.rest_rotations[self.order]), dtype=torch.float32))
        self.register_buffer("offsets", torch.tensor(enc.rest_translations[self.order] / enc.height, dtype=torch.float32))
        tips = [sk.end_sites.get(j, np.zeros(3)) / enc.height for j in enc.contacts]
        self.register_buffer("tips", torch.tensor(np.array(tips).reshape(-1, 3), dtype=torch.float32))
        self.tip_index = [self.order.index(j) for j in enc.contacts]
        self.n_joints, self.n_contacts = len(enc.joints), len(enc.contacts)
        self.register_buffer("mean", torch.tensor(enc.mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(enc.std, dtype=torch.float32))

    def forward(self, x):  # x: (B, C, T) normalised → tips (B, T, n_contacts, 3), contact labels (B, T, n_contacts)
        f = x.transpose(1, 2) * self.std + self.mean
        b, t = f.shape[:2]
        d6 = f[..., :6 * self.n_joints].reshape(b, t, self.n_joints, 6)
        a1, a2 = F.normalize(d6[..., :3], dim=-1), d6[..., 3:]
        a2 = F.normalize(a2 - (a1 * a2).sum(-1, keepdim=True) * a1, dim=-1)
        mats = torch.stack([a1, a2, torch.cross(a1, a2, dim=-1)], dim=-1)
        root = f[..., -3:]
        pos_root = torch.stack([root[..., 0].cumsum(1), root[..., 1], root[..., 2].cumsum(1)], dim=-1)
        world_r, world_p = [], []
        for k, p in enumerate(self.parent):
            r = mats[:, :, self.source[k]] if self.source[k] >= 0 else self.fixed[k].expand(b, t, 3, 3)
            if p < 0:
                world_r.append(r)
                world_p.append(pos_root)
            else:
                world_p.append(world_p[p] + (world_r[p] @ self.offsets[k].unsqueeze(-1)).squeeze(-1))
                world_r.append(world_r[p] @ r)
        tips = torch.stack([world_p[i] + (world_r[i] @ self.tips[c].unsqueeze(-1)).squeeze(-1)
                            for c, i in enumerate(self.tip_index)], dim=2)
        labels = f[..., 6 * self.n_joints:6 * self.n_joints + self.n_contacts]
        return tips, labels


def contact_loss(fk: ContactFK, x: torch.Tensor) -> torch.Tensor:
    """GANimator's foot-contact consistency: squared tip speed where the predicted label says 'on the ground'."""
    if fk.n_contacts == 0 or x.shape[-1] < 2:
        return x.new_zeros(())
    tips, labels = fk(x)
    speed2 = ((tips[:, 1:] - tips[:, :-1]) ** 2).sum(-1)
    return (speed2 * torch.sigmoid((labels[:, 1:] - 0.5) * 12)).mean()


def gradient_penalty(d: gan.Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    alpha = torch.rand(real.shape[0], 1, 1, device=real.device)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(d(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class Model:
    """Everything a trained pyramid needs to generate: encoding, lengths, amplitudes, z*, generators."""

    def __init__(self, enc: feat.Encoding, lengths: list[int], amplitudes: list[float], z_star: torch.Tensor,
                 config: Config, generators=None, trained_levels: int = 0, provenance: dict | None = None,
                 clip=None):
        self.enc, self.lengths, self.amplitudes, self.z_star = enc, lengths, amplitudes, z_star
        self.clip = clip  # the training clip (a Motion at its own frame rate), kept for editing operations
        self.config, self.trained_levels, self.provenance = config, trained_levels, provenance or {}
        self.widths = [6] * len(enc.joints) + ([len(enc.contacts)] if enc.contacts else []) + [3]
        contact_parents = []
        for j in enc.contacts:
            while j not in enc.joints:
                j = int(enc.skeleton.parents[j])
            contact_parents.append(enc.joints.index(j))
        self.neigh = gan.neighbourhoods(enc.modelled_parents, contact_parents)
        self.generators = generators or [gan.Generator(self.neigh, self.widths) for _ in lengths]

    @property
    def n_stages(self) -> int:
        return len(self.lengths)

    @property
    def trained_stages(self) -> int:
        """Stages whose level has finished training (all of them, once training is complete)."""
        return sum(len(g) for g in levels(self.n_stages, self.config.stages_per_level)[:self.trained_levels])

    def stage_lengths(self, frames: int) -> list[int]:
        """The pyramid for an output of ``frames`` frames: the training pyramid scaled in time."""
        out = [max(3, int(round(n * frames / self.lengths[-1]))) for n in self.lengths[:-1]]
        return out + [frames]

    @torch.no_grad()
    def generate(self, n: int, frames: int, generator: torch.Generator | None = None, upto: int | None = None,
                 z_star: bool = False, inject: "Injection | None" = None) -> torch.Tensor:
        """(n, C, frames) normalised features: noise at the first stage only (GANimator's sampling).

        ``inject`` overrides, at the input of one stage, the masked channels and frames with given features
        (downsampled to that stage): the paper's §4.2 editing, all in the same single forward pass."""
        lengths = self.stage_lengths(frames)
        upto = self.n_stages if upto is None else upto
        width = sum(self.widths)
        dev = next(self.generators[0].parameters()).device
        if z_star:
            z = resize(self.z_star.to(dev), lengths[0]).expand(n, -1, -1)
        else:
            z = draw_noise(self.config, (n, width, lengths[0]), generator=generator).to(dev)
        x = self.generators[0](torch.zeros_like(z), z * self.amplitudes[0])
        for s in range(1, upto):
            x = resize(x, lengths[s])
            if inject is not None and s == min(max(1, inject.stage), upto - 1):
                x = inject.apply(x)
            x = self.generators[s](x, torch.zeros_like(x))
        return x


@dataclass
class Injection:
    """Features imposed at the input of ``stage``: x ← mask·features + (1 − mask)·x, both resampled to the stage.

    ``features``: (1 or n, C, T) normalised; ``mask``: (1 or n, C or 1, T) in [0, 1] (soft edges blend)."""

    stage: int
    features: torch.Tensor
    mask: torch.Tensor

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        f = resize(self.features.to(x), n)
        m = resize(self.mask.to(x), n).clamp(0, 1)
        return m * f + (1 - m) * x


def draw_noise(cfg: Config, shape, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """Gaussian noise of ``shape`` (B, C, T): per channel, or one value per frame shared by all channels."""
    b, c, t = shape
    if cfg.noise == "full":
        return torch.randn(b, c, t, generator=generator, device=device)
    return torch.randn(b, 1, t, generator=generator, device=device).expand(b, c, t)


def real_pyramid(x: torch.Tensor, lengths: list[int]) -> list[torch.Tensor]:
    return [resize(x, n) for n in lengths]


def noise_amplitudes(reals: list[torch.Tensor]) -> list[float]:
    """RMSE between each stage's real features and the previous stage's, upsampled (zeros for the first)."""
    amps = [float(reals[0].pow(2).mean().sqrt())]
    for prev, cur in zip(reals[:-1], reals[1:]):
        amps.append(float((resize(prev, cur.shape[-1]) - cur).pow(2).mean().sqrt()))
    return [max(a, 1e-3) for a in amps]


def new_model(motion, config: Config, joints=None, contacts=None, provenance=None) -> tuple[Model, torch.Tensor]:
    enc = feat.make_encoding(motion, fps=config.fps, joints=joints, contacts=contacts)
    x = torch.tensor(feat.encode(motion, enc).T[None], dtype=torch.float32)
    lengths = pyramid_lengths(x.shape[-1], config.pyramid_ratio, config.pyramid_scale)
    reals = real_pyramid(x, lengths)
    g = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    z_star = torch.randn(1, x.shape[1], lengths[0], generator=g)
    model = Model(enc, lengths, noise_amplitudes(reals), z_star, config, provenance=provenance, clip=motion)
    return model, x


def train(model: Model, clip: torch.Tensor, device: str = "cpu", progress=None, checkpoint=None) -> Model:
    """Train the levels not yet trained. ``progress(level, it, total, losses)`` reports; ``checkpoint(model)``
    is called after each level (and by the caller on interruption)."""
    cfg = model.config
    torch.manual_seed(cfg.seed + 1000 * model.trained_levels)
    reals = [r.to(device) for r in real_pyramid(clip, model.lengths)]
    fk = ContactFK(model.enc).to(device)
    for g in model.generators:
        g.to(device)
    groups = levels(model.n_stages, cfg.stages_per_level)
    z_star = model.z_star.to(device)
    for li in range(model.trained_levels, len(groups)):
        stages = groups[li]
        if li > 0 and cfg.transfer_layers:
            for s in stages:  # cross-level transfer: G_j's early layers from G_{j-2}
                src = s - cfg.stages_per_level
                for k in range(cfg.transfer_layers):
                    model.generators[s].layers[k].load_state_dict(model.generators[src].layers[k].state_dict())
        ds = [gan.Discriminator(model.neigh, model.widths).to(device) for _ in stages]
        gens = [model.generators[s] for s in stages]
        opt_g = torch.optim.Adam([p for g in gens for p in g.parameters()], lr=cfg.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam([p for d in ds for p in d.parameters()], lr=cfg.lr, betas=(0.5, 0.999))
        for s in range(stages[0]):
            model.generators[s].requires_grad_(False)
        lam_adv, lam_rec = cfg.lambda_adv[min(li, len(cfg.lambda_adv) - 1)], cfg.lambda_rec[min(li, len(cfg.lambda_rec) - 1)]
        total = cfg.iterations[min(li, len(cfg.iterations) - 1)]
        b = cfg.batch
        with torch.no_grad():  # the frozen levels' reconstruction path is fixed
            rec_in = _run(model, range(stages[0]), z_star, reals, noise=False)
        for it in range(1, total + 1):
            # Frozen earlier stages: a fresh random path each iteration, without gradients.
            with torch.no_grad():
                z0 = draw_noise(cfg, (b, clip.shape[1], model.lengths[0]), device=device)
                prev = _run(model, range(stages[0]), z0, reals, noise=True)
            fakes = _forward(model, stages, prev, z0, reals, noise=True)
            for _ in range(cfg.d_steps):
                loss_d = 0.0
                for d, s, fake in zip(ds, stages, fakes):
                    real = reals[s].expand(b, -1, -1)
                    fk_ = fake.detach()
                    loss_d = loss_d + d(fk_).mean() - d(real).mean() + cfg.lambda_gp * gradient_penalty(d, real, fk_)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            adv = sum(-d(fake).mean() for d, fake in zip(ds, fakes))
            con = sum(contact_loss(fk, fake) for fake in fakes)
            recs = _forward(model, stages, rec_in, z_star, reals, noise=False)
            rec = sum(F.l1_loss(r, reals[s]) for r, s in zip(recs, stages))
            loss_g = lam_adv * adv + lam_rec * rec + cfg.lambda_contact * con
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if progress is not None:
                progress(li, it, total, {"d": loss_d.item(), "adv": adv.item(), "rec": rec.item(), "contact": float(con.detach()) if torch.is_tensor(con) else float(con)})
        for s in stages:
            model.generators[s].requires_grad_(False)
        model.trained_levels = li + 1
        if checkpoint is not None:
            checkpoint(model)
    for g in model.generators:
        g.to("cpu")
    return model


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
