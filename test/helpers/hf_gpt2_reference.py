"""An independent reading of a Hugging Face GPT-2 folder: parses model.safetensors with plain Python,
and runs the forward pass of transformers' GPT2LMHeadModel (Conv1D weights [in, out], fused c_attn
split as q|k|v, scaled dot-product attention under a causal mask, gelu_new, pre-LayerNorm, tied
lm_head) in numpy. Prints the logits of the token ids given on the command line as JSON.

usage: python3 hf_gpt2_reference.py <model dir> <id> [<id> ...]
"""
import json
import math
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        raw = data[base + start : base + end]
        dtype = entry["dtype"]
        if dtype == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue  # masks and other buffers: rebuilt below, as transformers does
        tensors[name] = arr.reshape(entry["shape"]).astype(np.float64)
    return metadata, tensors


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def main():
    folder, ids = sys.argv[1], [int(t) for t in sys.argv[2:]]
    config = json.load(open(f"{folder}/config.json"))
    metadata, raw = read_safetensors(f"{folder}/model.safetensors")
    if metadata.get("format") not in ("pt", "tf", "flax", "mlx"):
        sys.exit(f"transformers would refuse this file: metadata format is {metadata.get('format')!r}")
    # transformers' GPT2LMHeadModel loads names with or without the `transformer.` prefix.
    w = {(k[len("transformer.") :] if k.startswith("transformer.") else k): v for k, v in raw.items()}
    d, heads, eps = config["n_embd"], config["n_head"], config.get("layer_norm_epsilon", 1e-5)
    hd = d // heads
    t = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][np.arange(t)]
    causal = np.tril(np.ones((t, t), dtype=bool))
    for layer in range(config["n_layer"]):
        p = f"h.{layer}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = np.split(qkv, 3, axis=-1)
        q, k, v = (m.reshape(t, heads, hd).transpose(1, 0, 2) for m in (q, k, v))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        scores = np.where(causal, scores, np.finfo(np.float64).min)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        attended = (probs @ v).transpose(1, 0, 2).reshape(t, d)
        x = x + attended @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        hidden = gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + hidden @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    head = raw.get("lm_head.weight", w["wte.weight"])
    logits = x @ head.T
    json.dump({"logits": logits.tolist()}, sys.stdout)


main()
