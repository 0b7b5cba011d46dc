#include "kernels/cuda/device.h"

#include <fmt/format.h>

#include "kernels/cuda/cuda_error.h"
#include "model/error.h"

namespace bitlab::cuda {

Device::Device(int index, bool graphs, bool programmatic) {
  check(cudaSetDevice(index), "selecting the device");
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");
  steps_ = std::make_unique<StepRecorder>(LaunchTarget{stream_, programmatic}, graphs);
}

Device::~Device() {
  steps_.reset();
  cudaStreamSynchronize(stream_);
  cudaStreamDestroy(stream_);
}

DeviceBuffer::DeviceBuffer(std::shared_ptr<Device> device, size_t bytes) : device_(std::move(device)), bytes_(bytes) {
  const cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&data_), bytes ? bytes : 1);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw DeviceError(fmt::format("cuda: cannot allocate {:.1f} MiB of device memory: {}", double(bytes) / 1048576.0,
                                  cudaGetErrorString(e)));
  }
}

DeviceBuffer::~DeviceBuffer() { cudaFree(data_); }

namespace {
void check_range(const char* what, size_t offset, size_t n, size_t bytes) {
  if (offset > bytes || n > bytes - offset)
    throw UsageError(
        fmt::format("cuda: {} of {} bytes at offset {} overruns a {}-byte buffer", what, n, offset, bytes));
}
}  // namespace

void DeviceBuffer::write(const void* src, size_t offset, size_t n) {
  check_range("write", offset, n, bytes_);
  if (n == 0) return;
  device_->steps().flush();
  check(cudaMemcpyAsync(data_ + offset, src, n, cudaMemcpyHostToDevice, device_->stream()), "copying to the device");
  check(cudaStreamSynchronize(device_->stream()), "copying to the device");
}

void DeviceBuffer::read(void* dst, size_t offset, size_t n) const {
  check_range("read", offset, n, bytes_);
  if (n == 0) return;
  device_->steps().flush();
  check(cudaMemcpyAsync(dst, data_ + offset, n, cudaMemcpyDeviceToHost, device_->stream()), "copying from the device");
  check(cudaStreamSynchronize(device_->stream()), "copying from the device");
}

}  // namespace bitlab::cuda
