"""Common architectures nobody here had imported before (MobileNet, EfficientNet, U-Net, ViT, seq2seq, audio
convnets, attention with masks, nanoGPT, ResNet/DenseNet, Siamese, super-resolution, multi-output models) import
through torch.export within 1e-5 of the original, train, export to ONNX (run in onnxruntime) and to Python, and
the round trip import -> export Python -> import gives the same graph."""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import dlstudio as dls
from dlstudio.cli import run_cli
from dlstudio.core.errors import ModelImportError
from dlstudio.layers import get_spec

FIXTURES = Path(__file__).parent / "fixtures" / "torch_models"

# id: (file, class, constructor kwargs, per-sample input shapes, dtypes)
CASES: dict[str, tuple[str, str, dict, list[tuple[int, ...]], list[str] | None]] = {
    "mobilenet_v2": ("mobilenet", "MobileNetV2", {}, [(3, 32, 32)], None),
    "efficientnet_mbconv": ("mobilenet", "EfficientNetLite", {}, [(3, 32, 32)], None),
    "unet": ("unet", "UNet", {}, [(3, 20, 20)], None),
    "unet_bilinear": ("unet", "UNet", {"bilinear": True}, [(3, 20, 20)], None),
    "vit": ("vit", "VisionTransformer", {}, [(3, 16, 16)], None),
    "vit_transformer_encoder": ("vit", "ViTEncoder", {}, [(1, 16, 16)], None),
    "seq2seq_gru": ("recurrent", "Seq2Seq", {}, [(7,), (5,)], ["int64", "int64"]),
    "bilstm_classifier": ("recurrent", "BiLSTMClassifier", {}, [(10,)], ["int64"]),
    "last_step_gru": ("recurrent", "LastStepGRU", {}, [(12, 4)], None),
    "audio_conv1d": ("audio", "AudioClassifier", {}, [(400,)], None),
    "m5_speech": ("audio", "M5", {}, [(1, 800)], None),
    "padded_attention": ("attention_models", "PaddedEncoder", {}, [(10,)], ["int64"]),
    "nanogpt_tied": ("attention_models", "NanoGPT", {}, [(12,)], ["int64"]),
    "nanogpt_sdpa": ("attention_models", "NanoGPT", {"flash": True}, [(12,)], ["int64"]),
    "einsum_attention_dict": ("attention_models", "EinsumAttention", {}, [(6, 16)], None),
    "normalized_embedder": ("attention_models", "NormalizedEmbedder", {}, [(12,)], None),
    "resnet18": ("resnet", "ResNet", {}, [(3, 32, 32)], None),
    "densenet": ("resnet", "DenseNet", {}, [(3, 16, 16)], None),
    "se_resnet": ("resnet", "SEResNet", {}, [(3, 16, 16)], None),
    "siamese": ("misc_models", "SiameseNetwork", {}, [(1, 16, 16), (1, 16, 16)], None),
    "espcn": ("misc_models", "ESPCN", {}, [(1, 12, 12)], None),
    "residual_mlp": ("misc_models", "ResidualMLP", {}, [(10,)], None),
    "multitask_tuple": ("misc_models", "MultiTaskNet", {}, [(3, 16, 16)], None),
    "feature_gate": ("misc_models", "FeatureGate", {}, [(6,)], None),
    "llama_block": ("patterns", "LlamaBlock", {}, [(6,)], ["int64"]),
    "convnext": ("patterns", "TinyConvNeXt", {}, [(3, 16, 16)], None),
    "tcn": ("patterns", "TCN", {}, [(3, 12)], None),
    "pointnet": ("patterns", "PointNet", {}, [(20, 3)], None),
    "yolo_head": ("patterns", "YoloHead", {}, [(3, 8, 8)], None),
    "gpt2_attention_mask": ("patterns", "GPT2Attention", {}, [(5, 16), (5,)], ["float32", "int64"]),
    "inplace_and_none_output": ("patterns", "MaskedRegressor", {}, [(8,)], None),
}
SLOW = {"resnet18", "densenet", "mobilenet_v2", "efficientnet_mbconv", "unet", "unet_bilinear", "seq2seq_gru"}


