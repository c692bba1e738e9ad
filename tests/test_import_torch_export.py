"""torch.export import: several and integer inputs, .pt2 programs, generic AtenOp nodes (shapes re-derived when
their inputs change, saved and loaded, trained), and errors a user can act on."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dlstudio as dls
from dlstudio.analysis.shapes import infer_all
from dlstudio.cli import run_cli
from dlstudio.core.errors import ModelImportError
from dlstudio.layers import get_spec

TWO_INPUTS = """
import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, vocab=20, width=8):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.conv = nn.Conv2d(1, width, 3, padding=1)
        self.head = nn.Linear(2 * width, 3)

    def forward(self, image, tokens):
        pooled = self.conv(image).mean(dim=(2, 3))
        words = self.embed(tokens).sum(dim=1)
        return self.head(torch.cat([pooled, words], dim=1))
"""


class Cumulative(nn.Module):
    """Ops without catalog layers (cumsum, erf, a learned matrix used directly in forward)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.proj = nn.Parameter(torch.linspace(0.5, 1.5, 24).reshape(6, 4))

    def forward(self, x):
        return torch.erf(torch.cumsum(self.fc(x), dim=1)) @ self.proj


def test_several_inputs_with_an_integer_one(tmp_path: Path, capsys) -> None:
    src = tmp_path / "tagger.py"
    src.write_text(TWO_INPUTS)
    out = tmp_path / "tagger.dlstudio"
    argv = ["import", f"{src}:Tagger", "--input-shape", "1,8,8", "--input-shape", "5", "-o", str(out)]
    assert run_cli([*argv, "--input-dtype", "float32", "--input-dtype", "int64"]) == 0, capsys.readouterr().err
    project = dls.Project.load(out)
    inputs = {n.label: n.params for n in project.graph.nodes_of_type("Input")}
    assert inputs["image"]["dtype"] == "float32" and tuple(inputs["image"]["shape"]) == (1, 8, 8)
    assert inputs["tokens"]["dtype"] == "int64" and tuple(inputs["tokens"]["shape"]) == (5,)
    types = {n.type for n in project.graph.nodes.values()}
    assert {"Embedding", "Conv2d", "Linear", "Concat"} <= types


