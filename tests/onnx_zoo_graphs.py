"""ONNX graphs written with onnx.helper in the styles torch.onnx does not write: a tf2onnx-like NHWC classifier
(Transposes around the convs, explicit and asymmetric pads, Clip with min/max inputs, Identity chains, MatMul+Add
heads), an old exporter's file (IR 3, opset 8, initializers also listed as graph inputs, Upsample), If nodes
whose condition is a constant, an assorted-ops graph (LRN, InstanceNormalization, SpaceToDepth/DepthToSpace,
Resize, Einsum, Erf GELU, Where, Cast, Range, ConstantOfShape) and a model with symbolic spatial sizes.

Each builder returns (ModelProto, sample-input maker(batch, rng) -> list of numpy arrays).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
Maker = Callable[[int, np.random.Generator], list[np.ndarray]]


def _w(rng: np.random.Generator, name: str, *shape: int, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def _i64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _f32(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def _model(graph: onnx.GraphProto, opset: int, ir: int | None = None) -> onnx.ModelProto:
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="handwritten")
    m.ir_version = ir if ir is not None else min(m.ir_version, 8)
    return m


def _floats(shape: tuple[int, ...]) -> Maker:
    return lambda batch, rng: [rng.standard_normal((batch, *shape)).astype(np.float32)]


def tf2onnx_nhwc() -> tuple[onnx.ModelProto, Maker]:
    rng = np.random.default_rng(1)
    n = helper.make_node
    nodes = [
        n("Transpose", ["input_1:0"], ["t0"], perm=[0, 3, 1, 2], name="model/conv1/Conv2D__6"),
        n("Conv", ["t0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="model/conv1/BiasAdd"),
        n("Clip", ["c1", "zero", "six"], ["r1"], name="model/conv1/Relu6"),
        n("Identity", ["r1"], ["id1"], name="model/dropout/Identity"),
        n("Identity", ["id1"], ["id2"], name="model/dropout/Identity_1"),
        # TensorFlow "SAME" padding at stride 2: one more pad at the end than at the start
        n("Conv", ["id2", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1], group=8),
        n("Relu", ["c2"], ["r2"]),
        n("Conv", ["r2", "w3"], ["c3"], kernel_shape=[1, 1], auto_pad="SAME_UPPER"),
        n("Relu", ["c3"], ["r3"]),
        n("Transpose", ["r3"], ["t1"], perm=[0, 2, 3, 1], name="model/conv3/Relu__20"),
        n("ReduceMean", ["t1"], ["gap"], axes=[1, 2], keepdims=0, name="model/gap/Mean"),
        n("MatMul", ["gap", "wd"], ["mm"], name="model/dense/MatMul"),
        n("Add", ["mm", "bd"], ["logits"], name="model/dense/BiasAdd"),
        n("Softmax", ["logits"], ["sm"], axis=-1),
        n("Identity", ["sm"], ["Identity:0"]),
    ]
    inits = [
        _w(rng, "w1", 8, 3, 3, 3),
        _w(rng, "b1", 8),
        _f32("zero", 0.0),
        _f32("six", 6.0),
        _w(rng, "w2", 8, 1, 3, 3),
        _w(rng, "b2", 8),
        _w(rng, "w3", 12, 8, 1, 1),
        _w(rng, "wd", 12, 5),
        _w(rng, "bd", 5),
    ]
    g = helper.make_graph(
        nodes,
        "tf2onnx",
        [helper.make_tensor_value_info("input_1:0", F32, ["unk__31", 16, 16, 3])],
        [helper.make_tensor_value_info("Identity:0", F32, ["unk__32", 5])],
        inits,
    )
    return _model(g, 13), _floats((16, 16, 3))


def old_exporter_initializers_as_inputs() -> tuple[onnx.ModelProto, Maker]:
    rng = np.random.default_rng(2)
    n = helper.make_node
    inits = [
        _w(rng, "conv1_w", 6, 3, 3, 3),
        _w(rng, "conv1_b", 6),
        _f32("bn_scale", rng.uniform(0.5, 1.5, 6)),
        _w(rng, "bn_bias", 6),
        _w(rng, "bn_mean", 6, scale=0.1),
        _f32("bn_var", rng.uniform(0.5, 1.5, 6)),
        _w(rng, "fc_w", 4, 6 * 8 * 8),
        _w(rng, "fc_b", 4),
        _i64("shape", [1, -1]),
    ]
    nodes = [
        n("Conv", ["data", "conv1_w", "conv1_b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"], epsilon=1e-5),
        n("Relu", ["bn"], ["r1"]),
        n("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Upsample", ["p1"], ["u1"], scales=[1.0, 1.0, 2.0, 2.0], mode="nearest"),
        n("Sum", ["u1", "r1"], ["s1"]),
        n("MaxPool", ["s1"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Dropout", ["p2"], ["d1"], ratio=0.5),
        n("Reshape", ["d1", "shape"], ["flat"]),
        n("Gemm", ["flat", "fc_w", "fc_b"], ["fc"], transB=1),
        n("Softmax", ["fc"], ["prob"]),
    ]
    inputs = [helper.make_tensor_value_info("data", F32, [1, 3, 16, 16])]
    inputs += [helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in inits]
    g = helper.make_graph(nodes, "old", inputs, [helper.make_tensor_value_info("prob", F32, [1, 4])], inits)
    return _model(g, 8, ir=3), _floats((3, 16, 16))


def if_constant_condition() -> tuple[onnx.ModelProto, Maker]:
    rng = np.random.default_rng(3)
    n = helper.make_node
    then_g = helper.make_graph(
        [n("Relu", ["c1"], ["then_out"]), n("Mul", ["then_out", "two"], ["then_y"])],
        "then",
        [],
        [helper.make_tensor_value_info("then_y", F32, None)],
        [_f32("two", 2.0)],
    )
    else_g = helper.make_graph(
        [n("Sigmoid", ["c1"], ["else_y"])], "else", [], [helper.make_tensor_value_info("else_y", F32, None)]
    )
    # a second If whose condition comes from the input's (static) channel count, as exporters write for
    # `if x.shape[1] == 4` branches
    then2 = helper.make_graph(
        [n("Flatten", ["gap"], ["then2_y"])], "then2", [], [helper.make_tensor_value_info("then2_y", F32, None)]
    )
    else2 = helper.make_graph(
        [n("Neg", ["gap"], ["else2_y"])], "else2", [], [helper.make_tensor_value_info("else2_y", F32, None)]
    )
    nodes = [
        n("Conv", ["x", "w", "b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Constant", [], ["cond"], value=helper.make_tensor("cv", TensorProto.BOOL, [], [True])),
        n("If", ["cond"], ["branch"], then_branch=then_g, else_branch=else_g, name="training_branch"),
        n("GlobalAveragePool", ["branch"], ["gap"]),
        n("Shape", ["x"], ["shape"]),
        n("Gather", ["shape", "one"], ["channels"], axis=0),
        n("Equal", ["channels", "four"], ["is4"]),
        n("If", ["is4"], ["y"], then_branch=then2, else_branch=else2),
    ]
    g = helper.make_graph(
        nodes,
        "if_const",
        [helper.make_tensor_value_info("x", F32, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info("y", F32, None)],
        [_w(rng, "w", 6, 4, 3, 3), _w(rng, "b", 6), _i64("one", 1), _i64("four", 4)],
    )
    return _model(g, 13), _floats((4, 8, 8))


def assorted_ops() -> tuple[onnx.ModelProto, Maker]:
    rng = np.random.default_rng(4)
    n = helper.make_node
    nodes = [
        n("LRN", ["x"], ["lrn"], size=3, alpha=1e-4, beta=0.75, bias=1.0),
        n("InstanceNormalization", ["lrn", "in_scale", "in_bias"], ["inorm"], epsilon=1e-5),
        n("SpaceToDepth", ["inorm"], ["s2d"], blocksize=2),
        n("DepthToSpace", ["s2d"], ["d2s"], blocksize=2, mode="CRD"),
        n("Resize", ["d2s", "roi", "scales"], ["up"], mode="nearest", coordinate_transformation_mode="asymmetric"),
        n("MaxPool", ["up"], ["down"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Clip", ["down", "lo", "hi"], ["clipped"]),
        n("Einsum", ["clipped", "mix"], ["mixed"], equation="bchw,oc->bohw"),
        # erf GELU as BERT exporters write it: x * 0.5 * (1 + erf(x / sqrt(2)))
        n("Div", ["mixed", "sqrt2"], ["g0"]),
        n("Erf", ["g0"], ["g1"]),
        n("Add", ["g1", "one_f"], ["g2"]),
        n("Mul", ["mixed", "g2"], ["g3"]),
        n("Mul", ["g3", "half"], ["gelu"]),
        n("Greater", ["gelu", "zero_f"], ["pos"]),
        n("Mul", ["gelu", "slope"], ["neg"]),
        n("Where", ["pos", "gelu", "neg"], ["leaky"]),
        n("Range", ["r_start", "r_limit", "r_delta"], ["ramp_i"]),
        n("Cast", ["ramp_i"], ["ramp"], to=TensorProto.FLOAT),
        n("Mul", ["ramp", "tenth"], ["ramp_s"]),
        n("Add", ["leaky", "ramp_s"], ["ramped"]),
        n("Shape", ["ramped"], ["shp"]),
        n("ConstantOfShape", ["shp"], ["ones"], value=helper.make_tensor("v", F32, [1], [1.0])),
        n("Add", ["ramped", "ones"], ["y"]),
    ]
    inits = [
        _f32("in_scale", rng.uniform(0.5, 1.5, 4)),
        _w(rng, "in_bias", 4),
        _f32("roi", np.zeros(0)),
        _f32("scales", [1.0, 1.0, 2.0, 2.0]),
        _f32("lo", -1.0),
        _f32("hi", 1.5),
        _w(rng, "mix", 6, 4),
        _f32("sqrt2", np.sqrt(2.0)),
        _f32("one_f", 1.0),
        _f32("half", 0.5),
        _f32("zero_f", 0.0),
        _f32("slope", 0.1),
        _i64("r_start", 0),
        _i64("r_limit", 8),
        _i64("r_delta", 1),
        _f32("tenth", 0.1),
    ]
    g = helper.make_graph(
        nodes,
        "assorted",
        [helper.make_tensor_value_info("x", F32, ["batch", 4, 8, 8])],
        [helper.make_tensor_value_info("y", F32, ["batch", 6, 8, 8])],
        inits,
    )
    return _model(g, 12), _floats((4, 8, 8))


def symbolic_spatial() -> tuple[onnx.ModelProto, Maker]:
    """A fully convolutional net whose height and width are symbolic in the file."""
    rng = np.random.default_rng(5)
    n = helper.make_node
    nodes = [
        n("Conv", ["image", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        n("Relu", ["c1"], ["r1"]),
        n("Conv", ["r1", "w2"], ["c2"], kernel_shape=[1, 1]),
        n("Resize", ["c2", "", "scales"], ["mask"], mode="linear"),
        n("Sigmoid", ["mask"], ["prob"]),
    ]
    g = helper.make_graph(
        nodes,
        "fcn",
        [helper.make_tensor_value_info("image", F32, ["N", 3, "height", "width"])],
        [helper.make_tensor_value_info("prob", F32, ["N", 2, "height", "width"])],
        [_w(rng, "w1", 8, 3, 3, 3), _w(rng, "b1", 8), _w(rng, "w2", 2, 8, 1, 1), _f32("scales", [1, 1, 2, 2])],
    )
    return _model(g, 13), _floats((3, 32, 32))


def onnxruntime_fusions() -> tuple[onnx.ModelProto, Maker]:
    """A transformer block as onnxruntime's transformer optimizer saves it: com.microsoft fused ops."""
    rng = np.random.default_rng(6)

    def ms(op: str, ins: list[str], outs: list[str], **kw) -> onnx.NodeProto:
        return helper.make_node(op, ins, outs, domain="com.microsoft", **kw)

    nodes = [
        ms("FusedMatMul", ["x", "w1"], ["h"], alpha=0.5, transB=1),
        ms("BiasGelu", ["h", "b1"], ["g"]),
        ms("FastGelu", ["g", "b2"], ["g2"]),
        ms("QuickGelu", ["g2"], ["g3"], alpha=1.702),
        helper.make_node("MatMul", ["g3", "w2"], ["o"]),
        ms("SkipLayerNormalization", ["o", "x", "gamma", "beta", "bias"], ["y"], epsilon=1e-5),
        helper.make_node("SimplifiedLayerNormalization", ["y", "scale"], ["z"], axis=-1, epsilon=1e-6),
        ms("SkipSimplifiedLayerNormalization", ["z", "x", "gamma2"], ["z2"], epsilon=1e-6),
        helper.make_node("Add", ["z2", "bias2"], ["out"]),
    ]
    inits = [
        _w(rng, "w1", 32, 16),
        _w(rng, "b1", 32),
        _w(rng, "b2", 32),
        _w(rng, "w2", 32, 16),
        _f32("gamma", rng.uniform(0.5, 1.5, 16)),
        _w(rng, "beta", 16),
        _w(rng, "bias", 16),
        _f32("scale", rng.uniform(0.5, 1.5, 16)),
        _f32("gamma2", rng.uniform(0.5, 1.5, 16)),
        _w(rng, "bias2", 16),
    ]
    g = helper.make_graph(
        nodes,
        "ort_fusions",
        [helper.make_tensor_value_info("x", F32, ["batch", 8, 16])],
        [helper.make_tensor_value_info("out", F32, ["batch", 8, 16])],
        inits,
    )
    m = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)], producer_name="ort"
    )
    m.ir_version = 8
    return m, _floats((8, 16))


def bool_mask_input() -> tuple[onnx.ModelProto, Maker]:
    """A bool mask as a graph input, selecting between a scaled input and a constant."""
    rng = np.random.default_rng(7)
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "w"], ["h"]),
        n("Where", ["mask", "h", "fill"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "bool_mask",
        [
            helper.make_tensor_value_info("x", F32, ["N", 8, 4]),
            helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", 8, 1]),
        ],
        [helper.make_tensor_value_info("y", F32, ["N", 8, 4])],
        [_w(rng, "w", 4, 4), _f32("fill", -1.0)],
    )

    def make(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal((batch, 8, 4)).astype(np.float32), rng.random((batch, 8, 1)) > 0.5]

    return _model(g, 13), make


GRAPHS: dict[str, Callable[[], tuple[onnx.ModelProto, Maker]]] = {
    "bool_mask_input": bool_mask_input,
    "onnxruntime_fusions": onnxruntime_fusions,
    "tf2onnx_nhwc": tf2onnx_nhwc,
    "old_initializers_as_inputs": old_exporter_initializers_as_inputs,
    "if_constant": if_constant_condition,
    "assorted_ops": assorted_ops,
    "symbolic_spatial": symbolic_spatial,
}