def _module(case: str) -> torch.nn.Module:
    file, cls, init, *_ = CASES[case]
    torch.manual_seed(0)
    return getattr(importlib.import_module(f"tests.fixtures.torch_models.{file}"), cls)(**init)


def _import(case: str, tmp_path: Path, capsys) -> tuple[dls.Project, float]:
    """Through the CLI, as a user would: model.py:Class --input-shape ... [--input-dtype] [--init]."""
    file, cls, init, shapes, dtypes = CASES[case]
    argv = ["import", f"{FIXTURES / file}.py:{cls}", "-o", str(tmp_path / f"{case}.dlstudio")]
    for s in shapes:
        argv += ["--input-shape", ",".join(map(str, s))]
    for d in dtypes or ():
        argv += ["--input-dtype", d]
    if init:
        argv += ["--init", json.dumps(init)]
    t = time.perf_counter()
    torch.manual_seed(0)  # the CLI builds Class(**init): the same weights as _module(case)
    code = run_cli(argv)
    seconds = time.perf_counter() - t
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "imported graph vs the original on the example input" in out and "Traceback" not in out + err
    return dls.Project.load(tmp_path / f"{case}.dlstudio"), seconds


def _inputs(project: dls.Project, module: torch.nn.Module, batch: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    tables = [m.num_embeddings for m in module.modules() if isinstance(m, torch.nn.Embedding)]
    out = []
    for node in project.graph.nodes_of_type("Input"):
        shape = (batch, *node.params["shape"])
        if node.params.get("dtype") == "int64":
            out.append(torch.randint(0, min(tables, default=2), shape, generator=gen))  # no table: a 0/1 mask
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def _as_tuple(out) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def _train_one_epoch(project: dls.Project, module: torch.nn.Module, batch: int) -> None:
    """One epoch of four SGD steps on a random set: the loss stays finite and the parameters move."""
    model = dls.compile(project.graph, weights=project.weights_path).train()
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for step in range(4):
        outs = _as_tuple(model(*_inputs(project, module, batch, step)))
        loss = sum(o.float().pow(2).mean() for o in outs if o.is_floating_point())
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    moved = {k for k, p in model.named_parameters() if not torch.equal(p, before[k])}
    assert len(moved) >= 0.8 * len(before), f"parameters that did not train: {sorted(set(before) - moved)}"


def _signature(graph) -> tuple[Counter, Counter, list[int]]:
    """The graph up to names: node types with parameters, typed wires, block sizes."""
    kinds: Counter = Counter()
    for n in graph.nodes.values():
        params = get_spec(n.type).resolve_params(n.params)
        kinds[(n.type, tuple(sorted((k, repr(v)) for k, v in params.items() if k != "shapes")))] += 1
    nodes = graph.nodes
    wires = Counter((nodes[e.src].type, e.src_port, nodes[e.dst].type, e.dst_port) for e in graph.edges())
    return kinds, wires, sorted(len(g.node_ids) for g in graph.groups.values())


def _params(case: str):
    return pytest.param(case, marks=pytest.mark.slow) if case in SLOW else case


@pytest.mark.parametrize("case", [_params(c) for c in CASES])
def test_common_architecture_imports_trains_and_exports(case: str, tmp_path: Path, capsys) -> None:
    module = _module(case).eval()
    project, seconds = _import(case, tmp_path, capsys)
    batch = 2  # the CLI's example batch; graphs whose ops mix the batch are fixed to it

    # the imported graph reproduces the original on a fresh input (not only the example it was traced on)
    xs = _inputs(project, module, batch, 7)
    model = dls.compile(project.graph, weights=project.weights_path).eval()
    with torch.no_grad():
        want = [t for t in _flat(module(*xs))]
        got = _as_tuple(model(*xs))
    assert len(got) == len(want)
    diff = max(float((a - b).abs().max()) for a, b in zip(want, got))
    assert diff <= 1e-5, diff
    print(f"{case}: import {seconds:.1f} s, {len(project.graph)} nodes, max |diff| {diff:.2g}")

    _train_one_epoch(project, module, batch)

    onnx_path = tmp_path / f"{case}.onnx"
    dls.export_onnx(project, onnx_path, check_batch=batch)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_out = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)})
    for a, b in zip(got, ort_out):
        np.testing.assert_allclose(b, a.numpy(), rtol=0, atol=1e-4)

    dls.export_python(project, tmp_path / f"gen_{case}.py", weights_out=tmp_path / f"gen_{case}.safetensors")
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module(f"gen_{case}").load_model()
        again = dls.import_torch(generated, xs)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(f"gen_{case}", None)
    first, second = _signature(project.graph), _signature(again.graph)
    assert first == second, [(a - b, b - a) for a, b in zip(first[:2], second[:2])]


