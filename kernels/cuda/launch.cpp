#include "kernels/cuda/launch.h"

namespace bitlab::cuda {
namespace {

// One overload per kind of arguments: a new kind without one does not compile.
void run(const EmbedArgs& a, uint8_t, const LaunchTarget& to) { launch_embed(a, to); }
void run(const RmsnormArgs& a, uint8_t, const LaunchTarget& to) { launch_rmsnorm(a, to); }
void run(const QuantizeArgs& a, uint8_t, const LaunchTarget& to) { launch_quantize(a, to); }
void run(const ActPrepArgs& a, uint8_t, const LaunchTarget& to) { launch_act_prep(a, to); }
void run(const RopeArgs& a, uint8_t, const LaunchTarget& to) { launch_rope(a, to); }
void run(const ElementwiseArgs& a, uint8_t, const LaunchTarget& to) { launch_elementwise(a, to); }
void run(const LmHeadArgs& a, uint8_t, const LaunchTarget& to) { launch_lm_head(a, to); }
void run(const LmHeadI8Args& a, uint8_t, const LaunchTarget& to) { launch_lm_head_i8(a, to); }
void run(const ArgmaxArgs& a, uint8_t, const LaunchTarget& to) { launch_argmax(a, to); }

void run(const MatmulArgs& a, uint8_t variant, const LaunchTarget& to) {
  if (MatmulKernel(variant) == MatmulKernel::Gemv)
    launch_gemv(a, to);
  else
    launch_gemm(a, to);
}

void run(const AttentionArgs& a, uint8_t variant, const LaunchTarget& to) {
  switch (AttentionKernel(variant)) {
    case AttentionKernel::Chunks:
      launch_attention_chunks(a, to);
      break;
    case AttentionKernel::Merge:
      launch_attention_merge(a, to);
      break;
    case AttentionKernel::Tiled:
      launch_attention_tiled(a, to);
      break;
  }
}

}  // namespace

void launch(const Op& op, const LaunchTarget& to) {
  std::visit([&](const auto& args) { run(args, op.variant, to); }, op.args);
}

int kernel_count(const Op& op) { return std::holds_alternative<ArgmaxArgs>(op.args) ? 2 : 1; }

}  // namespace bitlab::cuda
