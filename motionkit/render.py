"""Looking at motions without a DCC: stick-figure GIF/MP4/PNG renders (``motionkit preview``) and training plots.

Stick figures drawn with matplotlib on a 2D canvas (an orthographic camera, so it is quick): several motions
side by side or overlaid, a ground grid, the camera framing every frame of every motion, feet on the ground
marked, and — for the output of inpaint/compose/expand — the kept or placed frames drawn in grey while the
generated ones are coloured (read from the operation's metadata). A .png is a contact sheet of evenly spaced
frames. Also the training plot (losses per level) that `motionkit train` writes next to its model.
"""
from __future__ import annotations

import io
import os

import numpy as np

from .errors import MotionkitError

VIEWS = {"front": (0.0, 12.0), "side": (90.0, 12.0), "top": (0.0, 89.0)}  # azimuth, elevation in degrees
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#e377c2", "#8c564b"]
KEPT = "#9a9a9a"


def _camera(azimuth: float, elevation: float) -> np.ndarray:
    """(2, 3): world → screen (x right, y up) for a camera turned by azimuth about y, tilted by elevation."""
    a, e = np.radians(azimuth), np.radians(elevation)
    right = np.array([np.cos(a), 0.0, -np.sin(a)])
    forward = np.array([np.sin(a), 0.0, np.cos(a)])
    up = np.array([0.0, 1.0, 0.0]) * np.cos(e) - forward * np.sin(e)
    return np.stack([right, up])


class Scene:
    """What to draw: world positions, bones, contacts and kept frames of each motion, on one clock."""

    def __init__(self, motions, fps: float | None = None, frames: tuple[int, int] | None = None):
        from . import anatomy, features

        self.fps = fps or min(15.0, motions[0].fps)
        self.items = []
        for m in motions:
            height = anatomy.body_height(m)
            contacts = m.metadata.get("contacts") or {}
            if contacts:
                idx = [m.skeleton.index(n) for n in contacts if n in m.skeleton.names]
                labels = np.array([contacts[m.skeleton.names[j]] for j in idx], dtype=float).T.reshape(m.frames, -1)
            else:
                idx = anatomy.guess_contacts(m, height)
                labels = features.contact_labels(m, idx, height)
            kept = np.zeros(m.frames, bool)
            kept[[f for f in m.metadata.get("kept_frames", []) if 0 <= f < m.frames]] = True
            if m.metadata.get("operation") in ("sample", "crowd", "restyle") and not m.metadata.get("keep"):
                kept[:] = False
            pos = m.world_positions() / height  # body heights: every rig on one scale
            tips = anatomy.tips(m, idx) / height if idx else np.zeros((m.frames, 0, 3))
            self.items.append(dict(motion=m, pos=pos, tips=tips, labels=labels > 0.5, kept=kept))
        duration = max(m.duration for m in motions)
        n = max(1, int(round(duration * self.fps)))
        self.times = np.arange(n) / self.fps
        if frames is not None:  # --frames counts frames of the (first) motion
            a, b = frames
            f0 = motions[0].fps
            self.times = self.times[(self.times >= a / f0 - 1e-9) & (self.times < b / f0 - 1e-9)]

    def frame_of(self, item, t: float) -> int:
        m = item["motion"]
        return min(int(round(t * m.fps)), m.frames - 1)


