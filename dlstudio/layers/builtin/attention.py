"""Embedding and attention layers. Sequences are batch first: one sample is (L, embed_dim).

MAC estimates count the matrix products (projections, attention scores, the weighted sum, feed-forward);
softmax, masking, normalization and residual adds are a few operations per element and are left out.
"""

from __future__ import annotations

import random
from typing import Any

from ...core.errors import ShapeError
from ...core.tensor import TensorInfo
from ..registry import register
from ..shape_rules import expect_float, expect_rank, require
from ..spec import LayerSpec, ParamSpec, PortSpec

Y = (PortSpec("y"),)


def _causal_param(what: str) -> ParamSpec:
    return ParamSpec(
        "causal",
        "bool",
        False,
        f"Mask {what} so a position cannot attend to later positions "
        f"(autoregressive models: language models, decoders)",
        torch=False,
    )


def _mask(ctx: Any, query: Any, key: Any = None) -> Any:
    """fx calls building `torch.ones(Lq, Lk, dtype=torch.bool, device=q.device).triu(1)`: True above the diagonal
    means "may not attend", so position i never sees j > i. Sizes are read at run time, as hand-written code does."""
    lq = ctx.call_method("size", (query, 1))
    lk = lq if key is None else ctx.call_method("size", (key, 1))
    device = ctx.call_function(getattr, (query, "device"))
    # torch objects come from the compiler (ctx.resolve): this package never imports torch
    ones = ctx.call_function(
        ctx.resolve("torch.ones"), (lq, lk), {"dtype": ctx.resolve("torch.bool"), "device": device}
    )
    return ctx.call_method("triu", (ones, 1))


def _sequence(t: TensorInfo, layer: str, port: str) -> TensorInfo:
    expect_float(t, layer, port=port)
    expect_rank(t, (3,), layer, "a sequence (L, embed_dim)", port=port)
    return t


def _check_heads(embed_dim: int, heads: int, layer: str, param: str) -> None:
    if embed_dim % heads:
        fits = [h for h in range(1, embed_dim + 1) if embed_dim % h == 0]
        raise ShapeError(
            f"{layer} {param}={heads} does not divide embed_dim={embed_dim} (the input's last "
            f"dimension): pick {param} from {fits} or change the embedding size",
            param=param,
            expected=f"a divisor of {embed_dim}",
            got=heads,
        )


# --------------------------------------------------------------------------------------------- Embedding
def _emb_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = require(inputs, "Embedding", port="x")
    if t.dtype != "int64":
        raise ShapeError(
            f"Embedding looks up integer indices but receives {t.dtype} {t}: set the Input's dtype "
            f"to int64 (token or class ids), or use Linear for real-valued features",
            port="x",
            expected="int64",
            got=t.dtype,
        )
    n, pad = params["num_embeddings"], params["padding_idx"]
    if pad is not None and not -n <= pad < n:
        raise ShapeError(
            f"Embedding padding_idx={pad} is outside the vocabulary of num_embeddings={n}: use a "
            f"value in [0, {n - 1}] or none",
            param="padding_idx",
        )
    return [TensorInfo((*t.shape, params["embedding_dim"]), "float32")]


def _emb_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    n = rng.randint(2, 20)
    pad = rng.choice([None, rng.randint(-n, n - 1)])
    shape = ("N",) + tuple(rng.randint(1, 6) for _ in range(rng.randint(1, 2)))
    return {"num_embeddings": n, "embedding_dim": rng.randint(1, 8), "padding_idx": pad}, [TensorInfo(shape, "int64")]


register(
    LayerSpec(
        type="Embedding",
        category="Embedding & Attention",
        explanation=(
            "A trainable lookup table that turns integer ids (words, tokens, categories) into dense vectors "
            "of size embedding_dim; (L,) ids become (L, embedding_dim). Use it as the first layer of text and "
            "sequence models. Its input must be an int64 Input whose values are below num_embeddings; floats "
            "are refused."
        ),
        inputs=(PortSpec("x", dtype="int", doc="int64 indices in [0, num_embeddings)"),),
        outputs=Y,
        params=(
            ParamSpec("num_embeddings", "int", 1000, "Vocabulary size: ids must be below it", min=1),
            ParamSpec("embedding_dim", "int", 64, "Length of each embedding vector", min=1),
            ParamSpec(
                "padding_idx",
                "int",
                None,
                "Id whose vector stays zero and gets no gradient (padding)",
                nullable=True,
                advanced=True,
            ),
        ),
        shape=_emb_shape,
        param_count=lambda p, i: p["num_embeddings"] * p["embedding_dim"],
        macs=lambda p, i, o: 0,  # a table lookup, no arithmetic
        module="torch.nn.Embedding",
        key_params=("num_embeddings", "embedding_dim"),
        sample=_emb_sample,
    )
)


