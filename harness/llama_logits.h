// The logits file `llama-perplexity --kl-divergence-base FILE` writes (llama.cpp
// and bitnet.cpp alike), read so that `bitlab check --against` compares another
// engine's outputs with no converter.
//
// Layout: "_logits_", int32 n_ctx, int32 n_vocab, int32 n_chunk, the int32 ids
// of n_chunk chunks of n_ctx ids, then per chunk the rows of positions
// n_ctx/2 .. n_ctx-2, each as uint16[2 * ((n_vocab + 1) / 2) + 4]: a float scale
// and a float minimum, then n_vocab log-probabilities quantised as
// minimum + scale * q (values below the row's maximum - 16 are all the minimum).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "model/weights/mapped_file.h"

namespace bitlab {

inline constexpr char kLlamaLogitsMagic[] = "_logits_";  // 8 bytes, no NUL in the file

class LlamaLogitsFile {
 public:
  // Checks the whole file against a model of `vocab` tokens and `max_pos`
  // positions before anything is allocated from it: the header's counts, the
  // file's exact size (all offsets with checked arithmetic) and every id. Any
  // mismatch is an InputError naming the file.
  LlamaLogitsFile(std::shared_ptr<const MappedFile> file, int64_t vocab, int64_t max_pos);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_chunk() const { return n_chunk_; }
  // Every chunk's ids as evaluated, n_chunk x n_ctx.
  const std::vector<int32_t>& ids() const { return ids_; }
  // The first scored position of a chunk, and scored rows per chunk.
  int64_t first() const { return n_ctx_ / 2; }
  int64_t rows_per_chunk() const { return n_ctx_ - 1 - first(); }
  int64_t rows() const { return n_chunk_ * rows_per_chunk(); }
  // Row k (chunk k / rows_per_chunk(), position first() + k % rows_per_chunk())
  // as n_vocab log-probabilities; a non-finite scale or minimum is an InputError.
  void row(int64_t k, float* out) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  int64_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
  uint64_t rows_offset_ = 0, row_u16_ = 0;
  std::vector<int32_t> ids_;
};

}  // namespace bitlab
