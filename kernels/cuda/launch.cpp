#include "kernels/cuda/launch.h"

namespace bitlab::cuda {
namespace {

// One overload per kind of arguments: a new kind without one does not compile.
void run(const EmbedArgs& a, uint8_t, cudaStream_t s) { launch_embed(a, s); }
void run(const RmsnormArgs& a, uint8_t, cudaStream_t s) { launch_rmsnorm(a, s); }
void run(const QuantizeArgs& a, uint8_t, cudaStream_t s) { launch_quantize(a, s); }
void run(const ActPrepArgs& a, uint8_t, cudaStream_t s) { launch_act_prep(a, s); }
void run(const RopeArgs& a, uint8_t, cudaStream_t s) { launch_rope(a, s); }
void run(const ElementwiseArgs& a, uint8_t, cudaStream_t s) { launch_elementwise(a, s); }
void run(const LmHeadArgs& a, uint8_t, cudaStream_t s) { launch_lm_head(a, s); }
void run(const LmHeadI8Args& a, uint8_t, cudaStream_t s) { launch_lm_head_i8(a, s); }
void run(const ArgmaxArgs& a, uint8_t, cudaStream_t s) { launch_argmax(a, s); }

void run(const MatmulArgs& a, uint8_t variant, cudaStream_t s) {
  if (MatmulKernel(variant) == MatmulKernel::Gemv)
    launch_gemv(a, s);
  else
    launch_gemm(a, s);
}

void run(const AttentionArgs& a, uint8_t variant, cudaStream_t s) {
  switch (AttentionKernel(variant)) {
    case AttentionKernel::Chunks:
      launch_attention_chunks(a, s);
      break;
    case AttentionKernel::Merge:
      launch_attention_merge(a, s);
      break;
    case AttentionKernel::Tiled:
      launch_attention_tiled(a, s);
      break;
  }
}

}  // namespace

void launch(const Op& op, cudaStream_t s) {
  std::visit([&](const auto& args) { run(args, op.variant, s); }, op.args);
}

int kernel_count(const Op& op) { return std::holds_alternative<ArgmaxArgs>(op.args) ? 2 : 1; }

}  // namespace bitlab::cuda
