"""Small models in the style of public ONNX files (model-zoo CNNs, transformers, recurrent classifiers,
detection and super-resolution heads), written here, and the ways they are turned into ONNX files:

- torch.onnx's TorchScript exporter (`dynamo=False`) at opsets 11, 13 and 17, with a dynamic batch;
- torch.onnx's dynamo exporter (`dynamo=True`, opset 18+, module paths in node metadata);
- graphs written with onnx.helper for styles torch does not write (tf2onnx-like NHWC with Identity chains, old
  exporters listing initializers as inputs, If with a constant condition, external data, assorted ops).

`build(name, exporter, folder)` writes one file and returns (path, sample inputs as numpy arrays).
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# --------------------------------------------------------------------------------------------- CNNs


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: type = nn.ReLU6) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act()
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            _conv_bn(cin, hidden, 1),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    sample = (3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn(3, 8, 3, 2),
            InvertedResidual(8, 8, 1, 1),
            InvertedResidual(8, 12, 2, 4),
            InvertedResidual(12, 12, 1, 4),
            InvertedResidual(12, 16, 2, 4),
            _conv_bn(16, 32, 1),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).reshape(x.shape[0], -1)  # the Shape->Gather->Reshape of torchvision
        return self.classifier(x)


class SqueezeExcite(nn.Module):
    def __init__(self, ch: int, squeezed: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.silu(self.fc1(s))))


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        hidden = cin * 4
        self.expand = _conv_bn(cin, hidden, 1, act=nn.SiLU)
        self.depthwise = _conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.SiLU)
        self.se = SqueezeExcite(hidden, max(2, cin // 4))
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return x + y if self.residual else y


class EfficientNetStyle(nn.Module):
    sample = (3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv_bn(3, 8, 3, 2, act=nn.SiLU)
        self.blocks = nn.Sequential(MBConv(8, 8, 1), MBConv(8, 16, 2), MBConv(16, 16, 1))
        self.head = _conv_bn(16, 32, 1, act=nn.Hardswish)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class UNet(nn.Module):
    sample = (3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.mid = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec2 = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.ReLU())
        self.dec1 = nn.Sequential(nn.Conv2d(16 + 8, 8, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        up = F.interpolate(d2, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.out(self.dec1(torch.cat([up, e1], 1)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.down(x))


class ResNetDynamicBatch(nn.Module):
    sample = (3, 32, 32)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 8, 1))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2), BasicBlock(16, 16, 1))
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.pool(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


class SuperResolution(nn.Module):
    """The PyTorch super-resolution example: convolutions, then PixelShuffle (DepthToSpace)."""

    sample = (1, 16, 16)

    def __init__(self, upscale: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, upscale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv3(torch.relu(self.conv2(torch.relu(self.conv1(x))))))


class YoloStyle(nn.Module):
    """A two-scale detection head: a nearest upsample and a concat in the neck; the decode splits the box
    outputs, applies sigmoid, scales xy/wh with grids and anchors and concatenates both scales."""

    sample = (3, 32, 32)
    classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.c1 = _conv_bn(3, 8, 3, 2, act=nn.SiLU)
        self.c2 = _conv_bn(8, 16, 3, 2, act=nn.SiLU)
        self.c3 = _conv_bn(16, 16, 3, 2, act=nn.SiLU)
        self.lateral = _conv_bn(16 + 16, 16, 1, act=nn.SiLU)
        outs = 2 * (5 + self.classes)
        self.head_small = nn.Conv2d(16, outs, 1)
        self.head_large = nn.Conv2d(16, outs, 1)
        self.register_buffer("anchors", torch.tensor([[1.0, 1.5], [2.0, 1.0]]))

    def _decode(self, p: torch.Tensor, stride: float) -> torch.Tensor:
        b, _, h, w = p.shape
        p = p.view(b, 2, 5 + self.classes, h, w).permute(0, 1, 3, 4, 2).sigmoid()
        xy, wh, conf = p.split((2, 2, 1 + self.classes), dim=4)
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
        )
        grid = torch.stack((xs, ys), 2).view(1, 1, h, w, 2)
        xy = (xy * 2 - 0.5 + grid) * stride
        wh = (wh * 2) ** 2 * self.anchors.view(1, 2, 1, 1, 2)
        return torch.cat((xy, wh, conf), 4).reshape(b, -1, 5 + self.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f2 = self.c2(self.c1(x))
        f3 = self.c3(f2)
        up = F.interpolate(f3, scale_factor=2, mode="nearest")
        n = self.lateral(torch.cat([up, f2], 1))
        return torch.cat([self._decode(self.head_small(n), 4.0), self._decode(self.head_large(f3), 8.0)], 1)


# ------------------------------------------------------------------------------------------- transformers


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, causal: bool = False, context: int = 16) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.causal = causal
        if causal:
            self.register_buffer("bias", torch.tril(torch.ones(context, context)).view(1, 1, context, context))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.qkv(x).split(c, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if self.causal:
            att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        if mask is not None:
            att = torch.where(mask[:, None, None, :] > 0, att, torch.full_like(att, -1e4))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.proj(y)


class DecomposedLayerNorm(nn.Module):
    """The layer norm some BERT ports write by hand (ReduceMean, Sub, Pow, Sqrt, Div in ONNX)."""

    def __init__(self, dim: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.mean(-1, keepdim=True)
        s = (x - u).pow(2).mean(-1, keepdim=True)
        return self.weight * ((x - u) / torch.sqrt(s + self.eps)) + self.bias


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, causal: bool = False, decomposed_norm: bool = False, gelu: str = "none"):
        super().__init__()
        norm = DecomposedLayerNorm if decomposed_norm else nn.LayerNorm
        self.ln1 = norm(dim)
        self.attn = SelfAttention(dim, heads, causal)
        self.ln2 = norm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate=gelu), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    sample = (3, 16, 16)

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, 4)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
        self.blocks = nn.Sequential(TransformerBlock(dim, 4), TransformerBlock(dim, 4))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class BertStyle(nn.Module):
    """Token ids and an attention mask in; word + position + token-type embeddings, encoder layers with a
    hand-written layer norm, erf GELU and a Where mask; a tanh pooler and a classifier out."""

    vocab, seq = 50, 8

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.word = nn.Embedding(self.vocab, dim)
        self.position = nn.Embedding(self.seq, dim)
        self.token_type = nn.Embedding(2, dim)
        self.emb_norm = DecomposedLayerNorm(dim)
        self.layers = nn.ModuleList([TransformerBlock(dim, 4, decomposed_norm=True) for _ in range(2)])
        self.pooler = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, 2)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.size(1), device=ids.device).unsqueeze(0)
        x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))
        x = self.emb_norm(x)
        for layer in self.layers:
            x = layer(x, mask)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))


class GPTStyle(nn.Module):
    vocab, seq = 50, 8

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.wte = nn.Embedding(self.vocab, dim)
        self.wpe = nn.Embedding(16, dim)
        self.h = nn.Sequential(TransformerBlock(dim, 4, causal=True, gelu="tanh"))
        self.ln_f = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, self.vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(0, ids.size(1), dtype=torch.long).unsqueeze(0)
        x = self.wte(ids) + self.wpe(pos)
        return self.lm_head(self.ln_f(self.h(x)))


# ------------------------------------------------------------------------------------------------ recurrent


class LSTMClassifier(nn.Module):
    sample = (12, 6)

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.fc(out[:, -1, :])


class GRUClassifier(nn.Module):
    sample = (12, 6)

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(6, 16, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.gru(x)
        return self.fc(torch.cat([h[0], h[1]], 1))


def _ids(cls: type, batch: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, cls.vocab, (batch, cls.seq)).astype(np.int64)


def _float(shape: tuple[int, ...]) -> Callable[[int, np.random.Generator], list[np.ndarray]]:
    return lambda batch, rng: [rng.standard_normal((batch, *shape)).astype(np.float32)]


def _bert_inputs(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    mask = np.ones((batch, BertStyle.seq), dtype=np.int64)
    mask[:, -2:] = 0
    return [_ids(BertStyle, batch, rng), mask]


# name -> (module class, input names, sample maker(batch, rng))
TORCH_MODELS: dict[str, tuple[type, list[str], Callable[[int, np.random.Generator], list[np.ndarray]]]] = {
    "mobilenetv2": (MobileNetV2, ["x"], _float(MobileNetV2.sample)),
    "efficientnet": (EfficientNetStyle, ["x"], _float(EfficientNetStyle.sample)),
    "unet": (UNet, ["x"], _float(UNet.sample)),
    "resnet": (ResNetDynamicBatch, ["x"], _float(ResNetDynamicBatch.sample)),
    "superres": (SuperResolution, ["x"], _float(SuperResolution.sample)),
    "yolo": (YoloStyle, ["x"], _float(YoloStyle.sample)),
    "vit": (ViT, ["x"], _float(ViT.sample)),
    "bert": (BertStyle, ["ids", "mask"], _bert_inputs),
    "gpt": (GPTStyle, ["ids"], lambda batch, rng: [_ids(GPTStyle, batch, rng)]),
    "lstm": (LSTMClassifier, ["x"], _float(LSTMClassifier.sample)),
    "gru": (GRUClassifier, ["x"], _float(GRUClassifier.sample)),
}
TORCH_EXPORTERS = ["ts11", "ts13", "ts17", "dynamo"]
EXTRA_EXPORTERS = ["ts9", "ts10", "ts14", "dynamo20", "dynamo23", "fixed1"]


def export_torch(name: str, exporter: str, path: Path) -> list[np.ndarray]:
    """Write model `name` with `exporter` to `path`: "ts<opset>" (TorchScript exporter, dynamic batch), "fixed1"
    (TorchScript at opset 13 with the batch fixed at 1, as model-zoo files are), "dynamo" or "dynamo<opset>"
    (dynamic batch). Returns a sample batch of 2."""
    cls, names, make = TORCH_MODELS[name]
    torch.manual_seed(0)
    module = cls().eval()
    rng = np.random.default_rng(0)
    example = tuple(torch.from_numpy(a) for a in make(1 if exporter == "fixed1" else 2, rng))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter.startswith("ts") or exporter == "fixed1":
            buf = io.BytesIO()
            dynamic = {**{n: {0: "batch"} for n in names}, "y": {0: "batch"}}
            torch.onnx.export(
                module,
                example,
                buf,
                input_names=names,
                output_names=["y"],
                dynamic_axes=None if exporter == "fixed1" else dynamic,
                opset_version=13 if exporter == "fixed1" else int(exporter[2:]),
                dynamo=False,
            )
            path.write_bytes(buf.getvalue())
        else:
            logging.disable(logging.WARNING)
            try:
                batch = torch.export.Dim("batch", min=1, max=64)
                shapes = tuple({0: batch} for _ in names)
                opset = int(exporter[6:]) if exporter[6:] else None
                program = torch.onnx.export(
                    module,
                    example,
                    input_names=names,
                    output_names=["y"],
                    dynamic_shapes=shapes,
                    opset_version=opset,
                    dynamo=True,
                    verbose=False,
                )
            finally:
                logging.disable(logging.NOTSET)
            program.save(str(path))
    return make(2, np.random.default_rng(1))


# -------------------------------------------------------------------- more styles (torch's own layers, HF masks)


class TorchTransformerClassifier(nn.Module):
    """torch's own nn.TransformerEncoder (fused multi-head attention) over a feature sequence."""

    sample = (10, 16)

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(1))


