#!/usr/bin/env python3
"""Generate deterministic ONNX image encoders for imbed's tests and benchmarks.

    make_models.py tiny  [--out tests/fixtures/model] [--static-out tests/fixtures/model-static]
    make_models.py text  [--out tests/fixtures/text-model] [--b32]
    make_models.py siglip-text [--out tests/fixtures/siglip-text-model]
    make_models.py bench [--out bench/model]

`tiny` writes a cheap CLIP-style encoder (input `pixel_values` [batch,3,224,224];
outputs `last_hidden_state` [batch,49,48] and `image_embeds` [batch,64]) plus a
copy with a static batch of 4. `bench` writes a seeded random-weight model with
the graph shape and FLOPs of CLIP ViT-B/32 vision + projection (`image_embeds`
[batch,512]). Every image model directory also gets CLIP's preprocessor_config.json.
`text` writes a tiny CLIP-text-shaped tower (inputs `input_ids` and `attention_mask`
[batch,sequence]; output `text_embeds` [batch,64], the tiny image model's space) with
its config.json; scripts/make_text_fixtures.py adds CLIP's real tokenizer beside it.
`text --b32` gives it the transformer of CLIP ViT-B/32's text tower instead (width 512,
8 heads, 12 layers, 512 dimensions; about 38 M parameters besides the small token tables),
to measure what a text query costs; copy the tokenizer files beside it. Not committed.
`siglip-text` writes a tiny SigLIP-shaped tower: `input_ids` of a fixed [batch,16] and no
attention mask (texts are padded), bidirectional attention, the last position's state
through a head, output `pooler_output` [batch,64]; make_text_fixtures.py adds its tokenizer.
Only onnx and numpy are needed; output is byte-identical across runs.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
PRODUCER = "imbed/scripts/make_models.py"

CLIP_PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}


class Graph:
    """Small helper that accumulates nodes and initializers with unique names."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array, order="C"), name))
        return name

    def op(self, op_type, inputs, out=None, **attrs):
        self.n += 1
        out = out or f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{self.n}_{op_type}", **attrs))
        return out

    def model(self, name, inputs, outputs):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=PRODUCER,
            producer_version="1",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def f32(x):
    return np.asarray(x, dtype=np.float32)


def i64(x):
    return np.asarray(x, dtype=np.int64)


def write_dir(out, model):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    path.write_bytes(model.SerializeToString())
    (out / "preprocessor_config.json").write_text(json.dumps(CLIP_PREPROCESSOR, indent=2) + "\n")
    return path


def param_count(model):
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT)


TINY_WIDTH, TINY_DIM = 48, 64


def tiny_model(batch):
    """Patch conv -> quick_gelu -> residual token MLP -> [mean pool ++ 4x4 colour layout] -> LN -> projection."""
    rng = np.random.default_rng(20240611)
    c, grid = TINY_WIDTH, 7
    g = Graph()
    x = "pixel_values"
    w_patch = g.const("patch.weight", f32(rng.normal(0, 1 / np.sqrt(3 * 32 * 32), (c, 3, 32, 32))))
    b_patch = g.const("patch.bias", f32(rng.normal(0, 0.1, c)))
    h = g.op("Conv", [x, w_patch, b_patch], kernel_shape=[32, 32], strides=[32, 32])
    h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, g.const("gelu.k", f32(1.702))])])])
    h = g.op("Reshape", [h, g.const("shape.tokens_t", i64([0, c, grid * grid]))])
    tokens = g.op("Transpose", [h], perm=[0, 2, 1])
    w_mix = g.const("mix.weight", f32(rng.normal(0, 1 / np.sqrt(c), (c, c))))
    b_mix = g.const("mix.bias", f32(np.zeros(c)))
    mixed = g.op("Relu", [g.op("Add", [g.op("MatMul", [tokens, w_mix]), b_mix])])
    hidden = g.op("Add", [tokens, mixed], out="last_hidden_state")
    pooled = g.op("ReduceMean", [hidden], axes=[1], keepdims=0)
    layout = g.op("AveragePool", [x], kernel_shape=[56, 56], strides=[56, 56])
    layout = g.op("Flatten", [layout], axis=1)
    feats = g.op("Concat", [pooled, layout], axis=1)
    n_feats = c + 3 * 4 * 4
    ln_g = g.const("ln.weight", f32(np.ones(n_feats)))
    ln_b = g.const("ln.bias", f32(np.zeros(n_feats)))
    feats = g.op("LayerNormalization", [feats, ln_g, ln_b], axis=-1, epsilon=1e-5)
    w_proj = g.const("proj.weight", f32(rng.normal(0, 1 / np.sqrt(n_feats), (n_feats, TINY_DIM))))
    g.op("MatMul", [feats, w_proj], out="image_embeds")
    return g.model(
        "imbed_tiny_clip",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [batch, 3, 224, 224])],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [batch, grid * grid, c]),
            helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, [batch, TINY_DIM]),
        ],
    )


