"""The model: GANimator's coarse-to-fine pyramid of generators (the paper's §3.1), its configuration, and how it
generates — everything a trained model file needs, and nothing of training (that is ``train.py``).

A clip's features are downsampled into a pyramid of *stages* (lengths ``int(T/5)``, ×4/3, …, T); stage s has a
residual generator G_s. Stages are trained in groups called *levels* (2-2-2-1). Generation draws Gaussian noise
at the first stage only (scaled by that stage's amplitude), and every later generator refines the upsampled
output of the one before. Editing (the paper's §4.2) is the same pass with given features imposed at one stage's
input: an ``Injection``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import features as feat
from . import gan

PRESETS = {
    # GANimator's own recipe: batch 1, fixed weights, no transfer, 15k iterations per level, 5 critic steps.
    "ganimator": dict(batch=1, iterations=[15000] * 4, lambda_adv=[1.0] * 4, lambda_rec=[50.0] * 4,
                      transfer_layers=0, d_steps=5, window=0, gp_every=1, stretch=1.0, lambda_cover=[0.0]),
    # The paper's Table 1 best row (Abl #9): batch 16, annealed weights, transfer, budgets 1 : 1 : 1/2 : 1/3.
    "paper": dict(batch=16, iterations=[15000, 15000, 7500, 5000], lambda_adv=[5.0, 5.0, 2.5, 1.0],
                  lambda_rec=[50.0, 75.0, 100.0, 100.0], transfer_layers=2, d_steps=5, window=0, gp_every=1,
                  stretch=1.0, lambda_cover=[0.0]),
    # For a CPU (measured choices, BENCHMARKS.md): the paper's weights and transfer but a light reconstruction at
    # the coarse level (λrec 50 there makes the samples' poses spread ~35 % less than the clip's; 10 keeps more
    # of their energy and covers as well), a batch of 2 (0.53-0.68 of batch 4's time; coverage higher on Salsa,
    # within the seeds' spread on Gangnam and the dancer, 0.04 less on the crab), 2 critic steps with the gradient penalty on every 4th,
    # every level trained on 160-frame windows (an iteration costs the same on a long take), and far fewer
    # iterations, weighted to the coarse level (it decides coverage) — and a level whose samples still cover more
    # of the clip at its budget trains on, up to twice it (Gangnam's and the crab's coarse levels need ~1.5-1.75x),
    # and one whose samples already cover 0.98 of the clip at three quarters of its budget ends there (``train.Probe``).
    # The coarse level also weighs the coverage loss (``train.cover_loss``: every window of the clip near some window
    # of each sample; on a whole-length pass every few iterations where the level trains on windows): Gangnam 0.955 /
    # 0.959 at seeds 0 / 1 against 0.866 / 0.811.
    "fast": dict(batch=2, iterations=[1200, 600, 300, 200], lambda_adv=[5.0, 5.0, 2.5, 1.0],
                 lambda_rec=[10.0, 75.0, 100.0, 100.0], transfer_layers=2, d_steps=2, window=160, gp_every=4,
                 stretch=2.0, lambda_cover=[5.0, 0.0, 0.0, 0.0]),
}


@dataclass
class Config:
    """Every knob of a model and its training; the defaults are the ``fast`` preset (``PRESETS`` is the source)."""

    preset: str = "fast"
    batch: int = PRESETS["fast"]["batch"]
    iterations: list = field(default_factory=lambda: list(PRESETS["fast"]["iterations"]))
    lambda_adv: list = field(default_factory=lambda: list(PRESETS["fast"]["lambda_adv"]))
    lambda_rec: list = field(default_factory=lambda: list(PRESETS["fast"]["lambda_rec"]))
    lambda_gp: float = 1.0
    gp_every: int = PRESETS["fast"]["gp_every"]  # the gradient penalty on every gp_every-th critic step, scaled
    lambda_contact: float = 5.0
    lambda_cover: list = field(default_factory=lambda: list(PRESETS["fast"]["lambda_cover"]))  # per level: the
    # coverage loss (``train.cover_loss``; lazily on a whole-length pass where a level trains on windows)
    transfer_layers: int = PRESETS["fast"]["transfer_layers"]
    d_steps: int = PRESETS["fast"]["d_steps"]
    noise: str = "frame"  # "frame": one value per frame shared by all channels (GANimator's default); "full"
    lr: float = 1e-4
    fps: float = 30.0
    pyramid_ratio: float = 0.2
    pyramid_scale: float = 4 / 3
    stages_per_level: int = 2
    window: int = PRESETS["fast"]["window"]  # train each level on random windows this long at its last stage
                                             # (frames; 0: the whole clip)
    stretch: float = PRESETS["fast"]["stretch"]  # a level whose samples still cover more of the clip
    # at its budget trains on, up to this multiple of it (``train.Probe``); 1: fixed budgets
    seed: int = 0
    heading: bool | None = None  # the travel joint's heading as a turning rate (``features``; smoother turns, but
    # Salsa covered 0.922 against 0.994, Gangnam 0.751 against 0.815, the crab 0.491 against 0.888: BENCHMARKS.md);
    # False: GANimator's world; None: decided from the clip (a rate where it turns steadily, ``features.turns_steadily``)
    precision: str = "float32"  # the networks' arithmetic in training: "float32", "bfloat16" (autocast), or
    # "auto": bfloat16 where the device computes it natively (``train.precision``). float32 by default: bfloat16
    # trained Salsa 20 % faster on an AMX Xeon but covered 0.910 against 0.994 (BENCHMARKS.md)

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
    """Stages grouped into levels, trained one level at a time: [[0, 1], [2, 3], [4, 5], [6]] for 7 stages."""
    return [list(range(s, min(s + per_level, n_stages))) for s in range(0, n_stages, per_level)]


def resize(x: torch.Tensor, length: int) -> torch.Tensor:
    """Linear resampling along time: (B, C, T) → (B, C, length)."""
    if x.shape[-1] == length:
        return x
    return F.interpolate(x, size=length, mode="linear", align_corners=False)


def draw_noise(cfg: Config, shape, rng: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """Gaussian noise of ``shape`` (B, C, T): per channel, or one value per frame shared by all channels."""
    b, c, t = shape
    if cfg.noise == "full":
        return torch.randn(b, c, t, generator=rng, device=device)
    return torch.randn(b, 1, t, generator=rng, device=device).expand(b, c, t)


def noise_amplitudes(reals: list[torch.Tensor]) -> list[float]:
    """RMSE between each stage's real features and the previous stage's, upsampled (zeros for the first)."""
    amps = [float(reals[0].pow(2).mean().sqrt())]
    for prev, cur in zip(reals[:-1], reals[1:]):
        amps.append(float((resize(prev, cur.shape[-1]) - cur).pow(2).mean().sqrt()))
    return [max(a, 1e-3) for a in amps]


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


class Model:
    """Everything a trained pyramid needs to generate: encoding, lengths, amplitudes, z*, generators."""

    def __init__(self, enc: feat.Encoding, lengths: list[int], amplitudes: list[float], z_star: torch.Tensor,
                 config: Config, generators=None, trained_levels: int = 0, provenance: dict | None = None,
                 clip=None, temperature: float = 1.0, contact_threshold: float = 0.5):
        self.enc, self.lengths, self.amplitudes, self.z_star = enc, lengths, amplitudes, z_star
        # the first stage's noise at sampling, relative to training's: calibrated after training so that samples
        # move as much as the clip (``train.calibrate``); 1.0 is GANimator's sampling
        self.temperature = temperature
        # the predicted label above which a foot is on the ground: calibrated after training so that samples have
        # their feet down as often as the clip (``train.calibrate_contacts``); 0.5 is GANimator's
        self.contact_threshold = contact_threshold
        self.clip = clip  # the training clip (a Motion at its own frame rate), kept for editing operations
        self.config, self.trained_levels, self.provenance = config, trained_levels, provenance or {}
        self.widths = ([6] * len(enc.joints) + ([len(enc.contacts)] if enc.contacts else []) + [enc.root_width]
                       + [3] * len(enc.offsets))
        self.neigh = gan.neighbourhoods(enc.modelled_parents, [enc.owner(j) for j in enc.contacts],
                                        [enc.owner(j) for j in enc.offsets])
        self.generators = generators or [gan.Generator(self.neigh, self.widths) for _ in lengths]

    @classmethod
    def from_clip(cls, motion, config: Config, joints=None, contacts=None, provenance=None, offsets=None) -> "Model":
        """An untrained model for ``motion``: its encoding, pyramid, noise amplitudes and z* (seeded)."""
        enc = feat.make_encoding(motion, fps=config.fps, joints=joints, contacts=contacts, offsets=offsets,
                                 heading=config.heading)
        config.heading = enc.heading  # what was decided, as the file records it
        x = torch.tensor(feat.encode(motion, enc).T[None], dtype=torch.float32)
        lengths = pyramid_lengths(x.shape[-1], config.pyramid_ratio, config.pyramid_scale)
        rng = torch.Generator().manual_seed(config.seed)
        torch.manual_seed(config.seed)
        z_star = torch.randn(1, x.shape[1], lengths[0], generator=rng)
        return cls(enc, lengths, noise_amplitudes([resize(x, n) for n in lengths]), z_star, config,
                   provenance=provenance, clip=motion)

    def warm_start(self, base: "Model") -> int:
        """Start from ``base``'s generators (a model of another clip of the same rig, encoded with the same
        joints): stage s takes base's stage s where both have one. Returns how many stages were copied."""
        if self.widths != base.widths or self.neigh != base.neigh:
            raise ValueError("the models do not encode the same joints")
        n = min(self.n_stages, base.n_stages)
        for s in range(n):
            self.generators[s].load_state_dict(base.generators[s].state_dict())
        return n

    @property
    def n_stages(self) -> int:
        return len(self.lengths)

    @property
    def levels(self) -> list[list[int]]:
        return levels(self.n_stages, self.config.stages_per_level)

    @property
    def trained_stages(self) -> int:
        """Stages whose level has finished training (all of them, once training is complete)."""
        return sum(len(g) for g in self.levels[:self.trained_levels])

    def level_start(self, level: int) -> int:
        """Index of the first stage of ``level`` (0-based; level 1 is the paper's L2)."""
        return self.levels[min(level, len(self.levels) - 1)][0]

    @property
    def source_fps(self) -> float:
        """The training clip's own frame rate: outputs come at it unless asked otherwise."""
        return float(self.provenance.get("source_fps") or self.enc.fps)

    def clip_frames(self, fps: float) -> int:
        """The training clip's length in frames at ``fps``: the default length of a sample."""
        return int(round(self.lengths[-1] / self.enc.fps * fps))

    def encode(self, motion) -> torch.Tensor:
        """(1, C, T) normalised features of ``motion`` (same skeleton) at the model's frame rate."""
        return torch.tensor(feat.encode(motion, self.enc).T[None], dtype=torch.float32)

    def stage_lengths(self, frames: int) -> list[int]:
        """The pyramid for an output of ``frames`` frames: the training pyramid scaled in time."""
        out = [max(3, int(round(n * frames / self.lengths[-1]))) for n in self.lengths[:-1]]
        return out + [frames]

    @torch.no_grad()
    def generate(self, n: int, frames: int, rng: torch.Generator | None = None, upto: int | None = None,
                 z_star: bool = False, inject: Injection | None = None, every_stage: bool = False) -> torch.Tensor:
        """(n, C, frames) normalised features: noise at the first stage only (GANimator's sampling), or at every
        stage with its amplitude, as in training (``every_stage``); stages from ``upto`` on are skipped (a partly
        trained model, or a level's own samples) and the last one run is resampled to ``frames``.

        ``inject`` overrides, at the input of one stage, the masked channels and frames with given features
        (downsampled to that stage): the paper's §4.2 editing, all in the same single forward pass."""
        lengths = self.stage_lengths(frames)
        upto = self.n_stages if upto is None else upto
        width = sum(self.widths)
        dev = next(self.generators[0].parameters()).device
        if z_star:
            z = resize(self.z_star.to(dev), lengths[0]).expand(n, -1, -1) * self.amplitudes[0]
        else:
            z = draw_noise(self.config, (n, width, lengths[0]), rng=rng).to(dev) * (self.amplitudes[0]
                                                                                    * self.temperature)
        x = self.generators[0](torch.zeros_like(z), z)
        for s in range(1, upto):
            x = resize(x, lengths[s])
            if inject is not None and s == min(max(1, inject.stage), upto - 1):
                x = inject.apply(x)
            noise = (draw_noise(self.config, x.shape, rng=rng).to(dev) * self.amplitudes[s] if every_stage
                     else torch.zeros_like(x))
            x = self.generators[s](x, noise)
        return resize(x, frames)  # a partly trained model stops at a coarser stage: its motion, at full length


def precision(name: str, device: str = "cpu") -> torch.dtype:
    """The dtype the networks compute in (training, or sampling where asked): ``name`` ("float32", "bfloat16"), or for "auto" bfloat16
    where the device has it natively (a CPU with AVX-512 BF16 or AMX, a GPU that supports it) and float32 elsewhere
    (emulated bfloat16 is slower than float32). Weights, optimiser state, the losses and the contact loss's forward
    kinematics stay float32; only the convolutions run in bfloat16 (``torch.autocast``). Sampling is float32
    unless asked (``edit.synthesize``'s ``precision``: a crowd's default is "auto")."""
    if name in ("float32", "bfloat16"):
        return getattr(torch, name)
    if torch.device(device).type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    try:
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # a torch without these probes
        native = False
    return torch.bfloat16 if native else torch.float32
