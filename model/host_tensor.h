// Raw pointers into tensors that live in host memory (HostBuffer), for the
// reference and the CPU backends. A tensor from another backend's memory is a
// UsageError, not a crash.
#pragma once
#include "model/error.h"
#include "model/tensor.h"

namespace bitlab {

template <class T>
T* host_ptr(const Tensor& t) {
  auto* hb = dynamic_cast<HostBuffer*>(t.buf.get());
  if (!hb) throw UsageError("tensor does not live in host memory: it belongs to another backend");
  return reinterpret_cast<T*>(hb->data() + t.offset);
}

}  // namespace bitlab
