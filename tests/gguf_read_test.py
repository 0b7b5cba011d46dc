#!/usr/bin/env python3
"""bitlab export's peer GGUF formats, read back by the independent reader
(gguf_read.py). This script writes a small BitNet model itself (I2_S, with its
own encoder: hidden 256, ffn 512, two layers, one scale per matrix, some
exact in fp16 and some not), has `bitlab export` turn it into every format
and architecture, and checks that every file holds the model's ternary codes,
norms and bf16 embedding bit for bit, and its scales where the format can
hold them (fp32, or 1 in the blocks and the scale in a `.scale` tensor), and
that the summary says which scales it could only round.

    gguf_read_test.py BITLAB_BINARY
"""
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy is not installed (Debian package python3-numpy): peer formats not read back")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_read as gr  # noqa: E402

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 256, 512, 2, 4, 2, 64, 96
MATRICES = [("attn_q", HEADS * HEAD_DIM, HIDDEN), ("attn_k", KV_HEADS * HEAD_DIM, HIDDEN),
            ("attn_v", KV_HEADS * HEAD_DIM, HIDDEN), ("attn_output", HIDDEN, HEADS * HEAD_DIM),
            ("ffn_gate", FFN, HIDDEN), ("ffn_up", FFN, HIDDEN), ("ffn_down", HIDDEN, FFN)]
NORMS = [("attn_norm", HIDDEN), ("attn_sub_norm", HIDDEN), ("ffn_norm", HIDDEN), ("ffn_sub_norm", FFN)]
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


# ---- the model, written with this script's own GGUF writer and I2_S encoder

