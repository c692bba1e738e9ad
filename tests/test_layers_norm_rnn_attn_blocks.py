"""Catalog part B (normalization, regularization, activations, recurrent, embedding & attention, merge, blocks):
error messages for bad inputs, well-known parameter counts, and behaviour the shape harness cannot see
(training-only layers, zero gradients, h_n layout, self-attention defaults, dynamic ports)."""

from __future__ import annotations

import math
import random

import pytest
import torch
from test_layer_harness import build_single, make_tensor  # the harness's graph builder (tests/ is on sys.path)
from torch import nn

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.core.errors import ShapeError
from dlstudio.core.tensor import TensorInfo
from dlstudio.layers import all_specs, get_spec
from dlstudio.nn.activations import Step
from dlstudio.nn.attention import PositionalEncoding
from dlstudio.nn.blocks import BasicBlock, Bottleneck, InceptionModule, InvertedResidual
from dlstudio.nn.noise import GaussianNoise


def t(*features: int, dtype: str = "float32") -> TensorInfo:
    return TensorInfo(("N", *features), dtype)


def shape_error(type_name: str, inputs: list, **params) -> ShapeError:
    spec = get_spec(type_name)
    with pytest.raises(ShapeError) as info:
        spec.shape(spec.resolve_params(params), inputs)
    return info.value


def count(type_name: str, inputs: list, **params) -> int:
    spec = get_spec(type_name)
    return spec.param_count(spec.resolve_params(params), inputs)


def single(type_name: str, *shapes: tuple[int, ...], dtype: str = "float32", **params):
    """A graph Input(s) -> layer -> Output(s); returns (graph, compiled model)."""
    g = dls.Graph()
    ins = [g.input(f"x{i}", shape=s, dtype=dtype) for i, s in enumerate(shapes)]
    node = g.add(type_name, *ins, label="layer", **params)
    spec = get_spec(type_name)
    for p in spec.output_ports(spec.resolve_params(params)):
        g.output(f"out_{p.name}", node[p.name])
    return g, dls.compile(g, seed=0)


# ------------------------------------------------------------------------------------------ error messages
def test_embedding_refuses_float_input_and_says_to_use_int64() -> None:
    err = shape_error("Embedding", [t(5)], num_embeddings=10, embedding_dim=4)
    assert err.port == "x"
    assert "int64" in str(err) and "Input" in str(err)
    g = dls.Graph()
    g.output("y", g.add("Embedding", g.input("tokens", shape=(5,)), num_embeddings=10))
    assert "int64" in str(next(iter(infer_all(g).errors.values())))


def test_embedding_padding_idx_outside_vocabulary() -> None:
    err = shape_error("Embedding", [t(5, dtype="int64")], num_embeddings=10, padding_idx=10)
    assert err.param == "padding_idx" and "[0, 9]" in str(err)


def test_attention_heads_must_divide_embed_dim() -> None:
    err = shape_error("MultiheadAttention", [t(7, 10)], num_heads=3)
    assert err.param == "num_heads"
    assert "embed_dim=10" in str(err) and "[1, 2, 5, 10]" in str(err)
    err = shape_error("TransformerEncoderLayer", [t(7, 10)], nhead=4)
    assert err.param == "nhead" and "[1, 2, 5, 10]" in str(err)


def test_attention_value_without_key_and_length_mismatch() -> None:
    err = shape_error("MultiheadAttention", [t(7, 8), None, t(3, 8)], num_heads=2)
    assert err.port == "key" and "wire the key" in str(err)
    err = shape_error("MultiheadAttention", [t(7, 8), t(3, 8), t(4, 8)], num_heads=2)
    assert err.port == "value" and "same sequence length" in str(err)


def test_decoder_memory_width_must_match() -> None:
    err = shape_error("TransformerDecoderLayer", [t(5, 8), t(6, 6)], nhead=2)
    assert err.port == "memory" and "Linear to 8" in str(err)


def test_concat_mismatch_names_the_dimension_and_refuses_batch() -> None:
    err = shape_error("Concat", [t(16, 8, 8), t(32, 4, 4)], dim=1)
    assert err.port == "inputs"
    msg = str(err)
    assert "dimension 2 is 8" in msg and "(N, 32, 4, 4)" in msg and "resize or pad" in msg
    err = shape_error("Concat", [t(3), t(3)], dim=0)
    assert err.param == "dim" and "batch" in str(err)
    err = shape_error("Concat", [t(3), t(3, 2)], dim=1)
    assert "same number of dimensions" in str(err)
    out = get_spec("Concat").shape({"dim": -3}, [t(16, 8, 8), t(32, 8, 8)])
    assert out == [t(48, 8, 8)]


