#!/usr/bin/env python3
"""An independent GGUF reader for bitlab's peer exports: it parses the header,
metadata and tensor table itself and decodes the ternary types into values in
{-1, 0, +1} plus their stored scales with numpy, following the peers' own
dequantize code (llama.cpp ggml-quants.c dequantize_row_tq2_0 / tq1_0,
ik_llama.cpp iqk_quantize.cpp dequantize_row_iq2_bn / iq1_bn, bitnet.cpp I2_S, and
bitnet.cpp TL2 as its converter's preprocess_weights_tl2 lays it out).
It shares no code with bitlab, so the two agreeing means the layout is the
peers', not merely self-consistent.

    gguf_read.py FILE.gguf      prints the metadata and every tensor's type and shape
"""
import struct
import sys

import numpy as np

# ggml type ids: mainline's, and ik_llama.cpp's own for the BN types.
F32, F16, BF16, TQ1_0, TQ2_0, I2_S, TL2, IQ1_BN, IQ2_BN = 0, 1, 30, 34, 35, 36, 39, 134, 135
TYPE_NAMES = {F32: "F32", F16: "F16", BF16: "BF16", TQ1_0: "TQ1_0", TQ2_0: "TQ2_0", I2_S: "I2_S", TL2: "TL2",
              IQ1_BN: "IQ1_BN", IQ2_BN: "IQ2_BN"}

# TL2's bytes follow the tiling its kernels were generated with (codegen_tl2.py
# --BM/--BK/--bm): 2B4T's shapes (rows, k) -> BM; BK 96 and bm 32 everywhere.
# Other shapes: BM the largest multiple of 32 up to 320 dividing the rows.
TL2_KERNEL_BM = {(2560, 2560): 320, (640, 2560): 160, (6912, 2560): 256, (2560, 6912): 160}
TL2_BK = 96


def tl2_bm(n, k):
    if (n, k) in TL2_KERNEL_BM:
        return TL2_KERNEL_BM[(n, k)]
    return next(bm for bm in range(320, 0, -32) if n % bm == 0)


def tl2_scale_offset(n, k):
    """bitnet.cpp's TL2 size in C integer order, rounded up to 32: where the fp32 scale sits."""
    nbytes = (k - 256) * n // 3 * 5 // 8 + 256 * n // 2 * 4 // 8
    return (nbytes + 31) // 32 * 32

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.data[self.pos:self.pos + n]).decode("utf-8")
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        return self.take(_SCALARS[t])


