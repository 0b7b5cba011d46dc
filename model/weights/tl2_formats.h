// bitnet.cpp's TL2 (GGUF type 39): the layout its x86 lookup-table kernels
// read, as its converter (utils/convert-hf-to-gguf-bitnet.py) writes it. The
// kernels are generated per matrix shape (utils/codegen_tl2.py) with a tiling
// (BM rows per tile, BK weights per k-block, bm = 32 rows per SIMD step), and
// the bytes follow that tiling, so a file runs only with kernels generated for
// its shapes and the same BM / BK.
//
// A matrix [n, k] (n outputs, codes c = T + 1) is cut along k into
// k3 = k - k % BK weights taken three at a time and k2 = k % BK (a multiple
// of 32) taken two at a time. In the file, in this order:
//  1. magnitudes, n*k3/6 bytes: triple g of row r is v = 9*T[3g] + 3*T[3g+1]
//     + T[3g+2] (in -13..13); |v| is 4 bits. Bytes run over tile t < n/BM,
//     k-block b < k3/BK, row group q < BM/32, pair p < BK/6, then 32 bytes:
//     byte s holds row r = t*BM + q*32 + ii(s) with ii(s) = s with the 8-byte
//     quarters 1 and 2 swapped; its high nibble is |v| of triple
//     g = b*BK/3 + 2p, its low nibble that of g + 1.
//  2. signs, n*k3/24 bytes: bit 1 = v < 0. Per (t, b, q) and quarter
//     h < BK/24: sixteen little-endian uint16 words; word l, bit 15 - j is
//     the sign of triple g = b*BK/3 + 8h + j/2 of row t*BM + q*32 + 16*(j%2) + l.
//  3. pairs, n*k2/4 bytes: pair g of the last k2 weights is 3*T[2g] + T[2g+1]
//     + 4 (0..8); laid out as the magnitudes with blocks of 32 weights
//     (k2 / 32 blocks b, 16 pairs per block: p < 8, groups g = b*16 + 2p).
//  4. zeros up to nbytes = (k - 256)*n/3*5/8 + 256*n/2*4/8 (C integer
//     arithmetic, the size bitnet.cpp's loader assumes) rounded up to 32,
//     then the tensor's fp32 scale, then zeros to nbytes + 32: ggml_nbytes of
//     a TL2 tensor, so the scale is inside the tensor as in I2_S.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab {

struct Tl2Tiling {
  int64_t n, k;  // the matrix shape the kernel is generated for (codegen's M, K)
  int64_t bm_tile, bk, bm;  // codegen's --BM, --BK, --bm
};

// The kernels scripts/peers generates for 2B4T (q/o, k/v, gate/up, down),
// in codegen_tl2.py's argument order. scripts/peers reads the rows between
// the two marker lines, so the export and the kernels share one table.
// tl2-kernels-begin
inline constexpr Tl2Tiling kTl2Kernels[] = {
    {2560, 2560, 320, 96, 32},
    {640, 2560, 160, 96, 32},
    {6912, 2560, 256, 96, 32},
    {2560, 6912, 160, 96, 32},
};
// tl2-kernels-end

inline constexpr int64_t kTl2Bk = 96;       // BK of every shape outside the table
inline constexpr int64_t kTl2RowStep = 32;  // bm: rows per SIMD step
inline constexpr int64_t kTl2MaxTile = 320; // the largest BM of the table

// The tiling of a shape: the table's row, else BK 96, bm 32 and BM the largest
// multiple of 32 up to 320 that divides n. Throws UsageError naming `name`
// and the shape when the format cannot hold it: n not a multiple of 32, k % BK
// not a multiple of 32, or k below 256 (the loader's size formula).
Tl2Tiling tl2_tiling(const std::string& name, int64_t n, int64_t k);

// Bytes of a TL2 tensor (ggml_nbytes): the padded payload plus 32 for the scale.
uint64_t tl2_bytes(int64_t n, int64_t k);
// Offset of the fp32 scale inside the tensor.
uint64_t tl2_scale_offset(int64_t n, int64_t k);

// Writes `w` with `scale` as the tensor scale; `out` must be tl2_bytes.
void encode_tl2(const CanonicalTernary& w, float scale, std::span<uint8_t> out);
// The inverse. InputError naming `name` for a byte no encoder writes (a
// magnitude above 13, a negative zero, a pair above 8, non-zero padding) or
// a scale that is not finite and non-zero.
CanonicalTernary decode_tl2(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);

}  // namespace bitlab