def test_constructor_arguments_and_their_errors(tmp_path: Path, capsys) -> None:
    src = Path(__file__).parent / "fixtures" / "torch_models" / "fast_neural_style.py"
    out = tmp_path / "sr.dlstudio"
    base = ["import", f"{src}:SuperResolutionNet", "--input-shape", "1,8,8", "-o", str(out)]
    assert run_cli(base) == 2  # upscale_factor is required
    assert "--init" in capsys.readouterr().err and not out.exists()
    assert run_cli([*base, "--init", "{upscale_factor: 3}"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert run_cli([*base, "--init", json.dumps({"upscale_factor": 3})]) == 0
    project = dls.Project.load(out)
    (shuffle,) = [n for n in project.graph.nodes.values() if n.type == "PixelShuffle"]
    assert shuffle.params["upscale_factor"] == 3


def test_wrong_input_shape_says_which_line_failed(tmp_path: Path, capsys) -> None:
    src = tmp_path / "tagger.py"
    src.write_text(TWO_INPUTS)
    out = tmp_path / "t.dlstudio"
    code = run_cli(["import", f"{src}:Tagger", "--input-shape", "3,8,8", "--input-shape", "5", "-o", str(out)])
    err = capsys.readouterr().err
    assert code != 0 and not out.exists() and "Traceback" not in err
    assert "forward fails on the example input at tagger.py line 14" in err and "--input-shape" in err


def test_saved_exported_program_imports(tmp_path: Path, capsys) -> None:
    module = Cumulative().eval()
    x = torch.randn(2, 6)
    program = torch.export.export(module, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    path = tmp_path / "cumulative.pt2"
    torch.export.save(program, path)
    out = tmp_path / "c.dlstudio"
    assert run_cli(["import", str(path), "-o", str(out)]) == 0, capsys.readouterr().err
    assert "max |diff| output: 0" in capsys.readouterr().out
    project = dls.Project.load(out)
    model = dls.compile(project.graph, weights=project.weights_path).eval()
    xb = torch.randn(5, 6)
    with torch.no_grad():
        assert torch.allclose(model(xb), module(xb), atol=1e-5)
    bad = tmp_path / "broken.pt2"
    bad.write_bytes(path.read_bytes()[:100])
    assert run_cli(["import", str(bad), "-o", str(tmp_path / "b.dlstudio")]) == 2
    assert "not a torch.export program" in capsys.readouterr().err


def test_generic_ops_are_badged_trained_saved_and_reshaped(tmp_path: Path) -> None:
    result = dls.import_torch(Cumulative(), [(6,)])
    generic = [n for n in result.graph.nodes.values() if n.type == "AtenOp"]
    assert sorted(n.params["op"] for n in generic) == ["aten.cumsum.default", "aten.erf.default", "aten.matmul.default"]
    spec = get_spec("AtenOp")
    assert "imported" in spec.tags and "shape_oracle" in spec.tags and spec.key_params == ("op",)
    # the learned matrix stays a trainable parameter of the generic op
    target = dls.save_import(result, tmp_path / "c.dlstudio")
    project = dls.Project.load(target)
    model = dls.compile(project.graph, weights=project.weights_path).train()
    (matmul,) = [n for n in project.graph.nodes.values() if n.params.get("op") == "aten.matmul.default"]
    scale = model.get_submodule(model.node_paths[matmul.id]).c1
    assert scale.requires_grad and torch.allclose(scale, torch.linspace(0.5, 1.5, 24).reshape(6, 4))
    model(torch.randn(4, 6)).sum().backward()
    assert scale.grad is not None and scale.grad.abs().sum() > 0
    # a new input width: the recorded shapes no longer apply and the torch shape oracle re-derives them
    (inp,) = project.graph.nodes_of_type("Input")
    (linear,) = [n for n in project.graph.nodes.values() if n.type == "Linear"]
    project.graph._set_param(inp.id, "shape", (9,))
    shapes = infer_all(project.graph)
    assert not shapes.errors, shapes.errors
    cumsum = next(n for n in generic if n.params["op"] == "aten.cumsum.default")
    assert shapes.outputs[cumsum.id][0].shape == ("N", 6)
    assert shapes.inputs[linear.id][0].shape == ("N", 9)


def test_sequence_first_transformer_with_a_generated_mask_maps_onto_the_catalog_layer() -> None:
    """nn.TransformerEncoder compares its mask's values (torch.export cannot trace that): it is exported as one
    opaque call, becomes the catalog TransformerEncoder with causal=True, and its sequence-first layout is
    turned batch first around it."""
    from tests.fixtures.torch_models.word_language_model import TransformerModel

    torch.manual_seed(0)
    module = TransformerModel()
    result = dls.import_torch(module, [(4,)], dtypes=["int64"])
    (enc,) = [n for n in result.graph.nodes.values() if n.type == "TransformerEncoder"]
    assert enc.params["causal"] and enc.params["num_layers"] == 2 and enc.params["nhead"] == 2
    transposes = [n for n in result.graph.nodes.values() if n.params.get("op") == "aten.transpose.int"]
    assert len(transposes) == 2  # (L, N, E) -> (N, L, E) before, and back after
    ends = {result.graph.in_edges(enc.id)[0].src, result.graph.out_edges(enc.id)[0].dst}
    assert ends == {t.id for t in transposes}
    assert result.report.worst_diff <= 1e-5
    checks = " ".join(result.report.checks)
    assert "not traced into" in checks and "transformer_encoder" in checks and "sequence-first" in checks
    # the weights are the module's own
    got = result.weights[f"{enc.id}.layers.0.linear1.weight"]
    assert torch.equal(got, module.transformer_encoder.layers[0].linear1.weight.detach())


class MaskedEncoder(nn.Module):
    """A sequence-first encoder given a constant mask that is not causal: the catalog layer cannot take it."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, 0.0), 1, enable_nested_tensor=False)
        self.register_buffer("allowed", torch.tensor([[0.0, -1e9, 0.0], [0.0, 0.0, 0.0], [-1e9, 0.0, 0.0]]))

    def forward(self, x):
        return self.enc(x, mask=self.allowed)


def test_a_mask_the_catalog_layer_cannot_take_is_refused_by_name() -> None:
    with pytest.raises(ModelImportError) as info:
        dls.import_torch(MaskedEncoder(), [(4, 8)], batch=3)
    text = str(info.value)
    assert "TransformerEncoder `enc`" in text and "shape (3, 3)" in text and "causal" in text
    assert "Traceback" not in text


class SequenceFirstRecurrent(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.rnn = getattr(nn, kind)(8, 16, 2)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.out(y)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_sequence_first_recurrent_layers_map_onto_the_batch_first_layer(kind: str) -> None:
    result = dls.import_torch(SequenceFirstRecurrent(kind), [(4, 8)])
    types = [n.type for n in result.graph.nodes.values()]
    assert types.count(kind) == 1 and types.count("AtenOp") == 2, types
    (rnn,) = [n for n in result.graph.nodes.values() if n.type == kind]
    assert rnn.params["num_layers"] == 2 and rnn.params["hidden_size"] == 16
    assert result.report.worst_diff <= 1e-5


class Functional(nn.Module):
    """Layers written as functional calls on parameters: each maps to its catalog layer, weights included."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3, 3, 3) * 0.1)
        self.b = nn.Parameter(torch.zeros(8))
        self.tw = nn.Parameter(torch.randn(2, 4, 2, 2) * 0.1)
        self.ln_w = nn.Parameter(torch.ones(4))
        self.ln_b = nn.Parameter(torch.zeros(4))
        self.fc = nn.Parameter(torch.randn(5, 4) * 0.1)

    def forward(self, x):
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        x = F.elu(F.conv2d(x, self.w, self.b), alpha=0.5)
        x = F.conv_transpose2d(F.pixel_shuffle(x, 2), self.tw, stride=2)
        x = F.softplus(F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2))
        x = F.layer_norm(x.mean(dim=(2, 3)).view(-1, 1, 4), (4,), self.ln_w, self.ln_b)
        return F.linear(x, self.fc)


def test_functional_calls_map_to_catalog_layers() -> None:
    result = dls.import_torch(Functional(), [(3, 8, 8)])
    types = Counter(n.type for n in result.graph.nodes.values())
    assert "AtenOp" not in types, dict(types)
    expected = {"ReflectionPad2d", "Conv2d", "ELU", "PixelShuffle", "ConvTranspose2d", "ZeroPad2d", "MaxPool2d"}
    assert expected | {"Softplus", "GlobalAvgPool", "LayerNorm", "Linear"} <= set(types)
    assert result.report.worst_diff <= 1e-5


class InPlace(nn.Module):
    """In-place updates, one of them seen through a view taken before it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        h = self.fc(x)
        v = h.view(-1, 3, 2)
        h.add_(1.0)
        h.relu_()
        return v.sum(dim=2) + h[:, :3]


def test_in_place_operators_become_new_values() -> None:
    result = dls.import_torch(InPlace(), [(6,)])
    ops = {n.params["op"] for n in result.graph.nodes.values() if n.type == "AtenOp"}
    assert not any(op.split(".")[1].endswith("_") for op in ops), ops  # no in-place op is kept
    assert result.report.worst_diff <= 1e-6
    model = result.compile().train()
    model(torch.randn(3, 6)).sum().backward()  # trains: no autograd error from a mutation


class CausalAttention(nn.Module):
    """A causal mask made in forward (float -inf above the diagonal) or promised with is_causal=True."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        layer = nn.TransformerEncoderLayer(16, 2, 32, 0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        y, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        return self.enc(y, mask=mask, is_causal=True)


def test_causal_masks_become_the_layers_causal_parameter() -> None:
    result = dls.import_torch(CausalAttention(), [(6, 16)])
    layers = {n.type: n.params for n in result.graph.nodes.values()}
    assert set(layers) == {"Input", "MultiheadAttention", "TransformerEncoder", "Output"}
    assert layers["MultiheadAttention"]["causal"] and layers["TransformerEncoder"]["causal"]
    assert result.report.worst_diff <= 1e-5


def test_language_model_called_with_its_hidden_state(tmp_path: Path, capsys) -> None:
    """forward(input, hidden) with both given: (seq, batch) token ids and (layers, batch, hidden) floats."""
    src = Path(__file__).parent / "fixtures" / "torch_models" / "word_language_model.py"
    out = tmp_path / "lm.dlstudio"
    argv = ["import", f"{src}:GRUModel", "--input-shape", "4", "--input-shape", "4,24", "-o", str(out)]
    assert run_cli([*argv, "--input-dtype", "int64", "--input-dtype", "float32"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "`if hidden is None:` took no branch" in printed and "max |diff| output_1: 0" in printed
    project = dls.Project.load(out)
    assert [n.label for n in project.graph.nodes_of_type("Input")] == ["input", "hidden"]
    assert len(project.graph.nodes_of_type("Output")) == 2  # log-probabilities and the new hidden state


class BatchFirstMaskedEncoder(nn.Module):
    """A batch-first encoder given its causal mask without is_causal: traced, its mask check fails."""

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, 32, 0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.enc(x, mask=nn.Transformer.generate_square_subsequent_mask(x.size(1))))


def test_an_opaque_module_call_keeps_the_batch_symbolic() -> None:
    result = dls.import_torch(BatchFirstMaskedEncoder(), [(6, 16)], batch=3)
    assert [n.type for n in result.graph.nodes.values()] == ["Input", "TransformerEncoder", "Linear", "Output"]
    assert not any("fixed to batch" in w for w in result.report.warnings), result.report.warnings
    assert any("not traced into" in c and "enc" in c for c in result.report.checks)
    assert result.report.worst_diff <= 1e-5
    assert result.compile()(torch.randn(5, 6, 16)).shape == (5, 6, 4)  # another batch size


class FullTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.t = nn.Transformer(16, 2, 1, 1, 32, 0.0)

    def forward(self, src, tgt):
        return self.t(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(tgt.size(0)))


def test_a_failure_inside_a_module_without_catalog_layer_names_it() -> None:
    with pytest.raises(ModelImportError) as info:
        dls.import_torch(FullTransformer(), [(3, 16), (3, 16)])
    text = str(info.value)
    assert "data-dependent control flow" in text and "inside TransformerDecoder `t.decoder`" in text
