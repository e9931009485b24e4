"""`motionkit export -m MODEL -o model.onnx`: the trained generator pyramid as one ONNX graph, for variations made
at runtime inside a game engine (onnxruntime in Unity, Unreal, Godot or anything else) rather than offline.

The graph is the model's sampling (GANimator's: noise at the first stage only, then each stage upsamples the
previous one linearly in time and adds its generator's correction) followed by the decoding of the features onto
the full skeleton, so an engine gets joint transforms, not features:

- inputs: ``noise`` (batch, channels or 1, first) standard normal noise at the first stage, ``frames`` (int64, [1])
  the output length at the model's frame rate; ``first = max(3, round(pyramid[0] * frames / pyramid[-1]))``;
- outputs: ``features`` (batch, channels, frames) the normalised features (what ``motionkit`` decodes), and
  decoded: ``rotations`` (batch, frames, joints, 3, 3) every joint's local rotation matrix, ``translations``
  (batch, frames, joints, 3) every joint's local translation in the clip's units, ``contacts`` (batch, frames,
  feet) the predicted foot contacts.

Beside it, MODEL.json: the skeleton (names, parents, rest offsets), frame rate, pyramid, the inputs' shapes and the
feature encoding, which is all one needs to drive a rig or to decode ``features`` oneself. The graph is built node
by node with the ``onnx`` package (the ``[onnx]`` extra) from the model's weights; nothing is traced, and the
stage lengths are computed in the graph from ``frames`` exactly as ``Model.stage_lengths`` does. With
``onnxruntime`` installed, export checks the graph against torch on the same noise and says by how much they
differ."""
from __future__ import annotations

import importlib.util
import json
import os

import click

from motionkit import hookimpl

from ._shared import model_option

OPSET = 18


