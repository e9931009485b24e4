"""The networks (the paper's §3.1, after GANimator): skeleton-aware convolutions, residual generators, patch
discriminators. Read with the paper beside you: ``Generator``, ``Discriminator``, ``stage``, ``amplitude``.

A skeleton-aware convolution lets each joint's output channels see only the joints within tree distance 2
(Aberman et al. 2020). GANimator writes it as a dense convolution times a fixed 0/1 mask, so four fifths of its
multiplications are by zero; here each joint's neighbourhood is *gathered* and one grouped convolution (a group
per joint) does only the useful work.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KERNEL = 5
HIDDEN = (5, 9, 9)  # channels per block in the three hidden layers (GANimator: 174 → 145 → 261 → 261 → 174)


def neighbourhoods(parents: list[int], contact_parents: list[int], distance: int = 2) -> list[list[int]]:
    """Blocks: one per modelled joint, then (if any) one for the contact labels, then one for the root trajectory.

    The contact block hangs off the joints its contacts belong to, the root-trajectory block off the root;
    returns, for each block, the blocks within ``distance`` edges (itself included)."""
    n = len(parents)
    edges: dict[int, set[int]] = {b: set() for b in range(n + (1 if contact_parents else 0) + 1)}
    for j, p in enumerate(parents):
        if p >= 0:
            edges[j].add(p)
            edges[p].add(j)
    root_block = n + (1 if contact_parents else 0)
    if contact_parents:
        for j in set(contact_parents):
            edges[n].add(j)
            edges[j].add(n)
        edges[root_block].add(n)
        edges[n].add(root_block)
    edges[root_block].add(0)
    edges[0].add(root_block)
    out = []
    for b in edges:
        seen, frontier = {b}, {b}
        for _ in range(distance):
            frontier = {k for f in frontier for k in edges[f]} - seen
            seen |= frontier
        out.append(sorted(seen))
    return out


class SkeletonConv(nn.Module):
    """Conv1d in which output block b reads only the channels of the blocks in ``neigh[b]``."""

    def __init__(self, neigh: list[list[int]], in_widths: list[int], out_widths: list[int]):
        super().__init__()
        starts = [sum(in_widths[:b]) for b in range(len(in_widths))]
        self.in_channels = sum(in_widths)
        gathers = [[starts[k] + c for k in nb for c in range(in_widths[k])] for nb in neigh]
        width = max(len(g) for g in gathers)
        pad_index = self.in_channels  # an all-zero channel appended to the input
        self.register_buffer("gather", torch.tensor([g + [pad_index] * (width - len(g)) for g in gathers]).flatten(),
                             persistent=False)
        self.groups, self.group_in, self.group_out = len(neigh), width, max(out_widths)
        self.weight = nn.Parameter(torch.empty(self.groups * self.group_out, width, KERNEL))
        self.bias = nn.Parameter(torch.zeros(self.groups * self.group_out))
        keep = [b * self.group_out + c for b, w in enumerate(out_widths) for c in range(w)]
        self.register_buffer("keep", torch.tensor(keep), persistent=False)
        # Same scale as PyTorch's default for a dense layer that sees only the real inputs.
        for b, g in enumerate(gathers):
            bound = 1.0 / (len(g) * KERNEL) ** 0.5
            nn.init.uniform_(self.weight.data[b * self.group_out:(b + 1) * self.group_out], -bound, bound)
            self.weight.data[b * self.group_out:(b + 1) * self.group_out, len(g):] = 0.0
            nn.init.uniform_(self.bias.data[b * self.group_out:(b + 1) * self.group_out], -bound, bound)

    def forward(self, x):  # (B, C_in, T) → (B, C_out, T)
        x = F.pad(x, (KERNEL // 2, KERNEL // 2), mode="reflect")
        x = torch.cat([x, x.new_zeros(x.shape[0], 1, x.shape[2])], dim=1).index_select(1, self.gather)
        y = F.conv1d(x, self.weight, self.bias, groups=self.groups)
        return y[:, self.keep]


def _trunk(neigh, widths, hidden):
    layers = []
    sizes = [widths] + [[h] * len(widths) for h in hidden]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(SkeletonConv(neigh, a, b))
    return nn.ModuleList(layers), sizes[-1]


class Generator(nn.Module):
    """G_i: previous stage's output (upsampled) plus noise → a residual correction; 4 skeleton convolutions."""

    def __init__(self, neigh, widths):
        super().__init__()
        self.layers, last = _trunk(neigh, widths, HIDDEN)
        self.layers.append(SkeletonConv(neigh, last, widths))

    def forward(self, prev, noise):
        x = prev + noise
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < len(self.layers) - 1:
                x = F.leaky_relu(x, 0.2)
        return prev + x


class Discriminator(nn.Module):
    """D_i: a patch discriminator, one score per frame: 3 skeleton convolutions, then a convolution to 1 channel."""

    def __init__(self, neigh, widths):
        super().__init__()
        self.layers, last = _trunk(neigh, widths, HIDDEN)
        self.head = nn.Conv1d(sum(last), 1, KERNEL)

    def forward(self, x):
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
        return self.head(F.pad(x, (KERNEL // 2, KERNEL // 2), mode="reflect"))
