#include "kernels/cuda/step_recorder.h"

#include <algorithm>

#include "kernels/cuda/cuda_error.h"

namespace bitlab::cuda {

StepRecorder::StepRecorder(LaunchTarget target, bool graphs) : target_(target), graphs_(graphs) {
  check(cudaMalloc(reinterpret_cast<void**>(&pos_dev_), sizeof(int64_t)), "allocating the step position");
}

StepRecorder::~StepRecorder() {
  cudaStreamSynchronize(target_.stream);
  for (Entry& e : entries_)
    if (e.exec) cudaGraphExecDestroy(e.exec);
  cudaFree(pos_dev_);
}

void StepRecorder::begin() {
  if (!graphs_) return;
  recording_ = true;
  ops_.clear();
  has_pos_ = false;
}

void StepRecorder::submit(const Op& op) {
  if (recording_)
    ops_.push_back(op);
  else
    launch(op, target_);
}

PosRef StepRecorder::position(int64_t pos0) {
  if (!recording_) return PosRef{nullptr, pos0};
  if (!has_pos_) {
    has_pos_ = true;
    step_pos_ = pos0;
  }
  return PosRef{pos_dev_, pos0 - step_pos_};
}

void StepRecorder::set_position() {
  if (has_pos_) launch_set_position(pos_dev_, step_pos_, target_);
}

void StepRecorder::launch_all(const std::vector<Op>& ops) {
  for (const Op& op : ops) launch(op, target_);
}

void StepRecorder::flush() {
  if (!recording_) return;
  recording_ = false;
  set_position();
  launch_all(ops_);
  ops_.clear();
  has_pos_ = false;
}

cudaGraphExec_t StepRecorder::capture(const std::vector<Op>& ops) {
  check(cudaStreamBeginCapture(target_.stream, cudaStreamCaptureModeThreadLocal), "starting a graph capture");
  cudaGraph_t graph = nullptr;
  try {
    launch_all(ops);
  } catch (...) {
    cudaStreamEndCapture(target_.stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  check(cudaStreamEndCapture(target_.stream, &graph), "capturing a step into a graph");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(e, "instantiating a step graph");
  return exec;
}

StepRecorder::Entry& StepRecorder::remember(std::vector<Op> ops) {
  if (entries_.size() >= kMaxEntries) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
    if (oldest->exec) {
      check(cudaStreamSynchronize(target_.stream), "retiring a step graph");  // it may still be running
      cudaGraphExecDestroy(oldest->exec);
    }
    entries_.erase(oldest);
  }
  entries_.push_back(Entry{std::move(ops), nullptr, 0});
  return entries_.back();
}

void StepRecorder::end() {
  if (!recording_) return;
  recording_ = false;
  std::vector<Op> ops = std::move(ops_);
  ops_.clear();
  if (ops.empty()) return;
  ++stats_.steps;
  stats_.last_kernels = has_pos_ ? 1 : 0;
  for (const Op& op : ops) stats_.last_kernels += kernel_count(op);
  set_position();
  has_pos_ = false;
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.ops == ops; });
  if (it == entries_.end()) {
    ++stats_.eager;
    Entry& e = remember(std::move(ops));
    e.last_use = ++clock_;
    launch_all(e.ops);
    return;
  }
  it->last_use = ++clock_;
  if (!it->exec) {
    it->exec = capture(it->ops);
    ++stats_.captures;
  } else {
    ++stats_.replays;
  }
  check(cudaGraphLaunch(it->exec, target_.stream), "launching a step graph");
}

}  // namespace bitlab::cuda