def test_groupnorm_groups_must_divide_channels() -> None:
    err = shape_error("GroupNorm", [t(6, 4, 4)], num_groups=4)
    assert err.param == "num_groups"
    assert "6 input channels" in str(err) and "[1, 2, 3, 6]" in str(err)


def test_rank_errors_say_what_to_insert() -> None:
    err = shape_error("BatchNorm2d", [t(8)])
    assert err.port == "x" and "Flatten" in str(err)
    err = shape_error("LSTM", [t(10)], hidden_size=4)
    assert "(L, features)" in str(err)
    err = shape_error("BasicBlock", [t(3, 8)], out_channels=4)
    assert "(C, H, W)" in str(err)


def test_other_parameter_errors() -> None:
    assert shape_error("LayerNorm", [t(4, 5)], normalized_dims=3).param == "normalized_dims"
    assert shape_error("Hardtanh", [t(4)], min_val=1.0, max_val=0.0).param == "min_val"
    assert "batch" in str(shape_error("Softmax", [t(4)], dim=0))
    err = shape_error("LSTM", [t(5, 3)], hidden_size=4, dropout=0.2)
    assert err.param == "dropout" and "num_layers >= 2" in str(err)
    assert shape_error("PositionalEncoding", [t(20, 8)], max_len=10).param == "max_len"
    err = shape_error("Split", [t(3, 4)], chunks=5, dim=1)
    assert err.param == "chunks" and "at most 3" in str(err)
    assert "broadcasting" in str(shape_error("Multiply", [t(3, 4), t(2, 4)]))
    assert shape_error("Subtract", [t(3), None]).port == "b"
    assert "2x2" in str(shape_error("VGGBlock", [t(3, 1, 5)], out_channels=4))


# --------------------------------------------------------------------------------- well-known parameter counts
@pytest.mark.parametrize(
    "type_name,shape,params,expected",
    [
        ("BasicBlock", (64, 56, 56), {"out_channels": 64}, 73_984),
        ("BasicBlock", (64, 56, 56), {"out_channels": 128, "stride": 2}, 230_144),
        ("Bottleneck", (256, 56, 56), {"planes": 64}, 70_400),  # ResNet-50 layer1 block 2
        ("Bottleneck", (64, 56, 56), {"planes": 64}, 75_008),  # ResNet-50 layer1 block 1 (projection)
        ("InvertedResidual", (32, 112, 112), {"out_channels": 16, "expand_ratio": 1}, 896),  # MobileNetV2 features.1
        ("InvertedResidual", (16, 112, 112), {"out_channels": 24, "stride": 2}, 5_136),  # MobileNetV2 features.2
        ("VGGBlock", (3, 224, 224), {"out_channels": 64}, 38_720),  # VGG-16 first stage
        ("DCGANUpBlock", (512, 4, 4), {"out_channels": 256}, 2_097_664),  # DCGAN generator 512 -> 256
        ("DCGANDownBlock", (3, 64, 64), {"out_channels": 64, "batch_norm": False}, 3_072),
        ("LSTM", (7, 10), {"hidden_size": 20}, 2_560),
        ("GRU", (7, 10), {"hidden_size": 20}, 1_920),
        ("RNN", (7, 10), {"hidden_size": 20}, 640),
        ("LSTM", (7, 10), {"hidden_size": 20, "num_layers": 2, "bidirectional": True}, 2 * 2_560 + 2 * 4_960),
        ("Embedding", (5,), {"num_embeddings": 1000, "embedding_dim": 64}, 64_000),
        ("MultiheadAttention", (7, 512), {"num_heads": 8}, 1_050_624),  # 4 * 512^2 + 4 * 512
        ("TransformerEncoderLayer", (7, 512), {"nhead": 8}, 3_152_384),  # "Attention Is All You Need" base layer
        ("BatchNorm2d", (64, 8, 8), {}, 128),
        ("LayerNorm", (10, 512), {}, 1_024),
    ],
)
def test_known_parameter_counts(type_name: str, shape: tuple, params: dict, expected: int) -> None:
    dtype = "int64" if type_name == "Embedding" else "float32"
    assert count(type_name, [t(*shape, dtype=dtype)], **params) == expected


