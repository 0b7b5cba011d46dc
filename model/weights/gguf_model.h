// BitNet b1.58 models in GGUF, as bitnet.cpp writes them (ggml-model-i2_s.gguf):
// general.architecture "bitnet-b1.58", hyperparameters under that prefix,
// llama.cpp tensor names (token_embd, output_norm, blk.N.attn_q / attn_k /
// attn_v / attn_output / attn_norm / attn_sub_norm / ffn_gate / ffn_up /
// ffn_down / ffn_norm / ffn_sub_norm), ternary matrices as I2_S and norms as
// F32. Embedding F16, BF16 or F32; ternary matrices may also be F32/F16/BF16
// master weights, quantised as in docs/design.md §3.
#pragma once
#include <string>

#include "model/weights/canonical.h"
#include "model/weights/gguf.h"

namespace bitlab {

// The network's shape from the metadata (and the embedding's dims); throws
// InputError naming the key that is missing or inconsistent.
ModelConfig gguf_model_config(const GgufFile& g);
// Every tensor checked against that config: names, types, dims, no extras.
// Everything is copied out of the file: the weights hold no view of it.
ModelWeights load_gguf_model(const GgufFile& g);

// Writes `w` as bitnet.cpp reads it: I2_S matrices, F32 norms and a BF16
// embedding (exact: the canonical embedding is bf16). When `vocab` is given its
// tokenizer.* metadata is copied (its token count must equal the vocabulary);
// otherwise the file says tokenizer.ggml.model = "no_vocab".
void export_gguf_i2s(const ModelWeights& w, const std::string& path, const GgufFile* vocab = nullptr);

}  // namespace bitlab