def transformer_layer(g, x, p, layernorm, linear, sizes, stds, consts, bias=None):
    """One pre-norm CLIP layer: multi-head self-attention (scores plus `bias`, a mask, if
    given) and a quick-GELU MLP, each added back to `x`.

    sizes = (width, mlp width); stds = the weights' std for q and k, v, the attention output,
    fc1 and fc2; consts = the split-heads and merge-heads shapes, the attention scale, 1.702.
    """
    (width, mlp), (qk_std, v_std, out_std, fc1_std, fc2_std) = sizes, stds
    split_heads, merge_heads, scale, gelu_k = consts
    h = layernorm(x, f"{p}.ln1")
    q, k, v = (
        g.op("Transpose", [g.op("Reshape", [linear(h, f"{p}.attn.{n}", width, width, w_std), split_heads])],
             perm=perm)
        for n, perm, w_std in (("q", [0, 2, 1, 3], qk_std), ("k", [0, 2, 3, 1], qk_std), ("v", [0, 2, 1, 3], v_std))
    )
    scores = g.op("Mul", [g.op("MatMul", [q, k]), scale])
    if bias is not None:
        scores = g.op("Add", [scores, bias])
    att = g.op("Softmax", [scores], axis=-1)
    h = g.op("Transpose", [g.op("MatMul", [att, v])], perm=[0, 2, 1, 3])
    h = linear(g.op("Reshape", [h, merge_heads]), f"{p}.attn.out", width, width, out_std)
    x = g.op("Add", [x, h])
    h = linear(layernorm(x, f"{p}.ln2"), f"{p}.mlp.fc1", width, mlp, fc1_std)
    h = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, gelu_k])])])
    return g.op("Add", [x, linear(h, f"{p}.mlp.fc2", mlp, width, fc2_std)])