def tensor_bytes(ttype, dims):
    row, rows = dims[0], int(np.prod(dims[1:], dtype=np.int64))
    if ttype == F32:
        return 4 * row * rows
    if ttype in (F16, BF16):
        return 2 * row * rows
    if ttype == I2_S:
        return row * rows // 4 + 32
    if ttype == TL2:
        return tl2_scale_offset(rows, row) + 32
    if ttype == TQ2_0:
        return rows * (row // 256) * 66
    if ttype == TQ1_0:
        return rows * (row // 256) * 54
    if ttype == IQ2_BN:
        return rows * (4 + row // 64 * 16)
    if ttype == IQ1_BN:
        return rows * (2 + row // 64 * 13)
    raise ValueError(f"unknown ggml type {ttype}")


class Gguf:
    """metadata: dict; tensors: dict name -> (dims innermost first, type, raw bytes as uint8 array)."""

    def __init__(self, path):
        data = np.fromfile(path, dtype=np.uint8)
        r = Reader(memoryview(data))
        if bytes(data[:4]) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        r.pos = 4
        self.version = r.take("<I")
        n_tensors, n_kv = r.take("<Q"), r.take("<Q")
        self.metadata = {}
        for _ in range(n_kv):
            key = r.string()
            self.metadata[key] = r.value(r.take("<I"))
        infos = []
        for _ in range(n_tensors):
            name = r.string()
            dims = [r.take("<Q") for _ in range(r.take("<I"))]
            infos.append((name, dims, r.take("<I"), r.take("<Q")))
        align = self.metadata.get("general.alignment", 32)
        base = (r.pos + align - 1) // align * align
        self.tensors = {}
        for name, dims, ttype, off in infos:
            n = tensor_bytes(ttype, dims)
            if base + off + n > len(data):
                raise ValueError(f"{path}: tensor {name} runs past the end")
            self.tensors[name] = (dims, ttype, data[base + off:base + off + n])


def f16(raw):
    return raw.view(np.float16).astype(np.float32)


def floats(dims, ttype, raw):
    """A float tensor as float32 (bf16 widened by its bits)."""
    if ttype == F32:
        return raw.view(np.float32).copy()
    if ttype == F16:
        return f16(raw)
    if ttype == BF16:
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    raise ValueError(f"type {ttype} is not a float type")


def _trit(q, mult):
    """Top base-3 digit of (uint8)(q * mult), as ggml computes it: ((uint16)v * 3) >> 8."""
    v = (q.astype(np.uint16) * mult) & 0xFF
    return ((v * 3) >> 8).astype(np.int8)


# A 32-byte run of TL2 holds rows 0..31 of a row group with its 8-byte
# quarters 1 and 2 swapped: RUN_ROWS[s] is the row of byte s (and the byte of row s).
RUN_ROWS = np.r_[0:8, 16:24, 8:16, 24:32]


def _tl2_nibbles(b, n, bm, blocks, per_block):
    """A nibble part [tile, block, row group, byte pair, run] -> [n, groups], high nibble first."""
    runs = b.reshape(n // bm, blocks, bm // 32, per_block // 2, 32)[..., RUN_ROWS]  # [t, b, q, p, row in group]
    both = np.stack([runs >> 4, runs & 15], axis=-1)  # [t, b, q, p, r, 2]
    return both.transpose(0, 2, 4, 1, 3, 5).reshape(n, blocks * per_block)


def tl2_ternary(n, k, raw):
    """bitnet.cpp TL2: triples (9a + 3b + c, magnitude nibbles, then sign bits) over k - k % 96,
    pairs (3a + b + 4) over the tail, tiled by BM rows, 96-weight blocks and 32-row groups."""
    bm, k2 = tl2_bm(n, k), k % TL2_BK
    k3 = k - k2
    m_end, s_end = n * k3 // 6, n * k3 // 6 + n * k3 // 24
    mag = _tl2_nibbles(raw[:m_end], n, bm, k3 // TL2_BK, TL2_BK // 3).astype(np.int16)
    words = raw[m_end:s_end].copy().view("<u2").reshape(n // bm, k3 // TL2_BK, bm // 32, TL2_BK // 24, 16)
    bits = (words[..., None] >> (15 - np.arange(16, dtype=np.uint16))) & 1  # [t, b, q, h, l, j]
    bits = bits.reshape(bits.shape[:5] + (8, 2))  # j = 2 * (triple in quarter) + (row >= 16)
    neg = bits.transpose(0, 2, 6, 4, 1, 3, 5).reshape(n, k3 // 3).astype(bool)  # rows t, q, j % 2, l
    if np.any(mag > 13) or np.any(neg & (mag == 0)):
        raise ValueError("TL2 triple magnitude above 13 or a negative zero")
    u = np.where(neg, -mag, mag) + 13  # digits of 9 (a + 1) + 3 (b + 1) + (c + 1)
    three = np.stack([u // 9, (u // 3) % 3, u % 3], axis=-1).reshape(n, k3) - 1
    if k2 == 0:
        return three.astype(np.int8)
    pv = _tl2_nibbles(raw[s_end:s_end + n * k2 // 4], n, bm, k2 // 32, 16).astype(np.int16)
    if np.any(pv > 8):
        raise ValueError("TL2 pair above 8")
    two = np.stack([pv // 3, pv % 3], axis=-1).reshape(n, k2) - 1
    return np.concatenate([three, two], axis=1).astype(np.int8)


def ternary(dims, ttype, raw):
    """(T, scales): T int8 [n, k] in {-1, 0, 1}; scales float32, one per block (TQ), row (BN),
    tensor (I2_S) or the distinct non-zero magnitudes (F16)."""
    k, n = dims
    if ttype == I2_S:  # bitnet.cpp: 128-code blocks, code j in byte j % 32 at shift 6 - 2 (j / 32)
        q = raw[:n * k // 4].reshape(-1, 32)
        codes = np.stack([(q >> (6 - 2 * g)) & 3 for g in range(4)], axis=1)  # [blocks, 4, 32]
        scale = raw[n * k // 4:n * k // 4 + 4].view(np.float32)
        return codes.reshape(n, k).astype(np.int8) - 1, scale
    if ttype == TL2:
        off = tl2_scale_offset(n, k)
        return tl2_ternary(n, k, raw), raw[off:off + 4].copy().view(np.float32)
    if ttype == TQ2_0:  # dequantize_row_tq2_0
        b = raw.reshape(-1, 66)
        qs = b[:, :64].reshape(-1, 2, 1, 32)
        codes = (qs >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)) & 3  # [nb, 2, 4, 32]
        return codes.reshape(n, k).astype(np.int8) - 1, f16(b[:, 64:66].copy())
    if ttype == TQ1_0:  # dequantize_row_tq1_0
        b = raw.reshape(-1, 54)
        pow3 = [1, 3, 9, 27, 81, 243]
        p1 = np.stack([_trit(b[:, :32], pow3[j]) for j in range(5)], axis=1).reshape(-1, 160)
        p2 = np.stack([_trit(b[:, 32:48], pow3[j]) for j in range(5)], axis=1).reshape(-1, 80)
        p3 = np.stack([_trit(b[:, 48:52], pow3[j]) for j in range(4)], axis=1).reshape(-1, 16)
        codes = np.concatenate([p1, p2, p3], axis=1)
        return codes.reshape(n, k) - 1, f16(b[:, 52:54].copy())
    if ttype == IQ2_BN:  # fp32 row scale, then dequantize_row_iq2_bn
        rows = raw.reshape(n, 4 + k // 4)
        qs = rows[:, 4:].reshape(n, k // 64, 1, 16)
        codes = (qs >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)) & 3
        return codes.reshape(n, k).astype(np.int8) - 1, rows[:, :4].copy().view(np.float32).reshape(n)
    if ttype == IQ1_BN:  # fp16 row scale, then dequantize_row_iq1_bn
        rows = raw.reshape(n, 2 + 13 * k // 64)
        blk = rows[:, 2:].reshape(n, k // 64, 13)
        k_mult = [81, 27, 9, 3, 1]

        def digit(q, j):  # ((v + (v >> 1)) >> 7) with v = (uint8)(q * k_mult[j])
            v = (q.astype(np.uint16) * k_mult[j]) & 0xFF
            return ((v + (v >> 1)) >> 7).astype(np.int8)

        ql = blk[:, :, :12].reshape(n, k // 64, 4, 3)
        five = np.stack([digit(ql, j) for j in range(5)], axis=-1).reshape(n, k // 64, 4, 15)
        extra = np.stack([digit(blk[:, :, 12], g) for g in range(4)], axis=-1)  # [n, nb, 4]
        codes = np.concatenate([five, extra[..., None]], axis=-1)
        return codes.reshape(n, k) - 1, f16(rows[:, :2].copy()).reshape(n)
    if ttype == F16:
        v = f16(raw).reshape(n, k)
        return np.sign(v).astype(np.int8), np.unique(np.abs(v[v != 0]))
    raise ValueError(f"type {ttype} is not a ternary type")


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    g = Gguf(argv[1])
    print(f"GGUF v{g.version}")
    for k, v in g.metadata.items():
        print(f"  {k} = {v if not isinstance(v, list) else f'[{len(v)} values]'}")
    for name, (dims, ttype, raw) in g.tensors.items():
        print(f"  {name} {TYPE_NAMES.get(ttype, ttype)} {dims} {raw.size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
