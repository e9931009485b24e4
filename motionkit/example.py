"""The bundled example: a procedurally animated humanoid dancer, made here so no third-party clip is shipped.

A 22-joint, Mixamo-like rig in centimetres (ZXY Euler channels, so the example also exercises a non-XYZ order)
does a side-step dance whose arms cycle through three moves, two seconds each: a phrase that repeats, as a dance
does, so each move and each change of move is seen more than once (a clip whose every move happens once cannot
be covered by variations of it). Deterministic for a seed.
"""
from __future__ import annotations

import numpy as np

from . import rotations as rot
from .motion import Motion, Skeleton

# name, parent, offset (cm): a T-pose facing +Z, Y up.
_RIG = [
    ("Hips", None, (0, 95, 0)),
    ("Spine", "Hips", (0, 10, 0)), ("Spine1", "Spine", (0, 12, 0)), ("Spine2", "Spine1", (0, 12, 0)),
    ("Neck", "Spine2", (0, 14, 0)), ("Head", "Neck", (0, 10, 0)),
    ("LeftShoulder", "Spine2", (6, 10, 0)), ("LeftArm", "LeftShoulder", (12, 0, 0)),
    ("LeftForeArm", "LeftArm", (27, 0, 0)), ("LeftHand", "LeftForeArm", (25, 0, 0)),
    ("RightShoulder", "Spine2", (-6, 10, 0)), ("RightArm", "RightShoulder", (-12, 0, 0)),
    ("RightForeArm", "RightArm", (-27, 0, 0)), ("RightHand", "RightForeArm", (-25, 0, 0)),
    ("LeftUpLeg", "Hips", (9, -6, 0)), ("LeftLeg", "LeftUpLeg", (0, -42, 0)),
    ("LeftFoot", "LeftLeg", (0, -40, 0)), ("LeftToeBase", "LeftFoot", (0, -7, 12)),
    ("RightUpLeg", "Hips", (-9, -6, 0)), ("RightLeg", "RightUpLeg", (0, -42, 0)),
    ("RightFoot", "RightLeg", (0, -40, 0)), ("RightToeBase", "RightFoot", (0, -7, 12)),
]
_ENDS = {"Head": (0, 18, 0), "LeftHand": (18, 0, 0), "RightHand": (-18, 0, 0),
         "LeftToeBase": (0, 0, 8), "RightToeBase": (0, 0, 8)}
_ORDER = "ZXY"


def skeleton() -> Skeleton:
    names = [n for n, _, _ in _RIG]
    parents = [-1 if p is None else names.index(p) for _, p, _ in _RIG]
    rot_ch = tuple(a + "rotation" for a in _ORDER)
    channels = [("Xposition", "Yposition", "Zposition") + rot_ch] + [rot_ch] * (len(names) - 1)
    ends = {names.index(n): off for n, off in _ENDS.items()}
    return Skeleton(names, parents, [o for _, _, o in _RIG], channels, ends)


def dancer(seconds: float = 12.0, fps: float = 30.0, seed: int = 0) -> Motion:
    """A side-step dance; the arms cycle through three moves (of sway, wave, arms up, punch; which three and in
    what order: ``seed``), two seconds each."""
    sk = skeleton()
    rng = np.random.default_rng(seed)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    beat = 2 * np.pi * 1.0 * t  # one step per second
    euler = np.zeros((n, len(sk), 3))  # degrees, in _ORDER (Z, X, Y)
    j = {name: i for i, name in enumerate(sk.names)}

    def set_(name, z=0.0, x=0.0, y=0.0):
        euler[:, j[name]] += np.stack(np.broadcast_arrays(z, x, y), axis=-1)

    # Legs: alternate knee lifts on the beat.
    for side, phase in (("Left", 0.0), ("Right", np.pi)):
        lift = np.clip(np.sin(beat + phase), 0, None) ** 1.5
        set_(f"{side}UpLeg", x=-45 * lift, z=(4 if side == "Left" else -4))
        set_(f"{side}Leg", x=80 * lift)
        set_(f"{side}Foot", x=-20 * lift)
    # Hips and spine: a sway with the steps and a slow turn.
    set_("Hips", z=6 * np.sin(beat), y=25 * np.sin(2 * np.pi * 0.11 * t))
    set_("Spine", z=-4 * np.sin(beat), x=5 + 3 * np.sin(2 * beat))
    set_("Spine1", z=-3 * np.sin(beat))
    set_("Head", y=15 * np.sin(beat / 2), x=-8 * np.sin(2 * beat))
    # Arms: three moves in turn, two seconds each, the phrase repeating.
    moves = rng.permutation(4)[:3]
    section = np.minimum((t // 2).astype(int), 10 ** 6) % 3
    move = moves[section]
    edges = np.abs(((t + 1.0) % 2) - 1.0)  # 0 at section boundaries: blend moves over 0.4 s
    w = np.clip(edges / 0.4, 0, 1)
    arm = {"z": np.zeros(n), "x": np.zeros(n), "fore": np.zeros(n)}
    swing = np.sin(beat)
    arm_choices = [
        (-70 + 10 * swing, 25 * swing, 30 + 0 * swing),          # sway
        (60 + 25 * np.sin(3 * beat), 0 * swing, 40 + 30 * np.sin(3 * beat)),  # wave
        (75 + 10 * swing, -10 + 0 * swing, 20 + 0 * swing),      # arms up
        (-20 + 0 * swing, -70 - 20 * swing, 90 * np.clip(-swing, 0, 1)),  # punch
    ]
    for k, (z, x, fore) in enumerate(arm_choices):
        sel = (move == k).astype(float)
        arm["z"] += sel * z
        arm["x"] += sel * x
        arm["fore"] += sel * fore
    rest_z = -70.0
    az = rest_z + w * (arm["z"] - rest_z)
    set_("LeftArm", z=az, x=w * arm["x"])
    set_("RightArm", z=-az, x=w * arm["x"] * np.roll(np.ones(n), 0))
    set_("LeftForeArm", y=w * arm["fore"])
    set_("RightForeArm", y=-w * arm["fore"])

    rotations = rot.from_euler(euler, _ORDER)
    root = np.zeros((n, 3))
    root[:, 0] = 8 * np.sin(beat / 2)
    root[:, 2] = 10 * np.sin(2 * np.pi * 0.07 * t)
    root[:, 1] = 95.0
    motion = Motion.from_root_motion(sk, rotations, root, fps, name="dancer",
                                     metadata={"generator": "motionkit.example.dancer", "seed": seed})
    # Stand on the ground: drop the hips so the lower foot touches y = 0 (the feet plant on the beat).
    feet = motion.world_positions(end_sites=True)[:, -4:, 1]  # toe joints' end sites are the last two
    lowest = feet.min(axis=1)
    motion.translations[:, 0, 1] -= lowest
    return motion