def bench_model(std=0.02, qk_std=0.1):
    """CLIP ViT-B/32 vision tower + visual projection with seeded random weights.

    Query/key weights get a larger std than the rest so attention depends on content;
    with std 0.02 everywhere the CLS output barely varies between images.
    """
    rng = np.random.default_rng(32)
    width, heads, layers, mlp, patch, tokens, dim = 768, 12, 12, 3072, 32, 50, 512
    head_dim = width // heads
    g = Graph()

    def normal(shape, scale=std):
        return f32(rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    def layernorm(x, prefix):
        gamma = g.const(f"{prefix}.weight", f32(np.ones(width)))
        beta = g.const(f"{prefix}.bias", f32(np.zeros(width)))
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)

    def linear(x, prefix, n_in, n_out, w_std=std):
        w = g.const(f"{prefix}.weight", normal((n_in, n_out), w_std))
        b = g.const(f"{prefix}.bias", f32(np.zeros(n_out)))
        return g.op("Add", [g.op("MatMul", [x, w]), b])

    split_heads = g.const("shape.split_heads", i64([0, tokens, heads, head_dim]))
    merge_heads = g.const("shape.merge_heads", i64([0, tokens, width]))
    scale = g.const("attn.scale", f32(head_dim**-0.5))
    gelu_k = g.const("quick_gelu.k", f32(1.702))

    x = g.op("Conv", ["pixel_values", g.const("embeddings.patch.weight", normal((width, 3, patch, patch)))],
             kernel_shape=[patch, patch], strides=[patch, patch])
    x = g.op("Reshape", [x, g.const("shape.patches", i64([0, width, tokens - 1]))])
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    cls = g.const("embeddings.class", normal((1, 1, width)))
    batch = g.op("Slice", [g.op("Shape", ["pixel_values"]), g.const("slice.start", i64([0])), g.const("slice.end", i64([1]))])
    cls = g.op("Expand", [cls, g.op("Concat", [batch, g.const("shape.cls_tail", i64([1, width]))], axis=0)])
    x = g.op("Concat", [cls, x], axis=1)
    x = g.op("Add", [x, g.const("embeddings.position", normal((1, tokens, width)))])
    x = layernorm(x, "pre_layrnorm")

    stds = (qk_std, std, std, std, std)
    for i in range(layers):
        x = transformer_layer(g, x, f"layers.{i}", layernorm, linear, (width, mlp), stds,
                              (split_heads, merge_heads, scale, gelu_k))

    cls_out = g.op("Gather", [x, g.const("cls_index", i64(0))], axis=1)
    cls_out = layernorm(cls_out, "post_layernorm")
    g.op("MatMul", [cls_out, g.const("visual_projection.weight", normal((width, dim), width**-0.5))],
         out="image_embeds")
    return g.model(
        "imbed_bench_clip_vit_b32",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch", dim])],
    )


def seeded_layers(g, rng, width, epsilon):
    """The text towers' weight makers, drawing from `rng` in call order: normal(shape, std),
    layernorm(x, prefix) with jittered gains, linear(x, prefix, n_in, n_out, std)."""

    def normal(shape, scale):
        return f32(rng.normal(0, scale, shape))

    def layernorm(x, prefix):
        gamma = g.const(f"{prefix}.weight", f32(1 + rng.normal(0, 0.1, width)))
        beta = g.const(f"{prefix}.bias", normal(width, 0.1))
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=epsilon)

    def linear(x, prefix, n_in, n_out, scale):
        w = g.const(f"{prefix}.weight", normal((n_in, n_out), scale))
        b = g.const(f"{prefix}.bias", normal(n_out, 0.02))
        return g.op("Add", [g.op("MatMul", [x, w]), b])

    return normal, layernorm, linear


TEXT_WIDTH, TEXT_HEADS, TEXT_LAYERS, TEXT_CONTEXT = 32, 2, 2, 77
CLIP_VOCAB, CLIP_BOS, CLIP_EOS = 49408, 49406, 49407
# Two small tables indexed by the token id modulo two primes, summed: every id below
# 1021 * 1031 gets its own pair of rows, and the fixture stays a few hundred KB instead of
# the 6 MB of a full 49408-row table.
TEXT_HASH_PRIMES = (1021, 1031)