class SdpaGPT(nn.Module):
    """Attention through F.scaled_dot_product_attention with is_causal, RMS-style norm, SiLU-gated MLP."""

    vocab, seq = 40, 8

    def __init__(self, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(self.vocab, dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.norm = nn.Parameter(torch.ones(dim))
        self.gate = nn.Linear(dim, 2 * dim, bias=False)
        self.up = nn.Linear(dim, 2 * dim, bias=False)
        self.down = nn.Linear(2 * dim, dim, bias=False)
        self.lm = nn.Linear(dim, self.vocab, bias=False)

    def _rms(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.norm

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        b, t, c = x.shape
        q, k, v = self.qkv(self._rms(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(y.transpose(1, 2).reshape(b, t, c))
        h = self._rms(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        return self.lm(x)


class HFBertMask(nn.Module):
    """The Hugging Face BERT mask: (1 - mask[:, None, None, :].float()) * -10000 added to the scores."""

    vocab, seq = 50, 8

    def __init__(self, dim: int = 32) -> None:
        super().__init__()
        self.word = nn.Embedding(self.vocab, dim)
        self.position = nn.Parameter(torch.randn(1, self.seq, dim) * 0.02)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.cls = nn.Linear(dim, 2)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.word(ids) + self.position[:, : ids.shape[1]])
        b, t, c = x.shape
        heads = 2
        q = self.q(x).view(b, t, heads, c // heads).permute(0, 2, 1, 3)
        k = self.k(x).view(b, t, heads, c // heads).permute(0, 2, 3, 1)
        v = self.v(x).view(b, t, heads, c // heads).permute(0, 2, 1, 3)
        ext = (1.0 - mask[:, None, None, :].to(torch.float32)) * -10000.0
        scores = torch.matmul(q, k) / math.sqrt(c // heads) + ext
        y = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).reshape(b, t, c)
        return self.cls(y[:, 0])


def _hf_inputs(batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    mask = np.ones((batch, HFBertMask.seq), dtype=np.int64)
    mask[:, -3:] = 0
    return [_ids(HFBertMask, batch, rng), mask]


TORCH_MODELS.update(
    {
        "torch_transformer": (TorchTransformerClassifier, ["x"], _float(TorchTransformerClassifier.sample)),
        "sdpa_gpt": (SdpaGPT, ["ids"], lambda batch, rng: [_ids(SdpaGPT, batch, rng)]),
        "hf_bert_mask": (HFBertMask, ["ids", "mask"], _hf_inputs),
    }
)

# (model, exporter) pairs the tests run: every model at the four main settings (torch.onnx cannot write
# scaled_dot_product_attention below opset 14, so those two models use 14 instead of 11 and 13), plus opset 23
# (Attention, RMSNormalization ops) and model-zoo-style fixed-batch files for the transformers and the ResNet
_SDPA = {"torch_transformer", "sdpa_gpt"}
CASES: list[tuple[str, str]] = (
    [
        (name, exporter)
        for name in TORCH_MODELS
        for exporter in (["ts14", "ts17", "dynamo"] if name in _SDPA else TORCH_EXPORTERS)
    ]
    + [(name, "dynamo23") for name in ("sdpa_gpt", "torch_transformer", "vit")]
    + [(name, "fixed1") for name in ("vit", "bert", "gpt", "resnet", "hf_bert_mask")]
)
