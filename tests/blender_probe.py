"""Run by Blender's Python (bpy, in its own venv; GPL, so only ever in a subprocess): import a BVH, glTF, FBX or USD file
headless and print, as JSON, the armature's bone count, frame range, fps and world joint positions at frames.

Usage: python blender_probe.py FILE FPS FRAME [FRAME ...]   (frames counted from the animation's first key)
"""
import json
import sys

import bpy

path, fps, frames = sys.argv[1], float(sys.argv[2]), [int(f) for f in sys.argv[3:]]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps = int(round(fps))  # the glTF importer does not set the scene rate
scene.render.fps_base = 1.0
if path.lower().endswith(".bvh"):
    bpy.ops.import_anim.bvh(filepath=path, global_scale=1.0, axis_forward="-Z", axis_up="Y",
                            update_scene_fps=True, update_scene_duration=True)
elif path.lower().endswith(".fbx"):
    bpy.ops.import_scene.fbx(filepath=path)
elif path.lower().endswith((".usd", ".usda", ".usdc")):
    bpy.ops.wm.usd_import(filepath=path)
else:
    bpy.ops.import_scene.gltf(filepath=path)
arms = [o for o in scene.objects if o.type == "ARMATURE"]
out = {"armatures": []}
for arm in arms:
    action = arm.animation_data.action if arm.animation_data else None
    start = int(round(action.frame_range[0])) if action else 0
    end = int(round(action.frame_range[1])) if action else 0
    poses = {}
    for f in frames:
        scene.frame_set(start + f)
        mw = arm.matrix_world
        poses[f] = {b.name: list(mw @ b.head) for b in arm.pose.bones}
    out["armatures"].append({"name": arm.name, "bones": len(arm.data.bones), "start": start, "end": end,
                             "fps": scene.render.fps / scene.render.fps_base, "poses": poses})
print("MOTIONKIT_JSON " + json.dumps(out))