# ------------------------------------------------------------------------------------ PositionalEncoding
def _pe_shape(params: dict, inputs: list) -> list[TensorInfo]:
    t = _sequence(require(inputs, "PositionalEncoding", port="x"), "PositionalEncoding", "x")
    if int(t.shape[1]) > params["max_len"]:
        raise ShapeError(
            f"PositionalEncoding max_len={params['max_len']} is shorter than the sequence length "
            f"{t.shape[1]}: raise max_len",
            param="max_len",
            port="x",
        )
    return [t]


register(
    LayerSpec(
        type="PositionalEncoding",
        category="Embedding & Attention",
        explanation=(
            "Adds a position signal to every step of a (L, embed_dim) sequence, because attention alone does "
            "not know the order of the tokens. 'sinusoidal' uses the fixed sine/cosine table of the original "
            "Transformer; 'learned' trains one vector per position. Sequences longer than max_len cannot be "
            "encoded, and a learned table does not generalize beyond the lengths seen in training."
        ),
        inputs=(PortSpec("x"),),
        outputs=Y,
        params=(
            ParamSpec(
                "kind",
                "choice",
                "sinusoidal",
                "Fixed sine/cosine table or trainable positions",
                choices=("sinusoidal", "learned"),
            ),
            ParamSpec("max_len", "int", 512, "Longest sequence supported", min=1),
            ParamSpec("dropout", "float", 0.0, "Dropout after the addition", min=0.0, max=1.0, advanced=True),
        ),
        shape=_pe_shape,
        param_count=lambda p, i: p["max_len"] * int(i[0].shape[-1]) if p["kind"] == "learned" else 0,
        macs=lambda p, i, o: o[0].numel_per_sample(),
        module="dlstudio.nn.attention.PositionalEncoding",
        kwargs=lambda p, i: {
            "embed_dim": int(i[0].shape[-1]),
            "max_len": p["max_len"],
            "kind": p["kind"],
            "dropout": p["dropout"],
        },
        key_params=("kind", "max_len"),
        sample=lambda rng: (
            lambda length: (
                {
                    "kind": rng.choice(["sinusoidal", "learned"]),
                    "max_len": rng.randint(length, length + 8),
                    "dropout": 0.0,
                },
                [TensorInfo(("N", length, rng.randint(1, 9)))],
            )
        )(rng.randint(1, 6)),
    )
)


# ------------------------------------------------------------------------------------ MultiheadAttention
def _mha_parts(inputs: list) -> tuple[TensorInfo, TensorInfo, TensorInfo]:
    """query, key, value with the self-attention defaults: key = query, value = key."""
    q = _sequence(require(inputs, "MultiheadAttention", port="query"), "MultiheadAttention", "query")
    k = inputs[1] if len(inputs) > 1 else None
    v = inputs[2] if len(inputs) > 2 else None
    if v is not None and k is None:
        raise ShapeError(
            "MultiheadAttention has a value but no key: wire the key too (or neither for self-attention)", port="key"
        )
    if k is not None:
        _sequence(k, "MultiheadAttention", "key")
    if v is not None:
        _sequence(v, "MultiheadAttention", "value")
    k = k or q
    v = v or k
    return q, k, v


def _mha_shape(params: dict, inputs: list) -> list[TensorInfo]:
    q, k, v = _mha_parts(inputs)
    _check_heads(int(q.shape[-1]), params["num_heads"], "MultiheadAttention", "num_heads")
    if k.shape[1] != v.shape[1]:
        raise ShapeError(
            f"MultiheadAttention key {k} and value {v} need the same sequence length: every key needs a value",
            port="value",
            expected=k.shape[1],
            got=v.shape[1],
        )
    return [q]


def _mha_count(params: dict, inputs: list) -> int:
    q, k, v = _mha_parts(inputs)
    e, kd, vd = int(q.shape[-1]), int(k.shape[-1]), int(v.shape[-1])
    bias = params["bias"]
    # in-projection (packed 3E x E when key/value widths equal embed_dim, else three matrices) + out-projection
    return e * (e + kd + vd) + (3 * e if bias else 0) + e * e + (e if bias else 0)