def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kvs, tensors):
    """kvs: (key, type id, packed value bytes); tensors: (name, dims, ggml type, bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, t, v in kvs:
        out += gguf_string(key) + struct.pack("<I", t) + v
    off = 0
    for name, dims, t, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", t, off)
        off += (len(data) + 31) // 32 * 32
    out += b"\0" * (-len(out) % 32)
    for _, _, _, data in tensors:
        out += data + b"\0" * (-len(data) % 32)
    with open(path, "wb") as f:
        f.write(out)


def encode_i2s(t, scale):
    codes = (t.reshape(-1, 4, 32) + 1).astype(np.uint8)  # [block, j // 32, j % 32]
    packed = np.zeros((codes.shape[0], 32), np.uint8)
    for g in range(4):
        packed |= codes[:, g, :] << (6 - 2 * g)
    return packed.tobytes() + np.float32(scale).tobytes() + b"\0" * 28


def make_model(path, rng):
    model = {"ternary": {}, "norms": {}}
    a = "bitnet-b1.58"
    u32 = lambda k, v: (k, 4, struct.pack("<I", v))  # noqa: E731
    kvs = [("general.architecture", 8, gguf_string(a)), ("general.name", 8, gguf_string("peer-test")),
           u32(a + ".vocab_size", VOCAB), u32(a + ".context_length", 128), u32(a + ".embedding_length", HIDDEN),
           u32(a + ".block_count", LAYERS), u32(a + ".feed_forward_length", FFN),
           u32(a + ".rope.dimension_count", HEAD_DIM), u32(a + ".attention.head_count", HEADS),
           u32(a + ".attention.head_count_kv", KV_HEADS), (a + ".rope.freq_base", 6, struct.pack("<f", 10000.0)),
           (a + ".attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
           ("tokenizer.ggml.model", 8, gguf_string("no_vocab")), u32("tokenizer.ggml.bos_token_id", 1),
           u32("tokenizer.ggml.eos_token_id", 2)]
    emb = (rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32) * 0.05).view(np.uint32) >> 16
    model["embedding"] = emb.astype(np.uint16)
    tensors = [("token_embd.weight", [HIDDEN, VOCAB], gr.BF16, model["embedding"].tobytes())]
    final = (0.9 + 0.2 * rng.random(HIDDEN)).astype(np.float32)
    model["norms"]["output_norm.weight"] = final
    tensors.append(("output_norm.weight", [HIDDEN], gr.F32, final.tobytes()))
    i = 0
    for layer in range(LAYERS):
        for name, size in NORMS:
            v = (0.9 + 0.2 * rng.random(size)).astype(np.float32)
            model["norms"][f"blk.{layer}.{name}.weight"] = v
            tensors.append((f"blk.{layer}.{name}.weight", [size], gr.F32, v.tobytes()))
        for name, n, k in MATRICES:
            t = rng.integers(-1, 2, size=(n, k)).astype(np.int8)
            # Every third scale is a power of two times a short mantissa (exact in fp16), the rest are not.
            scale = np.float32(0.0390625) if i % 3 == 0 else np.float32(0.02 + 0.05 * rng.random())
            i += 1
            model["ternary"][f"blk.{layer}.{name}.weight"] = (t, scale)
            tensors.append((f"blk.{layer}.{name}.weight", [k, n], gr.I2_S, encode_i2s(t, scale)))
    write_gguf(path, kvs, tensors)
    return model


# ---- the peers' own quantizers (ggml-quants.c quantize_row_tq*_ref, iqk_quantize.cpp
# quantize_one_row_*bn), ported to numpy: fed the values a file dequantizes to, they
# must give back its very bytes.

def ceil_byte(v):
    return ((v.astype(np.uint32) * 256 + 242) // 243).astype(np.uint8)


def peer_quantize(ttype, t, scale):
    n, k = t.shape
    x = t.astype(np.float32) * np.float32(scale)
    if ttype in (gr.TQ2_0, gr.TQ1_0):
        b = x.reshape(-1, 256)
        d = np.abs(b).max(axis=1)
        q = (np.round(b / d[:, None]) + 1).astype(np.uint32)  # lroundf(x * id) + 1; no ties here
        dh = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
        if ttype == gr.TQ2_0:
            q = q.reshape(-1, 2, 4, 32)
            qs = sum(q[:, :, i, :] << (2 * i) for i in range(4)).astype(np.uint8).reshape(-1, 64)
            return np.concatenate([qs, dh], axis=1).tobytes()
        p1 = q[:, :160].reshape(-1, 5, 32)
        p2 = q[:, 160:240].reshape(-1, 5, 16)
        p3 = q[:, 240:].reshape(-1, 4, 4)
        qs1 = ceil_byte(sum(p1[:, i, :] * 3 ** (4 - i) for i in range(5)))
        qs2 = ceil_byte(sum(p2[:, i, :] * 3 ** (4 - i) for i in range(5)))
        qh = ceil_byte(sum(p3[:, i, :] * 3 ** (3 - i) for i in range(4)) * 3)
        return np.concatenate([qs1, qs2, qh, dh], axis=1).tobytes()
    mx = np.abs(x).max(axis=1)
    lv = np.where(np.abs(x) < 0.5 * mx[:, None], 1, np.where(x < 0, 0, 2)).astype(np.uint32)
    if ttype == gr.IQ2_BN:
        lv = lv.reshape(n, k // 64, 4, 16)
        qs = sum(lv[:, :, i, :] << (2 * i) for i in range(4)).astype(np.uint8).reshape(n, -1)
        return np.concatenate([mx.astype(np.float32).view(np.uint8).reshape(n, 4), qs], axis=1).tobytes()
    lv = lv.reshape(n, k // 64, 4, 16)
    five = lv[..., :15].reshape(n, k // 64, 4, 3, 5)
    ql = ceil_byte(sum(five[..., j] * 3 ** j for j in range(5))).reshape(n, k // 64, 12)
    extra = ceil_byte(sum(lv[:, :, g, 15] * 3 ** g for g in range(4)))
    blocks = np.concatenate([ql, extra[..., None]], axis=2).reshape(n, -1)
    return np.concatenate([mx.astype(np.float16).view(np.uint8).reshape(n, 2), blocks], axis=1).tobytes()


# ---- what each export must hold

def f32_bits(x):
    return np.asarray(x, np.float32).view(np.uint32)


def expect_file(path, model, fmt, arch, ttype, where_scale):
    """where_scale: 'f32' (in the blocks/rows, fp32), 'tensor' (1 inside, .scale tensor), 'f16' (rounded inside)."""
    g = gr.Gguf(path)
    tag = f"{fmt}/{arch}"
    check(g.metadata.get("general.architecture") == arch, f"{tag}: general.architecture")
    check(g.metadata.get(arch + ".feed_forward_length") == FFN, f"{tag}: {arch}.feed_forward_length")
    expected = {"token_embd.weight", "output_norm.weight"} | set(model["norms"]) | set(model["ternary"])
    if where_scale == "tensor":
        expected |= {n[:-len("weight")] + "scale" for n in model["ternary"]}
    check(set(g.tensors) == expected, f"{tag}: tensor names {sorted(set(g.tensors) ^ expected)[:4]}")
    dims, t, raw = g.tensors["token_embd.weight"]
    check(t == gr.BF16 and np.array_equal(raw.view(np.uint16).reshape(VOCAB, HIDDEN), model["embedding"]),
          f"{tag}: embedding bits")
    for name, v in model["norms"].items():
        dims, t, raw = g.tensors[name]
        check(t == gr.F32 and np.array_equal(f32_bits(gr.floats(dims, t, raw)), f32_bits(v)), f"{tag}: {name}")
    for name, (want, scale) in model["ternary"].items():
        dims, t, raw = g.tensors[name]
        if t != ttype:
            check(False, f"{tag}: {name} has type {t}, not {ttype}")
            continue
        try:
            got, stored = gr.ternary(dims, t, raw)
        except ValueError as e:
            check(False, f"{tag}: {name} does not decode: {e}")
            continue
        if t in (gr.TQ2_0, gr.TQ1_0, gr.IQ2_BN, gr.IQ1_BN):
            inside = 1.0 if where_scale == "tensor" else scale
            check(peer_quantize(t, want, inside) == raw.tobytes(), f"{tag}: {name} is what the peer's quantizer makes")
        check(np.array_equal(got, want), f"{tag}: {name} ternary values ({np.count_nonzero(got != want)} differ)")
        if where_scale == "f32":
            check(np.all(f32_bits(stored) == f32_bits(scale)), f"{tag}: {name} fp32 scale")
        elif where_scale == "tensor":
            check(np.all(stored == 1.0), f"{tag}: {name} holds 1 in its blocks")
            sd, st, sraw = g.tensors[name[:-len("weight")] + "scale"]
            check(st == gr.F32 and sd == [1] and f32_bits(sraw.view(np.float32)) == f32_bits(scale),
                  f"{tag}: {name} .scale tensor")
        else:
            rounded = np.float32(scale).astype(np.float16).astype(np.float32)
            check(np.all(f32_bits(stored) == f32_bits(rounded)), f"{tag}: {name} fp16 scale")


def check_tl2_kernel_shapes(bitlab, tmp):
    """TL2 at 2B4T's shapes (the tiling bitnet.cpp's kernels are generated with): one synthetic
    2B4T layer exported as I2_S and as TL2 holds the same ternary weights and scales."""
    files = {}
    for fmt in ("gguf-i2s", "gguf-tl2"):
        files[fmt] = os.path.join(tmp, f"2b4t-1layer.{fmt}.gguf")
        p = subprocess.run([bitlab, "export", "--model", "synthetic:2b4t-1layer", "--format", fmt, files[fmt]],
                           capture_output=True, text=True)
        check(p.returncode == 0, f"2b4t-1layer {fmt}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        if p.returncode != 0:
            return
    i2s, tl2 = gr.Gguf(files["gguf-i2s"]), gr.Gguf(files["gguf-tl2"])
    shapes = set()
    for name, (dims, t, raw) in tl2.tensors.items():
        if t != gr.TL2:
            continue
        shapes.add((dims[1], dims[0]))
        try:
            got, scale = gr.ternary(dims, t, raw)
        except ValueError as e:
            check(False, f"2b4t-1layer tl2: {name} does not decode: {e}")
            continue
        want, want_scale = gr.ternary(*i2s.tensors[name])
        check(np.array_equal(got, want), f"2b4t-1layer tl2: {name} ternary values ({np.count_nonzero(got != want)} differ)")
        check(f32_bits(scale) == f32_bits(want_scale), f"2b4t-1layer tl2: {name} scale")
    check(shapes == set(gr.TL2_KERNEL_BM), f"2b4t-1layer tl2: shapes {sorted(shapes)}")


def main():
    bitlab = sys.argv[1]
    rng = np.random.default_rng(7)
    tmp = tempfile.mkdtemp(prefix="gguf_read_test.")
    src = os.path.join(tmp, "model.gguf")
    model = make_model(src, rng)
    n_rounded = sum(1 for _, s in model["ternary"].values() if np.float32(s).astype(np.float16) != s)
    n_total = len(model["ternary"])
    assert 0 < n_rounded < n_total

    # format, arch (None: the default), ggml type, where the scale goes, engine named in the summary
    cases = [("gguf-i2s", None, "bitnet-b1.58", gr.I2_S, "f32", "bitnet.cpp"),
             ("gguf-tq2_0", None, "bitnet", gr.TQ2_0, "tensor", "llama.cpp"),
             ("gguf-tq1_0", None, "bitnet", gr.TQ1_0, "tensor", "llama.cpp"),
             ("gguf-f16", None, "bitnet", gr.F16, "tensor", "llama.cpp"),
             ("gguf-f16", "bitnet-b1.58", "bitnet-b1.58", gr.F16, "f16", "ik_llama.cpp"),
             ("gguf-iq2_bn", None, "bitnet-b1.58", gr.IQ2_BN, "f32", "ik_llama.cpp"),
             ("gguf-iq2_bn", "bitnet", "bitnet", gr.IQ2_BN, "f32", "ik_llama.cpp"),
             ("gguf-iq1_bn", None, "bitnet-b1.58", gr.IQ1_BN, "f16", "ik_llama.cpp"),
             ("gguf-iq1_bn", "bitnet", "bitnet", gr.IQ1_BN, "tensor", "ik_llama.cpp"),
             ("gguf-tl2", None, "bitnet-b1.58", gr.TL2, "f32", "bitnet.cpp")]
    for fmt, arch_opt, arch, ttype, where, engine in cases:
        out = os.path.join(tmp, f"{fmt}-{arch}.gguf")
        cmd = [bitlab, "export", "--model", src, "--format", fmt, out] + (["--arch", arch_opt] if arch_opt else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        check(p.returncode == 0, f"{fmt}/{arch}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        if p.returncode != 0:
            continue
        check("read by" in p.stdout and engine in p.stdout.split("read by")[-1],
              f"{fmt}/{arch}: summary names {engine}: {p.stdout.strip()}")
        if where == "f16":
            check(f"WARNING: {n_rounded} of {n_total} scales rounded to fp16" in p.stdout,
                  f"{fmt}/{arch}: summary counts the rounded scales: {p.stdout.strip()}")
            check("warning:" in p.stderr, f"{fmt}/{arch}: warning on stderr")
        else:
            check("exact" in p.stdout and "WARNING" not in p.stdout and "warning" not in p.stderr,
                  f"{fmt}/{arch}: summary says exact: {p.stdout.strip()}")
        expect_file(out, model, fmt, arch, ttype, where)

    # Bad input: one line, exit 2, naming the formats / the tensor / the architectures.
    bad = [(["--model", src, "--format", "gguf-q4_0"], ["gguf-q4_0", "gguf-tq1_0", "gguf-iq1_bn", "safetensors"]),
           (["--model", "synthetic:tiny", "--format", "gguf-tq2_0"], ["blk.0.attn_q.weight", "256"]),
           (["--model", "synthetic:tiny", "--format", "gguf-iq2_bn"], ["blk.0.ffn_down.weight", "64"]),
           (["--model", "synthetic:tiny", "--format", "gguf-tl2"], ["blk.0.attn_q.weight", "[64, 64]"]),
           (["--model", src, "--format", "gguf-tq2_0", "--arch", "bitnet-b1.58"], ["'bitnet-b1.58'", "'bitnet'"])]
    for args, words in bad:
        p = subprocess.run([bitlab, "export"] + args + [os.path.join(tmp, "bad.gguf")], capture_output=True, text=True)
        # Progress lines may come first; the error is the one line that starts with "bitlab:".
        errors = [line for line in p.stderr.splitlines() if line.startswith("bitlab:")]
        err = errors[0] if len(errors) == 1 else p.stderr
        check(p.returncode == 2 and len(errors) == 1 and all(w in err for w in words),
              f"export {' '.join(args)}: exit {p.returncode}, stderr {err!r} should name {words}")
        check(not os.path.exists(os.path.join(tmp, "bad.gguf")), f"export {' '.join(args)} left a file")

    p = subprocess.run([bitlab, "export", "--help"], capture_output=True, text=True)
    for f in ["gguf-i2s", "gguf-tq2_0", "gguf-tq1_0", "gguf-f16", "gguf-iq2_bn", "gguf-iq1_bn", "gguf-tl2",
              "safetensors"]:
        check(f in p.stdout, f"export --help lists {f}")

    check_tl2_kernel_shapes(bitlab, tmp)

    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)
    if FAILURES:
        print(f"{len(FAILURES)} failures")
        return 1
    print("all peer formats read back bit for bit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
