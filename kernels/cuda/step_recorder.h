// Records the ops of a forward step and runs the step as a CUDA graph.
//
// Between begin() and end() the backend's ops are recorded as launch
// arguments (launch.h) instead of being launched. Position-dependent ops
// (rope, attention) record the offset of their position from the step's first
// one and read the step's position from device memory, set by a one-thread
// kernel before the step runs. At end() the recorded list is compared with the
// steps seen before (pointers, shapes, scales: everything but the position):
//   - first sighting: the ops are launched one by one, and the list kept;
//   - second sighting: the list is captured into a CUDA graph, instantiated
//     and launched;
//   - after that: the graph is relaunched (one launch for the whole step).
// Decode steps of a Transformer record identical lists, so from the third
// token on a decode step is one graph launch. A host copy or synchronisation
// in the middle of a recording (flush()) launches what was recorded so far.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/launch.h"

namespace bitlab::cuda {

struct StepStats {
  int64_t steps = 0;     // recorded steps run
  int64_t eager = 0;     // ... launched op by op (first sighting, or graphs off)
  int64_t captures = 0;  // ... captured into a new graph
  int64_t replays = 0;   // ... relaunched from a cached graph
  int64_t last_kernels = 0;  // kernels in the last recorded step (the position setter included)
};

class StepRecorder {
 public:
  StepRecorder(LaunchTarget target, bool graphs);
  ~StepRecorder();
  StepRecorder(const StepRecorder&) = delete;
  StepRecorder& operator=(const StepRecorder&) = delete;

  bool graphs() const { return graphs_; }
  bool recording() const { return recording_; }
  // Starts recording (a step left open by an exception is dropped). No-op with graphs off.
  void begin();
  // Runs the recorded step (see above).
  void end();
  // Launches whatever has been recorded, op by op, and stops recording.
  void flush();
  // Launches `op` now, or records it.
  void submit(const Op& op);
  // The position a kernel should read for `pos0`: the value itself when
  // launching now, the step's device position plus an offset when recording.
  PosRef position(int64_t pos0);
  const StepStats& stats() const { return stats_; }

 private:
  struct Entry {
    std::vector<Op> ops;
    cudaGraphExec_t exec = nullptr;
    uint64_t last_use = 0;
  };
  void set_position();
  void launch_all(const std::vector<Op>& ops);
  cudaGraphExec_t capture(const std::vector<Op>& ops);
  Entry& remember(std::vector<Op> ops);

  static constexpr size_t kMaxEntries = 8;  // distinct steps kept (decode, a prefill length, ...)
  LaunchTarget target_;
  bool graphs_;
  bool recording_ = false;
  std::vector<Op> ops_;
  bool has_pos_ = false;
  int64_t step_pos_ = 0;
  int64_t* pos_dev_ = nullptr;
  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
  StepStats stats_;
};

}  // namespace bitlab::cuda