def _attn_macs(lq: int, lk: int, e: int, kd: int, vd: int) -> int:
    # q/k/v projections + scores (lq x lk x e) + weighted sum (lq x lk x e) + output projection
    return lq * e * e + lk * e * (kd + vd) + 2 * lq * lk * e + lq * e * e


def _mha_macs(params: dict, inputs: list, outputs: list) -> int:
    q, k, v = _mha_parts(inputs)
    return _attn_macs(int(q.shape[1]), int(k.shape[1]), int(q.shape[-1]), int(k.shape[-1]), int(v.shape[-1]))


def _mha_kwargs(params: dict, inputs: list) -> dict[str, Any]:
    q, k, v = _mha_parts(inputs)
    return {
        "embed_dim": int(q.shape[-1]),
        "num_heads": params["num_heads"],
        "dropout": params["dropout"],
        "bias": params["bias"],
        "kdim": int(k.shape[-1]),
        "vdim": int(v.shape[-1]),
        "batch_first": True,
    }


def _mha_emit(ctx: Any, args: list) -> list:
    q = args[0]
    k = args[1] if len(args) > 1 and args[1] is not None else q
    v = args[2] if len(args) > 2 and args[2] is not None else k
    kwargs: dict[str, Any] = {"need_weights": False}
    if ctx.params["causal"]:
        kwargs["attn_mask"] = _mask(ctx, q, None if k is q else k)
    result = ctx.module([q, k, v], kwargs)  # (attn_output, None)
    return [ctx.getitem(result, 0)]


def _mha_sample(rng: random.Random) -> tuple[dict, list]:
    heads = rng.randint(1, 3)
    e = heads * rng.randint(1, 3)
    q = TensorInfo(("N", rng.randint(1, 5), e))
    mode = rng.choice(["self", "kv", "k"])
    if mode == "self":
        return {"num_heads": heads, "bias": rng.random() < 0.8, "causal": rng.random() < 0.5}, [q, None, None]
    s = rng.randint(1, 5)
    k = TensorInfo(("N", s, rng.choice([e, rng.randint(1, 6)])))
    v = TensorInfo(("N", s, rng.choice([e, rng.randint(1, 6)]))) if mode == "kv" else None
    return {"num_heads": heads, "bias": rng.random() < 0.8, "causal": rng.random() < 0.3}, [q, k, v]


register(
    LayerSpec(
        type="MultiheadAttention",
        category="Embedding & Attention",
        explanation=(
            "Scaled dot-product attention with num_heads parallel heads: every query position takes a "
            "weighted average of the values, weighted by how well its query matches each key. With only "
            "query wired it is self-attention (key = value = query); wire key/value for cross-attention. "
            "embed_dim is the query's last dimension and must be divisible by num_heads."
        ),
        inputs=(
            PortSpec("query", doc="(L, embed_dim) per sample"),
            PortSpec("key", optional=True, doc="(S, kdim); defaults to the query (self-attention)"),
            PortSpec("value", optional=True, doc="(S, vdim); defaults to the key"),
        ),
        outputs=Y,
        params=(
            ParamSpec("num_heads", "int", 4, "Number of attention heads (must divide embed_dim)", min=1),
            ParamSpec("dropout", "float", 0.0, "Dropout on the attention weights", min=0.0, max=1.0, advanced=True),
            ParamSpec("bias", "bool", True, "Learn biases in the projections", advanced=True),
            _causal_param("the attention"),
        ),
        shape=_mha_shape,
        param_count=_mha_count,
        macs=_mha_macs,
        module="torch.nn.MultiheadAttention",
        kwargs=_mha_kwargs,
        emit=_mha_emit,
        key_params=("num_heads",),
        sample=_mha_sample,
    )
)


# ----------------------------------------------------------------------------------- Transformer layers
def _tf_params(with_layers: bool = False, masked: str = "self-attention") -> tuple[ParamSpec, ...]:
    ps: tuple[ParamSpec, ...] = (
        ParamSpec(
            "nhead", "int", 4, "Number of attention heads (must divide d_model, the input's last dimension)", min=1
        ),
        ParamSpec("dim_feedforward", "int", 2048, "Width of the feed-forward sublayer", min=1),
        ParamSpec("dropout", "float", 0.1, "Dropout inside the layer", min=0.0, max=1.0),
        ParamSpec("activation", "choice", "relu", "Feed-forward activation", choices=("relu", "gelu")),
        ParamSpec("layer_norm_eps", "float", 1e-5, "LayerNorm epsilon", min=0.0, advanced=True),
        ParamSpec(
            "norm_first",
            "bool",
            False,
            "Pre-norm (LayerNorm before each sublayer): trains more stably when deep",
            advanced=True,
        ),
        ParamSpec("bias", "bool", True, "Learn biases in Linear and LayerNorm", advanced=True),
        _causal_param(masked),
    )
    if with_layers:
        ps = (
            (ParamSpec("num_layers", "int", 2, "Number of stacked encoder layers", min=1, torch=False),)
            + ps
            + (
                ParamSpec(
                    "final_norm",
                    "bool",
                    False,
                    "A LayerNorm after the last layer (usual with norm_first)",
                    advanced=True,
                    torch=False,
                ),
            )
        )
    return ps