def test_block_counts_equal_the_reference_modules() -> None:
    assert sum(p.numel() for p in BasicBlock(64, 128, 2).parameters()) == 230_144
    assert sum(p.numel() for p in Bottleneck(256, 64).parameters()) == 70_400
    assert sum(p.numel() for p in InvertedResidual(32, 16, 1, 1).parameters()) == 896
    lstm = nn.LSTM(10, 20, batch_first=True)
    assert sum(p.numel() for p in lstm.parameters()) == 2_560


def test_inception_3a_with_paper_layout() -> None:
    # GoogLeNet inception (3a) on 192 x 28 x 28: 64 + 128 + 32 + 32 = 256 output channels
    p = dict(ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32, pool_proj=32)
    (out,) = get_spec("InceptionModule").shape(get_spec("InceptionModule").resolve_params(p), [t(192, 28, 28)])
    assert out == t(256, 28, 28)
    weights = 192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32
    assert count("InceptionModule", [t(192, 28, 28)], batch_norm=False, **p) == weights + 256 + 96 + 16
    assert count("InceptionModule", [t(192, 28, 28)], **p) == weights + 2 * (256 + 96 + 16)
    # torchvision's layout (3x3 in the "5x5" branch): 155,872 parameters for inception3a
    assert count("InceptionModule", [t(192, 28, 28)], branch3_kernel=3, **p) == 155_872
    module = InceptionModule(192, *p.values(), branch3_kernel=3)
    assert sum(q.numel() for q in module.parameters()) == 155_872
    assert module.branch3[1][0].kernel_size == (3, 3) and module.branch3[1][1].eps == 0.001


def test_mac_estimates() -> None:
    spec = get_spec("LSTM")
    params = spec.resolve_params({"hidden_size": 20})
    outs = spec.shape(params, [t(7, 10)])
    assert spec.macs(params, [t(7, 10)], outs) == 7 * 4 * 20 * (10 + 20)
    spec = get_spec("BasicBlock")
    params = spec.resolve_params({"out_channels": 64})
    outs = spec.shape(params, [t(64, 56, 56)])
    assert spec.macs(params, [t(64, 56, 56)], outs) == 2 * 64 * 64 * 9 * 56 * 56  # 115.6 M, as in ResNet-18
    spec = get_spec("MultiheadAttention")
    params = spec.resolve_params({"num_heads": 2})
    outs = spec.shape(params, [t(5, 8), None, None])
    assert spec.macs(params, [t(5, 8), None, None], outs) == 4 * 5 * 8 * 8 + 2 * 5 * 5 * 8


# ------------------------------------------------------------------------------------------------ behaviour
def test_step_outputs_heaviside_and_blocks_gradient() -> None:
    x = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    y = Step()(x)
    assert y.tolist() == [0.0, 0.0, 1.0]
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros(3))
    assert "gradient is zero" in get_spec("Step").explanation


def test_train_only_layers_act_in_training_and_pass_through_in_eval() -> None:
    for type_name, params in (("Dropout", {"p": 0.5}), ("GaussianNoise", {"std": 0.5}), ("AlphaDropout", {"p": 0.5})):
        assert get_spec(type_name).train_only
        _, model = single(type_name, (200,), **params)
        x = torch.randn(4, 200)
        model.train()
        assert not torch.equal(model(x), x), type_name
        model.eval()
        assert torch.equal(model(x), x), type_name
    assert not get_spec("BatchNorm1d").train_only


def test_gaussian_noise_std_matches() -> None:
    torch.manual_seed(0)
    noise = GaussianNoise(0.3).train()
    x = torch.zeros(20_000)
    assert abs(noise(x).std().item() - 0.3) < 0.01


def test_recurrent_outputs_match_torch() -> None:
    _, model = single("LSTM", (6, 3), hidden_size=5, num_layers=2, bidirectional=True, output="last")
    model.eval()
    ref = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    ref.load_state_dict(model.layer.state_dict())
    x = torch.randn(4, 6, 3)
    y, h_n = model(x)
    out, (h, _) = ref(x)
    assert torch.allclose(y, out[:, -1]) and y.shape == (4, 10)
    assert h_n.shape == (4, 4, 5) and torch.allclose(h_n, h.transpose(0, 1))
    assert "select(1, -1)" in model.code and "transpose(0, 1)" in model.code


def test_gru_full_sequence() -> None:
    _, model = single("GRU", (6, 3), hidden_size=4)
    y, h_n = model(torch.randn(2, 6, 3))
    assert y.shape == (2, 6, 4) and h_n.shape == (2, 1, 4)
    assert torch.allclose(y[:, -1], h_n[:, 0])


