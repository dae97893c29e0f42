#pragma once
// A LibTorch tensor as an SDK Tensor, sharing its memory (no copy): for packets the trainer emits.
#include <ATen/core/Tensor.h>

#include <memory>
#include <stdexcept>

#include "tributary/tensor.hpp"

namespace tributary::models {

// `t` is brought to the CPU and made contiguous first; u8, i64, f32 and f64 only.
inline Tensor sdk_tensor(const at::Tensor& t) {
  auto held = std::make_shared<at::Tensor>(t.to(at::kCPU).contiguous());
  DType dtype = DType::f32;
  switch (held->scalar_type()) {
    case at::kByte:
      dtype = DType::u8;
      break;
    case at::kLong:
      dtype = DType::i64;
      break;
    case at::kFloat:
      dtype = DType::f32;
      break;
    case at::kDouble:
      dtype = DType::f64;
      break;
    default:
      throw std::invalid_argument("sdk_tensor: a tensor of another dtype than u8, i64, f32 or f64");
  }
  Shape shape(held->sizes().begin(), held->sizes().end());
  void* data = held->data_ptr();
  return Tensor::wrap(std::move(held), data, dtype, std::move(shape));
}

}  // namespace tributary::models