def text_model(width=TEXT_WIDTH, heads=TEXT_HEADS, layers=TEXT_LAYERS, context=TEXT_CONTEXT, dim=TINY_DIM):
    """CLIP's text tower in miniature, with seeded weights.

    Token and position embeddings, pre-norm causal self-attention layers (padding masked
    by attention_mask, as transformers' CLIPTextModel does), a final LayerNorm, the state
    at the end token (CLIP takes the argmax of the ids: the end token has the largest id),
    and a projection into the image model's space.
    """
    head_dim = width // heads
    g = Graph()
    normal, layernorm, linear = seeded_layers(g, np.random.default_rng(20261201), width, 1e-5)

    ids = "input_ids"
    h = None
    for n, prime in enumerate(TEXT_HASH_PRIMES):
        table = g.const(f"embeddings.token.{n}", normal((prime, width), 0.5))
        rows = g.op("Gather", [table, g.op("Mod", [ids, g.const(f"hash.prime.{n}", i64(prime))])], axis=0)
        h = rows if h is None else g.op("Add", [h, rows])
    zero, one = g.const("scalar.zero", i64(0)), g.const("scalar.one", i64(1))
    seq_len = g.op("Slice", [g.op("Shape", [ids]), g.const("slice.seq_start", i64([1])),
                             g.const("slice.seq_end", i64([2]))])
    positions = g.const("embeddings.position", normal((context, width), 0.1))
    positions = g.op("Slice", [positions, g.const("slice.pos_start", i64([0])), seq_len,
                               g.const("slice.pos_axis", i64([0]))])
    h = g.op("Add", [h, positions])

    steps = g.op("Range", [zero, g.op("Squeeze", [seq_len, g.const("axes.zero", i64([0]))]), one])
    row = g.op("Unsqueeze", [steps, g.const("axes.one", i64([1]))])
    col = g.op("Unsqueeze", [steps, g.const("axes.zero_b", i64([0]))])
    future = g.op("Unsqueeze", [g.op("Greater", [col, row]), g.const("axes.zero_one", i64([0, 1]))])
    padding = g.op("Equal", ["attention_mask", g.const("mask.zero", i64(0))])
    padding = g.op("Unsqueeze", [padding, g.const("axes.one_two", i64([1, 2]))])
    bias = g.op("Where", [g.op("Or", [future, padding]), g.const("mask.neg", f32(-1e4)),
                          g.const("mask.none", f32(0.0))])

    split_heads = g.const("shape.split_heads", i64([0, 0, heads, head_dim]))
    merge_heads = g.const("shape.merge_heads", i64([0, 0, width]))
    scale = g.const("attn.scale", f32(head_dim**-0.5))
    gelu_k = g.const("quick_gelu.k", f32(1.702))
    stds = (0.5, width**-0.5, width**-0.5, width**-0.5, (4 * width)**-0.5)
    for i in range(layers):
        h = transformer_layer(g, h, f"layers.{i}", layernorm, linear, (width, 4 * width), stds,
                              (split_heads, merge_heads, scale, gelu_k), bias)
    h = layernorm(h, "final_layer_norm")

    end = g.op("Unsqueeze", [g.op("ArgMax", [ids], axis=-1, keepdims=0), g.const("axes.one_b", i64([1]))])
    pick = g.op("Cast", [g.op("Equal", [col, end])], to=TensorProto.FLOAT)
    pick = g.op("Unsqueeze", [pick, g.const("axes.one_c", i64([1]))])
    pooled = g.op("Squeeze", [g.op("MatMul", [pick, h]), g.const("axes.one_d", i64([1]))])
    g.op("MatMul", [pooled, g.const("text_projection.weight", normal((width, dim), width**-0.5))],
         out="text_embeds")
    return g.model(
        "imbed_tiny_clip_text",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch", dim])],
    )


B32_TEXT = {"width": 512, "heads": 8, "layers": 12, "dim": 512}


def text_config(width=TEXT_WIDTH, heads=TEXT_HEADS, layers=TEXT_LAYERS, context=TEXT_CONTEXT, dim=TINY_DIM):
    """config.json in the shape of transformers' CLIPTextConfig (its pad_token_id is CLIP's odd 1)."""
    return {
        "architectures": ["CLIPTextModelWithProjection"],
        "model_type": "clip_text_model",
        "hidden_size": width,
        "intermediate_size": 4 * width,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "max_position_embeddings": context,
        "projection_dim": dim,
        "vocab_size": CLIP_VOCAB,
        "bos_token_id": CLIP_BOS,
        "eos_token_id": CLIP_EOS,
        "pad_token_id": 1,
    }