class _Graph:
    """Nodes, constants and unique names for a graph being built."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value, dtype=None, stem: str = "c") -> str:
        import numpy as np

        arr = np.asarray(value, dtype=dtype if dtype is not None else np.float32)
        name = self.name(stem)
        self.inits.append(self.numpy_helper.from_array(arr, name))
        return name

    def op(self, kind: str, *inputs: str, out: str | None = None, **attrs) -> str:
        out = out or self.name(kind.lower())
        self.nodes.append(self.helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def last(self, x: str, start: int, stop: int) -> str:
        """x[..., start:stop]."""
        import numpy as np

        return self.op("Slice", x, self.const([start], np.int64), self.const([stop], np.int64),
                       self.const([-1], np.int64))

    def pick(self, x: str, index, axis: int = -1) -> str:
        import numpy as np

        return self.op("Gather", x, self.const(index, np.int64), axis=axis)


def _conv(g: _Graph, x: str, layer) -> str:
    """A SkeletonConv: reflect padding, then a dense convolution by the masked weight."""
    import numpy as np

    from motionkit.gan import KERNEL

    pad = KERNEL // 2
    x = g.op("Pad", x, g.const([0, 0, pad, 0, 0, pad], np.int64), mode="reflect")
    w = (layer.weight * layer.mask).detach().cpu().numpy()
    return g.op("Conv", x, g.const(w), g.const(layer.bias.detach().cpu().numpy()))


def _trunk(g: _Graph, x: str, generator) -> str:
    for k, layer in enumerate(generator.layers):
        x = _conv(g, x, layer)
        if k < len(generator.layers) - 1:
            x = g.op("LeakyRelu", x, alpha=0.2)
    return x


def _pyramid(g: _Graph, model) -> str:
    """noise, frames → (batch, channels, frames) normalised features, as ``Model.generate`` computes them."""
    import numpy as np

    channels = sum(model.widths)
    z = g.op("Mul", "noise", g.const(model.amplitudes[0] * model.temperature))
    batch_and_time = g.op("Shape", z)
    shape = g.op("Concat", g.pick(batch_and_time, [0]), g.const([channels], np.int64), g.pick(batch_and_time, [2]),
                 axis=0)
    z = g.op("Expand", z, shape)
    x = _trunk(g, z, model.generators[0])  # G_0(0, z) = 0 + its trunk of (0 + z)
    frames = g.op("Cast", "frames", to=11)  # DOUBLE: round(n * frames / N) as Python computes it
    for s in range(1, model.n_stages):
        if s < model.n_stages - 1:
            n = g.op("Div", g.op("Mul", frames, g.const([float(model.lengths[s])], np.float64)),
                     g.const([float(model.lengths[-1])], np.float64))
            length = g.op("Cast", g.op("Max", g.op("Round", n), g.const([3.0], np.float64)), to=7)
        else:
            length = "frames"
        sizes = g.op("Concat", g.op("Shape", x, end=2), length, axis=0)
        x = g.op("Resize", x, "", "", sizes, mode="linear", coordinate_transformation_mode="pytorch_half_pixel")
        x = g.op("Add", x, _trunk(g, x, model.generators[s]))  # G_s(x, 0) = x + its trunk of x
    return x


def _decode(g: _Graph, x: str, enc, contact_threshold: float = 0.5) -> tuple[str, str, str | None]:
    """``features.decode`` in the graph: (rotations, translations, contacts) from (batch, channels, frames); a
    contact is down where its label is above the model's calibrated ``contact_threshold``."""
    import numpy as np

    from motionkit import rotations as rot

    sk = enc.skeleton
    nj, nc, no, J = len(enc.joints), len(enc.contacts), len(enc.offsets), len(sk)
    std = np.where(enc.fixed, 0.0, enc.std)  # constant channels decode to their value, whatever the generator says
    f = g.op("Add", g.op("Mul", g.op("Transpose", x, perm=[0, 2, 1]), g.const(std)), g.const(enc.mean))
    lead = g.op("Shape", f, end=2)  # (batch, frames)

    # rotations: Gram-Schmidt of the 6D features, then r = L_j · canonical · M_j (the encoding's constant frames)
    six = g.op("Reshape", g.last(f, 0, 6 * nj), g.op("Concat", lead, g.const([nj, 6], np.int64), axis=0))
    a, b = g.last(six, 0, 3), g.last(six, 3, 6)
    ex = g.op("Div", a, g.op("ReduceL2", a, g.const([-1], np.int64), keepdims=1))
    b = g.op("Sub", b, g.op("Mul", g.op("ReduceSum", g.op("Mul", ex, b), g.const([-1], np.int64), keepdims=1), ex))
    ey = g.op("Div", b, g.op("ReduceL2", b, g.const([-1], np.int64), keepdims=1))
    ez = g.op("Sub", g.op("Mul", g.pick(ex, [1, 2, 0]), g.pick(ey, [2, 0, 1])),
              g.op("Mul", g.pick(ex, [2, 0, 1]), g.pick(ey, [1, 2, 0])))
    axes = g.const([-1], np.int64)
    canonical = g.op("Concat", *(g.op("Unsqueeze", e, axes) for e in (ex, ey, ez)), axis=-1)  # columns x, y, z
    root = g.last(f, enc.root_slice.start, enc.root_slice.stop)  # (batch, frames, 3 or 4): x velocity, height,
    vx, vz = g.pick(root, [0]), g.pick(root, [2])                # z velocity (and the turning rate)
    if enc.heading:  # the turning rate integrated to a heading, which turns the travel joint and its velocity
        rate = g.pick(root, [3])
        first = g.op("Slice", rate, g.const([0], np.int64), g.const([1], np.int64), g.const([1], np.int64))
        psi = g.op("Sub", g.op("CumSum", rate, g.const(1, np.int64)), first)
        c, s = g.op("Cos", psi), g.op("Sin", psi)
        zero = g.op("Mul", c, g.const(0.0))
        one = g.op("Add", zero, g.const(1.0))
        turn = g.op("Reshape", g.op("Concat", c, zero, s, zero, one, zero, g.op("Neg", s), zero, c, axis=-1),
                    g.op("Concat", lead, g.const([1, 3, 3], np.int64), axis=0))
        k = enc.joints.index(enc.travel)
        turned = g.op("MatMul", turn, g.pick(canonical, [k], axis=2))
        canonical = g.pick(g.op("Concat", turned, canonical, axis=2),
                           [0 if j == k else 1 + j for j in range(nj)], axis=2)
        vx, vz = (g.op("Add", g.op("Mul", c, vx), g.op("Mul", s, vz)),
                  g.op("Sub", g.op("Mul", c, vz), g.op("Mul", s, vx)))
    pq, pp = enc.parent_world()
    left = np.stack([rot.to_matrix(rot.conjugate(enc.frames[int(sk.parents[j])] if j != enc.travel else pq))
                     for j in enc.joints])
    modelled = g.op("MatMul", g.op("MatMul", g.const(left), canonical), g.const(rot.to_matrix(enc.frames[enc.joints])))
    rest = g.op("Expand", g.const(rot.to_matrix(enc.rest_rotations)),
                g.op("Concat", lead, g.const([J, 3, 3], np.int64), axis=0))
    where = {j: k for k, j in enumerate(enc.joints)}
    rotations = g.op("Gather", g.op("Concat", modelled, rest, axis=2),
                     g.const([where.get(j, nj + j) for j in range(J)], np.int64), axis=2)

    # translations: offsets that move, the travel joint integrated from its velocities, the rest constant
    parts, where = [], {}
    if no:
        base = enc.root_slice.stop
        d = g.op("Reshape", g.last(f, base, base + 3 * no), g.op("Concat", lead, g.const([no, 3, 1], np.int64),
                                                                axis=0))
        back = np.stack([rot.to_matrix(rot.conjugate(enc.frames[int(sk.parents[j])])) for j in enc.offsets])
        d = g.op("Mul", g.op("MatMul", g.const(back), d), g.const(enc.height))
        parts.append(g.op("Squeeze", d, g.const([-1], np.int64)))
        where.update({j: k for k, j in enumerate(enc.offsets)})
    xz = g.op("Concat", vx, vz, axis=-1)
    first = g.op("Slice", xz, g.const([0], np.int64), g.const([1], np.int64), g.const([1], np.int64))
    xz = g.op("Add", g.op("Sub", g.op("CumSum", xz, g.const(1, np.int64)), first),
              g.const(enc.start[[0, 2]] / enc.height))
    world = g.op("Mul", g.pick(g.op("Concat", xz, g.pick(root, [1]), axis=-1), [0, 2, 1]), g.const(enc.height))
    travel = g.op("MatMul", g.op("Sub", world, g.const(pp)), g.const(rot.to_matrix(rot.conjugate(pq)).T))
    parts.append(g.op("Unsqueeze", travel, g.const([2], np.int64)))
    where[enc.travel] = no
    rest = g.op("Expand", g.const(enc.rest_translations), g.op("Concat", lead, g.const([J, 3], np.int64), axis=0))
    parts.append(rest)
    translations = g.op("Gather", g.op("Concat", *parts, axis=2),
                        g.const([where.get(j, no + 1 + j) for j in range(J)], np.int64), axis=2)
    contacts = None
    if nc:
        contacts = g.op("Greater", g.last(f, 6 * nj, 6 * nj + nc), g.const(contact_threshold))
    return rotations, translations, contacts