def test_attention_defaults_to_self_attention() -> None:
    _, model = single("MultiheadAttention", (5, 8), num_heads=2)
    model.eval()
    x = torch.randn(3, 5, 8)
    ref = model.layer
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x, x, x, need_weights=False)[0])
    # cross-attention with different key/value widths: kdim/vdim are inferred
    g = dls.Graph()
    q, k, v = g.input("q", shape=(5, 8)), g.input("k", shape=(3, 6)), g.input("v", shape=(3, 4))
    g.output("y", g.add("MultiheadAttention", q, k, v, num_heads=4))
    model = dls.compile(g)
    assert model(torch.randn(2, 5, 8), torch.randn(2, 3, 6), torch.randn(2, 3, 4)).shape == (2, 5, 8)


def test_transformer_encoder_stack() -> None:
    _, model = single("TransformerEncoder", (5, 8), nhead=2, num_layers=3, dim_feedforward=16, final_norm=True)
    enc = model.layer
    assert isinstance(enc, nn.TransformerEncoder) and len(enc.layers) == 3 and enc.layers[0].self_attn.batch_first
    assert not enc.enable_nested_tensor
    assert model(torch.randn(2, 5, 8)).shape == (2, 5, 8)


def test_embedding_and_positional_encoding_pipeline() -> None:
    g = dls.Graph()
    tok = g.input("tokens", shape=(6,), dtype="int64")
    e = g.add("Embedding", tok, num_embeddings=50, embedding_dim=8, padding_idx=0)
    g.output("y", g.add("PositionalEncoding", e, max_len=10))
    model = dls.compile(g)
    ids = torch.tensor([[0, 1, 2, 3, 4, 5]])
    y = model(ids)
    pos = torch.arange(6).unsqueeze(1).float()
    assert torch.allclose(y[0, 0, 0::2], torch.zeros(4))  # padding row + sin(0) = 0
    assert torch.allclose(y[0, :, 1] - model.embedding.weight[ids[0], 1], torch.cos(pos[:, 0]), atol=1e-6)
    expected_sin = torch.sin(pos[:, 0] * math.exp(-2 * math.log(10000.0) / 8))
    assert torch.allclose(y[0, :, 2] - model.embedding.weight[ids[0], 2], expected_sin, atol=1e-6)
    learned = PositionalEncoding(5, max_len=7, kind="learned")  # odd width, trainable table
    assert sum(p.numel() for p in learned.parameters()) == 35
    assert sum(p.numel() for p in PositionalEncoding(5, max_len=7).parameters()) == 0


def test_split_ports_follow_chunks() -> None:
    spec = get_spec("Split")
    assert [p.name for p in spec.output_ports({"chunks": 3})] == ["y0", "y1", "y2"]
    assert [o.shape for o in spec.shape({"chunks": 3, "dim": 1}, [t(7, 2)])] == [("N", 3, 2), ("N", 2, 2), ("N", 2, 2)]
    g = dls.Graph()
    parts = g.add("Split", g.input("x", shape=(6, 2)), chunks=3)
    g.output("a", parts)
    g.output("c", parts["y2"])
    x = torch.randn(2, 6, 2)
    a, c = dls.compile(g)(x)
    assert torch.equal(a, x[:, :2]) and torch.equal(c, x[:, 4:])


def test_merge_arithmetic() -> None:
    g = dls.Graph()
    a, b, gate = g.input("a", shape=(3, 4, 4)), g.input("b", shape=(3, 4, 4)), g.input("gate", shape=(3, 1, 1))
    g.output("mul", g.add("Multiply", a, gate))
    g.output("sub", g.add("Subtract", a, b))
    g.output("mean", g.add("Mean", a, b))
    g.output("max", g.add("Maximum", a, b))
    g.output("cat", g.add("Concat", a, b))
    xa, xb, xg = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.randn(2, 3, 1, 1)
    mul, sub, mean, mx, cat = dls.compile(g)(xa, xb, xg)
    assert torch.allclose(mul, xa * xg) and torch.allclose(sub, xa - xb)
    assert torch.allclose(mean, (xa + xb) / 2) and torch.equal(mx, torch.maximum(xa, xb))
    assert torch.equal(cat, torch.cat([xa, xb], 1))