SIGLIP_LENGTH = 16


def siglip_text_model(width=TEXT_WIDTH, heads=TEXT_HEADS, layers=TEXT_LAYERS, length=SIGLIP_LENGTH, dim=TINY_DIM):
    """SigLIP's text tower in miniature: no mask, so it always sees `length` tokens."""
    head_dim = width // heads
    g = Graph()
    normal, layernorm, linear = seeded_layers(g, np.random.default_rng(20261202), width, 1e-6)

    table = g.const("embeddings.token", normal((SIGLIP_VOCAB, width), 0.5))
    h = g.op("Gather", [table, "input_ids"], axis=0)
    h = g.op("Add", [h, g.const("embeddings.position", normal((length, width), 0.1))])
    consts = (g.const("shape.split_heads", i64([0, 0, heads, head_dim])), g.const("shape.merge_heads", i64([0, 0, width])),
              g.const("attn.scale", f32(head_dim**-0.5)), g.const("gelu.k", f32(1.702)))
    stds = (0.5, width**-0.5, width**-0.5, width**-0.5, (4 * width)**-0.5)
    for i in range(layers):
        h = transformer_layer(g, h, f"layers.{i}", layernorm, linear, (width, 4 * width), stds, consts)
    h = layernorm(h, "final_layer_norm")
    last = g.op("Gather", [h, g.const("last_position", i64(length - 1))], axis=1)
    g.op("MatMul", [last, g.const("head.weight", normal((width, dim), width**-0.5))], out="pooler_output")
    return g.model(
        "imbed_tiny_siglip_text",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", length])],
        [helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, ["batch", dim])],
    )


# The size of make_text_fixtures.py's SigLIP-shaped vocabulary.
SIGLIP_VOCAB = 96


def write_text_dir(out, model, sizes):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    path.write_bytes(model.SerializeToString())
    (out / "config.json").write_text(json.dumps(text_config(**sizes), indent=2) + "\n")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["tiny", "text", "siglip-text", "bench"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--static-out", type=Path, help="tiny only: where the static batch-4 copy goes")
    ap.add_argument("--b32", action="store_true", help="text only: CLIP ViT-B/32's text transformer size")
    args = ap.parse_args()
    if args.kind == "tiny":
        out = args.out or Path("tests/fixtures/model")
        static_out = args.static_out or out.parent / "model-static"
        for d, m in ((out, tiny_model("batch")), (static_out, tiny_model(4))):
            path = write_dir(d, m)
            print(f"{path}: {path.stat().st_size} bytes, {param_count(m)} params")
    elif args.kind == "text":
        sizes = B32_TEXT if args.b32 else {}
        model = text_model(**sizes)
        path = write_text_dir(args.out or Path("tests/fixtures/text-model"), model, sizes)
        print(f"{path}: {path.stat().st_size} bytes, {param_count(model)} params")
    elif args.kind == "siglip-text":
        model = siglip_text_model()
        out = args.out or Path("tests/fixtures/siglip-text-model")
        out.mkdir(parents=True, exist_ok=True)
        path = out / "model.onnx"
        path.write_bytes(model.SerializeToString())
        config = {"architectures": ["SiglipTextModel"], "model_type": "siglip_text_model", "hidden_size": TEXT_WIDTH,
                  "max_position_embeddings": SIGLIP_LENGTH, "vocab_size": SIGLIP_VOCAB, "pad_token_id": 1,
                  "eos_token_id": 1, "projection_size": TINY_DIM}
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        print(f"{path}: {path.stat().st_size} bytes, {param_count(model)} params")
    else:
        model = bench_model()
        path = write_dir(args.out or Path("bench/model"), model)
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {param_count(model):,} params")


if __name__ == "__main__":
    main()