def onnx_model(model):
    """The model's sampling and decoding as an ``onnx.ModelProto`` (see the module docstring)."""
    from onnx import TensorProto, checker, helper

    from motionkit.errors import MotionkitError

    if model.trained_stages < model.n_stages:
        raise MotionkitError(f"the model is only partly trained ({model.trained_stages} of {model.n_stages} "
                             "stages): export a finished model (train --resume finishes it)")
    g = _Graph()
    x = _pyramid(g, model)
    features = g.op("Identity", x, out="features")
    rotations, translations, contacts = _decode(g, features, model.enc, model.contact_threshold)
    g.op("Identity", rotations, out="rotations")
    g.op("Identity", translations, out="translations")
    F, I = TensorProto.FLOAT, TensorProto.INT64
    J, C = len(model.enc.skeleton), sum(model.widths)
    outputs = [helper.make_tensor_value_info("features", F, ["batch", C, "frames"]),
               helper.make_tensor_value_info("rotations", F, ["batch", "frames", J, 3, 3]),
               helper.make_tensor_value_info("translations", F, ["batch", "frames", J, 3])]
    if contacts is not None:
        g.op("Identity", contacts, out="contacts")
        outputs.append(helper.make_tensor_value_info("contacts", TensorProto.BOOL,
                                                     ["batch", "frames", len(model.enc.contacts)]))
    noise_channels = C if model.config.noise == "full" else 1
    graph = helper.make_graph(g.nodes, "motionkit_sample",
                              [helper.make_tensor_value_info("noise", F, ["batch", noise_channels, "first"]),
                               helper.make_tensor_value_info("frames", I, [1])], outputs, g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="motionkit")
    proto.ir_version = 8
    checker.check_model(proto, full_check=True)
    return proto