def render(motions, out: str, view: str = "front", fps: float | None = None, size=None,
           frames=None, overlay: bool | None = None, sheet: int = 8) -> int:
    """Draw ``motions`` to ``out`` (.gif, .mp4 or .png). Returns the number of frames drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    scene = Scene(motions, fps, frames)
    if len(scene.times) == 0:
        raise MotionkitError("--frames selects no frames")
    ext = os.path.splitext(out)[1].lower()
    overlay = len(motions) > 4 if overlay is None else overlay
    panels = 1 if overlay else len(motions)
    times = scene.times
    if ext == ".png":
        times = scene.times[np.linspace(0, len(scene.times) - 1, min(sheet, len(scene.times))).astype(int)]
    dpi = 100
    cols = len(times) if ext == ".png" else panels
    rows = panels if ext == ".png" else 1
    w, h = size or ((150 * cols, 190 * rows) if ext == ".png" else (max(320, 320 * cols), 360))
    fig, axes = plt.subplots(rows, cols, figsize=(w / dpi, h / dpi), dpi=dpi, squeeze=False)
    fig.subplots_adjust(0.01, 0.01, 0.99, 0.9, 0.02, 0.1)

    def project(p, t):
        az, el = VIEWS.get(view, (0.0, 20.0))
        if view == "orbit":
            az = 360.0 * t / max(scene.times[-1] + 1.0 / scene.fps, 1e-9)
        return p @ _camera(az, el).T

    # Frame the whole motion: bounds over every frame, in each panel's own coordinates.
    def bounds(items, t_all):
        pts = np.concatenate([project(it["pos"].reshape(-1, 3), t).reshape(-1, 2)
                              for it in items for t in (t_all if view == "orbit" else t_all[:1])])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.1 * max(hi - lo) + 0.05
        return lo - pad, hi + pad

    groups = [scene.items] if overlay else [[it] for it in scene.items]
    limits = [bounds(g, times) for g in groups]
    ground = min(float(it["pos"][..., 1].min()) for it in scene.items)

    def draw(ax, group, lim, t, k):
        ax.clear()
        ax.set_axis_off()
        lo, hi = lim
        span = hi - lo
        aspect = (ax.bbox.width / max(ax.bbox.height, 1))
        cx, cy = (lo + hi) / 2
        half_w = max(span[0] / 2, span[1] / 2 * aspect)
        half_h = half_w / aspect
        ax.set_xlim(cx - half_w, cx + half_w)
        ax.set_ylim(cy - half_h, cy + half_h)
        # ground grid under everything in the panel
        xs = np.concatenate([it["pos"][..., 0].ravel() for it in group])
        zs = np.concatenate([it["pos"][..., 2].ravel() for it in group])
        g = np.arange(np.floor(xs.min() - 0.5), np.ceil(xs.max() + 0.5) + 1e-9, 0.5)
        gz = np.arange(np.floor(zs.min() - 0.5), np.ceil(zs.max() + 0.5) + 1e-9, 0.5)
        lines = [np.array([[x, ground, gz[0]], [x, ground, gz[-1]]]) for x in g]
        lines += [np.array([[g[0], ground, z], [g[-1], ground, z]]) for z in gz]
        ax.add_collection(LineCollection([project(s, t) for s in lines], colors="#dddddd", linewidths=0.6))
        for i, it in enumerate(group):
            f = scene.frame_of(it, t)
            m = it["motion"]
            p = project(it["pos"][f], t)
            parents = m.skeleton.parents
            segs = [np.stack([p[parents[j]], p[j]]) for j in range(1, len(parents))]
            colour = KEPT if it["kept"][f] else COLOURS[(i if overlay else k) % len(COLOURS)]
            ax.add_collection(LineCollection(segs, colors=colour, linewidths=2.0, capstyle="round"))
            on = it["labels"][f] if it["labels"].size else np.zeros(0, bool)
            if on.any():
                tp = project(it["tips"][f][on], t)
                ax.scatter(tp[:, 0], tp[:, 1], s=28, c="#ff3030", zorder=3, edgecolors="none")

    titles = [os.path.basename(m.name or f"motion {i}") for i, m in enumerate(motions)]
    if ext == ".png":
        for r, (group, lim) in enumerate(zip(groups, limits)):
            for c, t in enumerate(times):
                draw(axes[r][c], group, lim, t, r)
                axes[r][c].set_title(f"{t:.1f} s", fontsize=7)
        data = _save_fig(fig, "png")
        plt.close(fig)
        _atomic(out, data)
        return len(times)
    images = []
    for t in times:
        for c, (group, lim) in enumerate(zip(groups, limits)):
            draw(axes[0][c], group, lim, t, c)
            axes[0][c].set_title(("overlay of %d" % len(motions)) if overlay else titles[c], fontsize=8)
        fig.suptitle(f"{t:5.2f} s", fontsize=8, x=0.98, ha="right")
        fig.canvas.draw()
        buf = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        images.append(buf)
    plt.close(fig)
    if ext == ".mp4":
        _write_mp4(images, out, scene.fps)
    else:
        _write_gif(images, out, scene.fps)
    return len(images)


def _save_fig(fig, fmt):
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def _atomic(path: str, data: bytes):
    from .files import atomic_write

    atomic_write(path, data)


def _write_gif(images, out: str, fps: float):
    from PIL import Image

    frames = [Image.fromarray(im).convert("P", palette=Image.Palette.ADAPTIVE, colors=64) for im in images]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=int(round(1000 / fps)),
                   loop=0, optimize=False, disposal=1)
    _atomic(out, buf.getvalue())


def _write_mp4(images, out: str, fps: float):
    import shutil
    import subprocess
    import tempfile


    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise MotionkitError("writing .mp4 needs ffmpeg on the PATH (a .gif needs nothing)", out)
    h, w = images[0].shape[:2]
    tmp = tempfile.NamedTemporaryFile(suffix=".mp4", dir=os.path.dirname(os.path.abspath(out)), delete=False)
    tmp.close()
    proc = subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                           f"{w}x{h}", "-r", str(fps), "-i", "-", "-pix_fmt", "yuv420p", "-vf",
                           "pad=ceil(iw/2)*2:ceil(ih/2)*2", tmp.name],
                          input=b"".join(im.tobytes() for im in images), capture_output=True)
    if proc.returncode != 0:
        os.unlink(tmp.name)
        raise MotionkitError(f"ffmpeg failed: {proc.stderr.decode().strip().splitlines()[-1:]}", out)
    os.replace(tmp.name, out)


def plot_losses(history: dict, out: str):
    """Losses per level over iterations: one panel per loss, one line per level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys(k for rows in history.values() for _, losses in rows for k in losses))  # a loss
    # may be some levels' only (the coverage loss: the coarse level's)
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(3.2 * max(1, len(keys)), 2.8), dpi=100, squeeze=False)
    for a, key in zip(axes[0], keys):
        for level, rows in sorted(history.items()):
            rows = [(it, losses) for it, losses in rows if key in losses]
            if not rows:
                continue
            its = [it for it, _ in rows]
            vals = [losses[key] for _, losses in rows]
            a.plot(its, vals, label=f"level {level + 1}", linewidth=1)
        a.set_title(key, fontsize=9)
        a.set_xlabel("iteration", fontsize=8)
        a.tick_params(labelsize=7)
    if keys:
        axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    data = _save_fig(fig, "png")
    plt.close(fig)
    _atomic(out, data)