def _tf_layer_kwargs(params: dict, inputs: list) -> dict[str, Any]:
    return {
        "d_model": int(inputs[0].shape[-1]),
        "nhead": params["nhead"],
        "dim_feedforward": params["dim_feedforward"],
        "dropout": params["dropout"],
        "activation": params["activation"],
        "layer_norm_eps": params["layer_norm_eps"],
        "batch_first": True,
        "norm_first": params["norm_first"],
        "bias": params["bias"],
    }


def _tf_emit(mask_kwarg: str):
    """Call the module; with causal=True pass a causal mask for the (target) self-attention."""

    def emit(ctx: Any, args: list) -> list:
        kwargs = {mask_kwarg: _mask(ctx, args[0])} if ctx.params["causal"] else {}
        return [ctx.module([a for a in args if a is not None], kwargs)]

    return emit


def _norm_count(e: int, bias: bool) -> int:
    return e * (2 if bias else 1)


def _attn_count(e: int, bias: bool) -> int:
    return 4 * e * e + (4 * e if bias else 0)


def _ff_count(e: int, f: int, bias: bool) -> int:
    return 2 * e * f + ((e + f) if bias else 0)


def _enc_shape(layer: str):
    def rule(params: dict, inputs: list) -> list[TensorInfo]:
        t = _sequence(require(inputs, layer, port="src"), layer, "src")
        _check_heads(int(t.shape[-1]), params["nhead"], layer, "nhead")
        return [t]

    return rule


def _enc_layer_count(params: dict, inputs: list) -> int:
    e, b = int(inputs[0].shape[-1]), params["bias"]
    return _attn_count(e, b) + _ff_count(e, params["dim_feedforward"], b) + 2 * _norm_count(e, b)


def _enc_layer_macs(params: dict, inputs: list, outputs: list) -> int:
    length, e = int(inputs[0].shape[1]), int(inputs[0].shape[-1])
    return _attn_macs(length, length, e, e, e) + 2 * length * e * params["dim_feedforward"]


def _tf_sample(with_layers: bool = False):
    def sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
        heads = rng.randint(1, 3)
        e = heads * rng.randint(1, 3)
        p: dict[str, Any] = {
            "nhead": heads,
            "dim_feedforward": rng.randint(1, 16),
            "dropout": 0.1,
            "activation": rng.choice(["relu", "gelu"]),
            "norm_first": rng.random() < 0.5,
            "bias": rng.random() < 0.8,
            "causal": rng.random() < 0.4,
        }
        if with_layers:
            p["num_layers"] = rng.randint(1, 3)
            p["final_norm"] = rng.random() < 0.5
        return p, [TensorInfo(("N", rng.randint(1, 5), e))]

    return sample


register(
    LayerSpec(
        type="TransformerEncoderLayer",
        category="Embedding & Attention",
        explanation=(
            "One Transformer encoder layer: self-attention followed by a two-layer feed-forward network, each "
            "with a residual connection and LayerNorm; the output has the input's (L, d_model) shape. Stack "
            "it (or use TransformerEncoder) after Embedding + PositionalEncoding for sequence classifiers. "
            "d_model comes from the input and must be divisible by nhead."
        ),
        inputs=(PortSpec("src", doc="(L, d_model) per sample"),),
        outputs=Y,
        params=_tf_params(),
        shape=_enc_shape("TransformerEncoderLayer"),
        param_count=_enc_layer_count,
        macs=_enc_layer_macs,
        module="torch.nn.TransformerEncoderLayer",
        kwargs=_tf_layer_kwargs,
        emit=_tf_emit("src_mask"),
        key_params=("nhead", "dim_feedforward"),
        sample=_tf_sample(),
    )
)


def _stack_count(params: dict, inputs: list) -> int:
    e = int(inputs[0].shape[-1])
    final = _norm_count(e, params["bias"]) if params["final_norm"] else 0
    return params["num_layers"] * _enc_layer_count(params, inputs) + final


