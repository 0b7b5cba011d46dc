#include "harness/llama_logits.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "model/config.h"
#include "model/error.h"

namespace bitlab {

LlamaLogitsFile::LlamaLogitsFile(std::shared_ptr<const MappedFile> file, int64_t vocab, int64_t max_pos)
    : file_(std::move(file)) {
  const MappedFile& f = *file_;
  const std::string& path = f.path();
  char magic[8] = {};
  if (f.size() >= sizeof magic) f.copy(0, magic, sizeof magic);
  if (std::memcmp(magic, kLlamaLogitsMagic, sizeof magic) != 0)
    throw InputError(fmt::format("'{}' is not a llama-perplexity logits file (no \"_logits_\" magic)", path));
  if (f.size() < 20) throw InputError(fmt::format("'{}': the llama-perplexity logits header is cut off", path));
  int32_t head[3];
  f.copy(8, head, sizeof head);
  n_ctx_ = head[0];
  n_vocab_ = head[1];
  n_chunk_ = head[2];
  if (n_vocab_ != vocab)
    throw InputError(fmt::format("'{}': n_vocab = {} but the model has {} tokens", path, n_vocab_, vocab));
  if (n_ctx_ < 3 || n_ctx_ > max_pos)  // below 3 a chunk has no scored positions
    throw InputError(fmt::format("'{}': n_ctx = {} is outside 3..{} (the model's positions)", path, n_ctx_, max_pos));
  if (n_chunk_ < 1) throw InputError(fmt::format("'{}': n_chunk = {} (expected at least 1)", path, n_chunk_));
  row_u16_ = uint64_t(2 * ((n_vocab_ + 1) / 2) + 4);
  const uint64_t n_ids = checked_mul(uint64_t(n_chunk_), uint64_t(n_ctx_), path);
  rows_offset_ = checked_add(20, checked_mul(n_ids, 4, path), path);
  const uint64_t n_rows = checked_mul(uint64_t(n_chunk_), uint64_t(rows_per_chunk()), path);
  const uint64_t expect = checked_add(rows_offset_, checked_mul(checked_mul(n_rows, row_u16_, path), 2, path), path);
  if (f.size() != expect)
    throw InputError(fmt::format("'{}' is {} bytes; n_ctx = {}, n_vocab = {}, n_chunk = {} need {}{}", path, f.size(),
                                 n_ctx_, n_vocab_, n_chunk_, expect, f.size() < expect ? " (truncated)" : ""));
  ids_.resize(n_ids);
  f.copy(20, ids_.data(), n_ids * 4);
  for (size_t i = 0; i < ids_.size(); ++i) check_token_id(path, fmt::format("id {}", i + 1), ids_[i], vocab);
}

void LlamaLogitsFile::row(int64_t k, float* out) const {
  if (k < 0 || k >= rows()) throw UsageError(fmt::format("row {} outside 0..{}", k, rows() - 1));
  std::vector<uint16_t> row(row_u16_);
  file_->copy(rows_offset_ + uint64_t(k) * row_u16_ * 2, row.data(), row_u16_ * 2);
  float scale = 0, min_lp = 0;
  std::memcpy(&scale, &row[0], 4);
  std::memcpy(&min_lp, &row[2], 4);
  if (!std::isfinite(scale) || !std::isfinite(min_lp))
    throw InputError(fmt::format("'{}': row {} has a non-finite scale or minimum", file_->path(), k));
  for (int64_t i = 0; i < n_vocab_; ++i) out[i] = min_lp + scale * float(row[4 + size_t(i)]);
}

}  // namespace bitlab