def test_blocks_train_and_keep_residual_semantics() -> None:
    _, model = single("InvertedResidual", (8, 6, 6), out_channels=8, expand_ratio=2)
    assert model.layer.use_res_connect
    _, model = single("InvertedResidual", (8, 6, 6), out_channels=8, stride=2)
    assert not model.layer.use_res_connect
    _, model = single("BasicBlock", (4, 6, 6), out_channels=8, stride=2)
    model.train()
    y = model(torch.randn(2, 4, 6, 6))
    assert y.shape == (2, 8, 3, 3) and (y >= 0).all()
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_prelu_per_channel_and_layernorm_trailing_dims() -> None:
    _, model = single("PReLU", (5, 3, 3), per_channel=True)
    assert model.layer.weight.numel() == 5
    _, model = single("LayerNorm", (5, 3, 3), normalized_dims=2)
    assert tuple(model.layer.normalized_shape) == (3, 3)


@pytest.mark.parametrize(
    "type_name,params",
    [
        ("MultiheadAttention", {"num_heads": 2}),
        ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 8}),
        ("TransformerEncoder", {"nhead": 2, "dim_feedforward": 8, "num_layers": 2}),
    ],
)
def test_causal_mask_hides_later_positions(type_name: str, params: dict) -> None:
    x = torch.randn(2, 5, 8)
    later = x.clone()
    later[:, 3:] = torch.randn(2, 2, 8)  # change only the last two positions
    _, causal = single(type_name, (5, 8), causal=True, **params)
    _, full = single(type_name, (5, 8), **params)
    causal.eval()
    full.eval()
    with torch.no_grad():
        assert torch.allclose(causal(x)[:, :3], causal(later)[:, :3], atol=1e-6)
        assert not torch.allclose(full(x)[:, :3], full(later)[:, :3], atol=1e-6)
    assert ".triu(1)" in causal.code


def test_decoder_causal_target_mask() -> None:
    _, model = single("TransformerDecoderLayer", (4, 8), (6, 8), nhead=2, dim_feedforward=8, causal=True)
    model.eval()
    tgt, mem = torch.randn(1, 4, 8), torch.randn(1, 6, 8)
    changed = tgt.clone()
    changed[:, 2:] += 1.0
    with torch.no_grad():
        assert torch.allclose(model(tgt, mem)[:, :2], model(changed, mem)[:, :2], atol=1e-6)


def test_merge_dtype_flow_follows_torch() -> None:
    ints = [t(3, dtype="int64"), t(3, dtype="int64")]
    assert get_spec("Mean").shape({}, ints)[0].dtype == "float32"  # the division makes floats
    assert get_spec("Add").shape({}, ints)[0].dtype == "int64"
    assert get_spec("Multiply").shape({}, [t(3, dtype="int64"), t(3)])[0].dtype == "float32"
    a, b = torch.tensor([[1, 2, 3]]), torch.tensor([[2, 2, 2]])
    assert ((a + b) / 2).dtype == torch.float32 and (a * torch.ones(1, 3)).dtype == torch.float32
    assert "one dtype" in str(shape_error("Concat", [t(3), t(3, dtype="int64")]))


# ------------------------------------------------------------------------- rules on inputs off the sampler
PART_B = ("Normalization", "Regularization", "Recurrent", "Embedding & Attention", "Activation", "Merge", "Blocks")


def _random_tensor(rng: random.Random) -> TensorInfo:
    dims = tuple(rng.randint(1, 6) for _ in range(rng.randint(0, 4)))
    return TensorInfo(("N", *dims), "int64" if rng.random() < 0.2 else "float32")


@pytest.mark.parametrize("spec", [s for s in all_specs() if s.category in PART_B], ids=lambda s: s.type)
def test_rules_refuse_with_shape_error_or_agree_with_torch(spec) -> None:
    """Random ranks/sizes/dtypes (valid parameters): a rule either raises ShapeError or torch accepts the inputs
    and produces exactly the predicted shapes and dtypes."""
    for seed in range(12):
        rng = random.Random(seed)
        params, inputs = spec.sample(rng)
        inputs = [None if i is None else _random_tensor(rng) if rng.random() < 0.7 else i for i in inputs]
        try:
            expected = spec.shape(spec.resolve_params(params), inputs)
        except ShapeError:
            continue
        g, _, wired = build_single(spec, params, inputs)
        model = dls.compile(g, seed=0).eval()
        with torch.no_grad():
            out = model(*[make_tensor(i, rng, params) for i in wired])
        outs = list(out) if isinstance(out, tuple) else [out]
        for got, exp in zip(outs, expected, strict=True):
            assert tuple(got.shape) == tuple(3 if d == "N" else d for d in exp.shape), (params, inputs)
            assert str(got.dtype) == f"torch.{exp.dtype}", (params, inputs)
