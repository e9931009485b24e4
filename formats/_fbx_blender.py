"""Run by Blender (``blender --background --python`` or a Python that imports ``bpy``), never imported by
motionkit: Blender is GPL and lives in its own process. motionkit's ``formats/fbx.py`` calls it through temporary
files; the motions cross as BVH, which Blender reads and writes itself.

    SCRIPT write OUT.fbx FRAMES FPS IN0.bvh [IN1.bvh ...]   each BVH an armature (metres, Y up), baked into one take
    SCRIPT read IN.fbx OUTDIR MAXFRAMES MAXJOINTS MAXVALUES  each armature's bones' world matrices, rest and per
                                                            frame of each take, to OUTDIR/NNN.npz (Blender's
                                                            world: metres, Z up)

Prints one line ``MOTIONKIT_FBX {json}`` with what it did, or ``MOTIONKIT_FBX_ERROR message`` and exits 3."""
import json
import os
import sys

import bpy


def fail(message: str):
    print("MOTIONKIT_FBX_ERROR " + " ".join(str(message).split())[:300], flush=True)
    sys.exit(3)


def select_only(obj):
    for o in bpy.context.scene.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def write(out: str, frames: int, fps: float, sources: list[str]):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps
    for path in sources:
        bpy.ops.import_anim.bvh(filepath=path, global_scale=1.0, axis_forward="-Z", axis_up="Y", frame_start=1,
                                use_fps_scale=False, update_scene_fps=False, update_scene_duration=False,
                                rotate_mode="NATIVE")
        arm = bpy.context.active_object
        arm.name = arm.data.name = os.path.splitext(os.path.basename(path))[0].split("-", 1)[1]
    scene.frame_start, scene.frame_end = 1, frames  # the BVH importer's own range runs one frame long
    bpy.ops.export_scene.fbx(filepath=out, object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
                             bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                             bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0,
                             axis_forward="-Z", axis_up="Y", apply_unit_scale=True,
                             apply_scale_options="FBX_SCALE_NONE", use_armature_deform_only=False)
    print("MOTIONKIT_FBX " + json.dumps({"armatures": len(sources), "frames": frames}), flush=True)


def takes(arm) -> list:
    """The armature's takes: the action Blender's importer assigned, then the file's other takes of this armature
    (the importer names them ``ARMATURE|...|TAKE``)."""
    first = arm.animation_data.action if arm.animation_data else None
    others = sorted((a for a in bpy.data.actions if a.name.startswith(arm.name + "|") and a != first),
                    key=lambda a: a.name)
    return ([first] if first is not None else []) + others or [None]


def read(src: str, outdir: str, max_frames: int, max_joints: int, max_values: int):
    import numpy as np

    try:
        bpy.ops.import_scene.fbx(filepath=src, ignore_leaf_bones=False, automatic_bone_orientation=False,
                                 use_anim=True)
    except Exception as e:  # Blender reports a file it cannot parse as a RuntimeError
        fail(e)
    scene = bpy.context.scene
    arms = [o for o in scene.objects if o.type == "ARMATURE"]
    if not arms:
        fail("no armature in the file")
    written = []
    for arm, action in [(arm, action) for arm in arms for action in takes(arm)]:
        k = len(written)
        if action is not None:
            arm.animation_data.action = action
            if getattr(arm.animation_data, "action_slot", None) is None and getattr(action, "slots", None):
                arm.animation_data.action_slot = action.slots[0]  # Blender 4.4+: an action animates through a slot
        start, end = (int(round(action.frame_range[0])), int(round(action.frame_range[1]))) if action else (1, 1)
        bones = list(arm.data.bones)
        size = (end - start + 1) * len(bones)
        if not 0 < end - start + 1 <= max_frames or len(bones) > max_joints or size > max_values:  # before allocating
            fail(f"armature {arm.name!r}: {end - start + 1} frames of {len(bones)} bones is beyond the limits "
                 f"({max_frames} frames, {max_joints} joints, {max_values} values: MOTIONKIT_MAX_*)")
        index = {b.name: i for i, b in enumerate(bones)}
        parents = [index[b.parent.name] if b.parent else -1 for b in bones]
        mw = np.array(arm.matrix_world)
        rest = np.stack([mw @ np.array(b.matrix_local) for b in bones])  # world rest matrices (with scale)
        frames = end - start + 1
        world = np.zeros((frames, len(bones), 4, 4))
        pose = [arm.pose.bones[b.name] for b in bones]
        for f in range(frames):
            scene.frame_set(start + f)
            mw = np.array(arm.matrix_world)
            world[f] = np.stack([mw @ np.array(p.matrix) for p in pose])
        path = os.path.join(outdir, f"{k:03d}.npz")
        np.savez(path, rest=rest, world=world, parents=np.array(parents, dtype=np.int64))
        many = len(takes(arm)) > 1
        written.append({"name": action.name.rsplit("|", 1)[-1] if many else arm.name, "path": path,
                        "bones": [b.name for b in bones], "action": action.name if action else None,
                        "frames": frames})
    print("MOTIONKIT_FBX " + json.dumps({"fps": scene.render.fps / scene.render.fps_base,
                                         "armatures": written}), flush=True)


def main():
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if args[0] == "write":
        write(args[1], int(args[2]), float(args[3]), args[4:])
    else:
        read(args[1], args[2], int(args[3]), int(args[4]), int(args[5]))


main()