def _flat(out) -> list[torch.Tensor]:
    if out is None:  # (prediction, None): the imported graph outputs the tensors only
        return []
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _flat(v)]
    return [t for v in out for t in _flat(v)]


class _ComplexRotary(torch.nn.Module):
    """Rotary embedding written with complex numbers (torch.view_as_complex / torch.polar)."""

    def __init__(self, dim: int = 8, seq: int = 6) -> None:
        super().__init__()
        freqs = torch.outer(torch.arange(seq).float(), 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))
        self.register_buffer("freqs_cis", torch.polar(torch.ones_like(freqs), freqs), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xc = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
        return torch.view_as_real(xc * self.freqs_cis).flatten(-2)


def test_what_cannot_be_imported_is_one_message_without_traceback(tmp_path: Path, capsys) -> None:
    """Packed sequences and complex tensors: one message naming the cause (and the line), nothing written."""
    out = tmp_path / "packed.dlstudio"
    argv = ["import", f"{FIXTURES / 'recurrent.py'}:PackedTagger", "--input-shape", "9", "--input-dtype", "int64"]
    assert run_cli([*argv, "-o", str(out)]) != 0
    printed = "".join(capsys.readouterr())
    assert "recurrent.py line" in printed and "pack_padded_sequence" in printed
    assert "Traceback" not in printed and not out.exists()

    with pytest.raises(ModelImportError) as info:
        dls.import_torch(_ComplexRotary(), [(6, 8)])
    assert "view_as_complex" in str(info.value) and "complex64" in str(info.value)


def test_none_outputs_and_no_grad_regions_are_reported() -> None:
    result = dls.import_torch(_module("inplace_and_none_output"), [(8,)])
    assert result.output_names == ["output"]
    assert any("returns None at output position(s) [1]" in w for w in result.report.warnings)
    embedder = dls.import_torch(_module("normalized_embedder"), [(12,)])
    assert any("torch.no_grad()" in w for w in embedder.report.warnings)
    assert embedder.report.worst_diff <= 1e-5


def test_recurrent_final_state_maps_onto_the_catalog_layer() -> None:
    """`torch.cat((h[-2], h[-1]), 1)` of a 2-layer bidirectional LSTM: the LSTM's h_n port and two Selects, no
    generic ops and no fixed batch."""
    result = dls.import_torch(_module("bilstm_classifier"), [(10,)], dtypes=["int64"])
    types = sorted(n.type for n in result.graph.nodes.values())
    assert "AtenOp" not in types and types.count("Select") == 2 and "LSTM" in types
    assert not any("fixed to batch" in w for w in result.report.warnings)
    model = result.compile().eval()
    x = torch.randint(0, 30, (5, 10))  # another batch size than the example's
    with torch.no_grad():
        assert torch.allclose(model(x), _module("bilstm_classifier").eval()(x), atol=1e-5)