def sidecar(model, source: str) -> dict:
    """What an engine needs beside the graph: the skeleton, rates, shapes and the feature encoding."""
    enc = model.enc
    noise_channels = sum(model.widths) if model.config.noise == "full" else 1
    return {
        "format": "motionkit-onnx", "version": 1, "model": os.path.basename(source),
        "provenance": model.provenance,
        "fps": enc.fps, "pyramid": list(model.lengths),
        "inputs": {"noise": f"float32 (batch, {noise_channels}, first): standard normal noise",
                   "frames": "int64 [1]: output frames at fps",
                   "first": "max(3, round(pyramid[0] * frames / pyramid[-1]))  (Python's round: half to even)"},
        "outputs": {"features": "float32 (batch, channels, frames): normalised features (encoding below)",
                    "rotations": "float32 (batch, frames, joints, 3, 3): local rotation matrices, column vectors, "
                                 "skeleton order",
                    "translations": "float32 (batch, frames, joints, 3): local translations, the clip's units",
                    "contacts": "bool (batch, frames, feet): predicted foot contacts (encoding.contacts)"},
        "axes": "right-handed, Y up, as the clip: a joint's world transform is its parent's times "
                "[rotations | translations]",
        "skeleton": {"names": enc.skeleton.names, "parents": enc.skeleton.parents.tolist(),
                     "offsets": enc.skeleton.offsets.tolist()},
        "encoding": enc.to_dict(),
    }


def check(proto, model, batch: int = 2, frames: int | None = None) -> dict:
    """Run the graph in onnxruntime and the model in torch on the same noise: the largest differences."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from motionkit import features as feat
    from motionkit import rotations as rot
    from motionkit.model import draw_noise

    frames = frames or model.lengths[-1]
    first = model.stage_lengths(frames)[0]
    noise = draw_noise(model.config, (batch, sum(model.widths), first), rng=torch.Generator().manual_seed(0))
    noise = noise[:, :1].contiguous() if model.config.noise != "full" else noise
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    out = dict(zip([o.name for o in session.get_outputs()],
                   session.run(None, {"noise": noise.numpy(), "frames": np.array([frames], np.int64)})))
    ours = _generate_from(model, noise, frames)
    motions = [feat.decode(ours[i].T.numpy(), model.enc) for i in range(batch)]
    height = model.enc.height
    return {
        "features": float(np.abs(out["features"] - ours.numpy()).max()),
        "rotations": max(float(np.abs(out["rotations"][i] - rot.to_matrix(m.rotations)).max())
                         for i, m in enumerate(motions)),
        "translations": max(float(np.abs(out["translations"][i] - m.translations).max()) / height
                            for i, m in enumerate(motions)),
    }


def _generate_from(model, noise, frames: int):
    """``Model.generate`` with given first-stage noise (what the graph computes)."""
    import torch

    from motionkit.model import resize

    with torch.no_grad():
        z = noise.expand(-1, sum(model.widths), -1) * (model.amplitudes[0] * model.temperature)
        x = model.generators[0](torch.zeros_like(z), z)
        for s, n in enumerate(model.stage_lengths(frames)[1:], start=1):
            x = model.generators[s](resize(x, n), torch.zeros(x.shape[0], x.shape[1], n))
    return x


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @model_option
    @click.option("-o", "--output", required=True, help="The .onnx file to write (MODEL.json is written beside it).")
    def export(model_path, output):
        """Write the trained model as an ONNX graph for game engines: noise and a length in, joint rotations and
        translations out (and the features), with a JSON beside it describing the skeleton and the inputs.

        Needs the onnx package (pip install 'motionkit[onnx]'); with onnxruntime installed the graph is checked
        against torch on the same noise."""
        from motionkit.errors import MotionkitError
        from motionkit.files import Outputs, refuse_overwriting_input

        from ._shared import load_model

        if not output.endswith(".onnx"):
            raise MotionkitError(f"{output}: export writes ONNX; name the file *.onnx")
        if importlib.util.find_spec("onnx") is None:
            raise MotionkitError("ONNX export needs the onnx package: pip install 'motionkit[onnx]'")
        path, model = load_model(model_path)
        side = output[:-len(".onnx")] + ".json"
        for target in (output, side):
            refuse_overwriting_input(target, (path,))
        proto = onnx_model(model)
        with Outputs() as out:
            out.add(output, proto.SerializeToString())
            out.add(side, (json.dumps(sidecar(model, path), indent=1) + "\n").encode())
        click.echo(f"wrote {output} and {side}", err=True)
        if importlib.util.find_spec("onnxruntime") is None:
            click.echo("(pip install onnxruntime to check the graph against torch)", err=True)
            return
        d = check(proto, model)
        click.echo(f"checked with onnxruntime: features within {d['features']:.1e}, rotation matrices within "
                   f"{d['rotations']:.1e}, translations within {d['translations']:.1e} body heights of torch's",
                   err=True)
