// BitNet b1.58 checkpoints in the Hugging Face layout: config.json plus
// model.safetensors (or model.safetensors.index.json and its shards), tensor
// names as in microsoft/bitnet-b1.58-2B-4T:
//   model.embed_tokens.weight                      bf16 [vocab, hidden] (tied LM head)
//   model.norm.weight                              [hidden]
//   model.layers.N.input_layernorm.weight          [hidden]   (attn_norm)
//   model.layers.N.self_attn.{q,k,v,o}_proj.weight    + .weight_scale
//   model.layers.N.self_attn.attn_sub_norm.weight  [hidden]
//   model.layers.N.post_attention_layernorm.weight [hidden]   (ffn_norm)
//   model.layers.N.mlp.{gate,up,down}_proj.weight     + .weight_scale
//   model.layers.N.mlp.ffn_sub_norm.weight         [ffn]
// Ternary weights are uint8 [n/4, k] (docs/design.md §3 packing) with a one-element
// weight_scale whose direction comes from quantization_config.linear_class
// (autobitlinear multiplies, bitlinear divides; anything else is refused), or
// bf16/fp16/fp32 master weights [n, k] quantised with absmean.
#pragma once
#include <string>
#include <string_view>

#include "model/weights/canonical.h"

namespace bitlab {

struct HfConfig {
  ModelConfig model;
  std::string linear_class;  // empty when config.json has no quantization_config
};
// Parses config.json text; throws InputError naming the missing or bad field.
HfConfig parse_hf_config(std::string_view json_text, const std::string& what);

// `path`: a directory, or a .safetensors / .safetensors.index.json file with
// config.json beside it.
ModelConfig hf_model_config(const std::string& path);
ModelWeights load_hf_model(const std::string& path);

// Writes `dir`/config.json and `dir`/model.safetensors (creating `dir`): packed
// uint8 ternary weights with fp32 weight_scale (autobitlinear), fp32 norms and
// the bf16 embedding, so the readers load back the same bytes.
void export_hf_safetensors(const ModelWeights& w, const std::string& dir);

}  // namespace bitlab
