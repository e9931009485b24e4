"""Run by Blender's Python (bpy, its own venv): write an FBX whose one armature has two takes, the way DCCs write
several animations of one character — BVH A and BVH B (same skeleton) imported, B's action kept, B's armature
removed, every action exported as a take.

Usage: python blender_takes.py A.bvh B.bvh FPS OUT.fbx"""
import sys

import bpy

a, b, fps, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps
for path in (a, b):
    bpy.ops.import_anim.bvh(filepath=path, axis_forward="-Z", axis_up="Y", update_scene_fps=False,
                            use_fps_scale=False)
second = bpy.context.active_object
second.animation_data.action.use_fake_user = True
bpy.data.objects.remove(second)
bpy.ops.export_scene.fbx(filepath=out, object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
                         bake_anim_use_all_actions=True, bake_anim_use_nla_strips=False,
                         bake_anim_simplify_factor=0.0)
