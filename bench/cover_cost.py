"""What the coverage loss costs per call (forward and backward), at a stage's length, against the identity-kernel
convolution its window sums replaced (stop 32), and how far the two differ.

    python bench/cover_cost.py [--lengths 172,505,1200] [--batch 2] [--threads 2] [--repeats 3]

Random distances stand in for a sample's: the cost depends on the lengths, not on the values."""
import argparse
import time

import torch
import torch.nn.functional as F

from motionkit.train import COVER_EPS, cover_loss


def by_convolution(fake, real, scale, width, eps):  # stop 31's window sums, for comparison
    c = scale.shape[0]
    a = (fake[:, :c] * scale).transpose(1, 2)
    r = (real[:, :c] * scale).transpose(1, 2).expand(a.shape[0], -1, -1).contiguous()
    d = torch.cdist(r, a)
    w = min(width, d.shape[1], d.shape[2])
    kernel = torch.eye(w, dtype=d.dtype).div(w).view(1, 1, w, w)
    return F.relu(F.conv2d(d.unsqueeze(1), kernel).squeeze(1).amin(dim=2) - eps).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="172,505,1200")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    channels = 6 * 22  # Salsa's modelled joints' rotations
    print("| frames | shifted adds | convolution | largest difference |\n|---|---|---|---|")
    for n in map(int, args.lengths.split(",")):
        real = torch.randn(1, channels, n, generator=g)
        scale = torch.full((channels, 1), 0.5)
        times, values = {}, {}
        for name, fn in (("adds", cover_loss), ("conv", by_convolution)):
            fake = torch.randn(args.batch, channels, n, generator=torch.Generator().manual_seed(1), requires_grad=True)
            t = time.perf_counter()
            for _ in range(args.repeats):
                loss = fn(fake, real, scale, 30, COVER_EPS)
                loss.backward()
            times[name] = (time.perf_counter() - t) / args.repeats
            values[name] = float(loss.detach())
        print(f"| {n} | {1000 * times['adds']:.1f} ms | {1000 * times['conv']:.1f} ms | "
              f"{abs(values['adds'] - values['conv']):.2e} |", flush=True)


if __name__ == "__main__":
    main()