def _stack_emit(ctx: Any, args: list) -> list:
    layer_norm, encoder_layer, stack = (
        ctx.resolve(f"torch.nn.{name}") for name in ("LayerNorm", "TransformerEncoderLayer", "TransformerEncoder")
    )
    kw = _tf_layer_kwargs(ctx.params, ctx.inputs)
    norm = layer_norm(kw["d_model"], eps=kw["layer_norm_eps"], bias=kw["bias"]) if ctx.params["final_norm"] else None
    # nested tensors only speed up padded batches and warn in several configurations: keep them off
    encoder = stack(encoder_layer(**kw), ctx.params["num_layers"], norm=norm, enable_nested_tensor=False)
    kwargs = {"mask": _mask(ctx, args[0])} if ctx.params["causal"] else {}
    return [ctx.call_module(encoder, [args[0]], kwargs)]


register(
    LayerSpec(
        type="TransformerEncoder",
        category="Embedding & Attention",
        explanation=(
            "A stack of num_layers identical TransformerEncoderLayers (each with its own weights), the body "
            "of BERT-style encoders and Transformer classifiers. Feed it embedded, position-encoded tokens "
            "and pool or select a step for the head. Parameters grow with num_layers x d_model^2, so start "
            "small on small datasets."
        ),
        inputs=(PortSpec("src", doc="(L, d_model) per sample"),),
        outputs=Y,
        params=_tf_params(with_layers=True),
        shape=_enc_shape("TransformerEncoder"),
        param_count=_stack_count,
        macs=lambda p, i, o: p["num_layers"] * _enc_layer_macs(p, i, o),
        module="torch.nn.TransformerEncoder",
        emit=_stack_emit,
        key_params=("num_layers", "nhead", "dim_feedforward"),
        sample=_tf_sample(with_layers=True),
    )
)


def _dec_shape(params: dict, inputs: list) -> list[TensorInfo]:
    layer = "TransformerDecoderLayer"
    t = _sequence(require(inputs, layer, port="tgt"), layer, "tgt")
    m = _sequence(require(inputs, layer, 1, port="memory"), layer, "memory")
    _check_heads(int(t.shape[-1]), params["nhead"], layer, "nhead")
    if m.shape[-1] != t.shape[-1]:
        raise ShapeError(
            f"{layer} memory {m} must have the same last dimension (d_model) as tgt {t}: project the "
            f"encoder output with a Linear to {t.shape[-1]}",
            port="memory",
            expected=t.shape[-1],
            got=m.shape[-1],
        )
    return [t]


def _dec_count(params: dict, inputs: list) -> int:
    e, b = int(inputs[0].shape[-1]), params["bias"]
    return 2 * _attn_count(e, b) + _ff_count(e, params["dim_feedforward"], b) + 3 * _norm_count(e, b)


def _dec_macs(params: dict, inputs: list, outputs: list) -> int:
    t, s, e = int(inputs[0].shape[1]), int(inputs[1].shape[1]), int(inputs[0].shape[-1])
    return _attn_macs(t, t, e, e, e) + _attn_macs(t, s, e, e, e) + 2 * t * e * params["dim_feedforward"]


def _dec_sample(rng: random.Random) -> tuple[dict, list[TensorInfo]]:
    p, (t,) = _tf_sample()(rng)
    return p, [t, TensorInfo(("N", rng.randint(1, 5), t.shape[-1]))]


register(
    LayerSpec(
        type="TransformerDecoderLayer",
        category="Embedding & Attention",
        explanation=(
            "One Transformer decoder layer: self-attention over the target sequence tgt, cross-attention to "
            "the encoder output memory, then a feed-forward network, each with residual + LayerNorm. Use it "
            "for sequence-to-sequence models (translation, captioning). memory must have the same d_model "
            "as tgt, and training a decoder needs causal=True, or each position sees the later tokens it "
            "should predict."
        ),
        inputs=(PortSpec("tgt", doc="(T, d_model) per sample"), PortSpec("memory", doc="(S, d_model) per sample")),
        outputs=Y,
        params=_tf_params(masked="the target self-attention"),
        shape=_dec_shape,
        param_count=_dec_count,
        macs=_dec_macs,
        module="torch.nn.TransformerDecoderLayer",
        kwargs=_tf_layer_kwargs,
        emit=_tf_emit("tgt_mask"),
        key_params=("nhead", "dim_feedforward"),
        sample=_dec_sample,
    )
)
