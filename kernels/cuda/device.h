// The GPU a CUDA backend runs on: one stream that every kernel and copy goes
// through (so host copies are ordered with the kernels), the recorder of the
// step in progress, and device memory as bitlab Buffers.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "kernels/cuda/step_recorder.h"
#include "model/tensor.h"

namespace bitlab::cuda {

class Device {
 public:
  // programmatic: kernels may start before the one in front ends (launch.h LaunchTarget).
  Device(int index, bool graphs, bool programmatic);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  cudaStream_t stream() const { return stream_; }
  StepRecorder& steps() { return *steps_; }

 private:
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<StepRecorder> steps_;
};

// Device memory. write()/read() first run a step being recorded (its ops may
// produce or consume these bytes), then copy on the device's stream and wait.
class DeviceBuffer final : public Buffer {
 public:
  DeviceBuffer(std::shared_ptr<Device> device, size_t bytes);
  ~DeviceBuffer() override;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  size_t bytes() const override { return bytes_; }
  void write(const void* src, size_t offset, size_t n) override;
  void read(void* dst, size_t offset, size_t n) const override;
  uint8_t* data() const { return data_; }
  const Device* device() const { return device_.get(); }

 private:
  std::shared_ptr<Device> device_;
  uint8_t* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace bitlab::cuda
