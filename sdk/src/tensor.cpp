#include "tributary/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace tributary {

const char* to_string(DType dtype) noexcept {
  switch (dtype) {
    case DType::u8:
      return "u8";
    case DType::i16:
      return "i16";
    case DType::i32:
      return "i32";
    case DType::i64:
      return "i64";
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
  }
  return "unknown";
}

std::size_t element_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::u8:
      return 1;
    case DType::i16:
      return 2;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
  }
  return 1;
}

std::string to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::int64_t element_count(const Shape& shape) noexcept {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {
void check_shape(const Shape& shape) {
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("tensor shape " + to_string(shape) + " has a negative dimension");
  }
}

std::shared_ptr<void> allocate(std::size_t bytes) {
  // One allocation, freed with std::free: aligned for every dtype.
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace

Tensor Tensor::empty(DType dtype, Shape shape) {
  check_shape(shape);
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = allocate(t.nbytes());
  t.data_ = t.owner_.get();
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::wrap(std::shared_ptr<void> owner, void* data, DType dtype, Shape shape) {
  check_shape(shape);
  Tensor t;
  t.owner_ = std::move(owner);
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  return t;
}

void Tensor::check_count(std::int64_t count, const Shape& shape) {
  check_shape(shape);
  if (element_count(shape) != count) {
    throw std::invalid_argument("tensor shape " + to_string(shape) + " holds " + std::to_string(element_count(shape)) +
                                " elements, but " + std::to_string(count) + " were given");
  }
}

void Tensor::check_dtype(DType expected) const {
  if (expected != dtype_) {
    throw std::invalid_argument(std::string("tensor holds ") + to_string(dtype_) + ", accessed as " +
                                to_string(expected));
  }
}

std::int64_t Tensor::dim(std::size_t i) const {
  if (i >= shape_.size()) {
    throw std::out_of_range("dimension " + std::to_string(i) + " of a tensor of rank " + std::to_string(shape_.size()));
  }
  return shape_[i];
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
  if (shape_.empty()) throw std::invalid_argument("cannot slice a scalar tensor");
  if (begin < 0 || end < begin || end > shape_[0]) {
    throw std::out_of_range("slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") of a tensor of shape " +
                            to_string(shape_));
  }
  Shape row_shape(shape_.begin() + 1, shape_.end());
  auto row_bytes = static_cast<std::size_t>(element_count(row_shape)) * element_size(dtype_);
  Tensor t = *this;
  t.shape_[0] = end - begin;
  t.data_ = static_cast<char*>(data_) + static_cast<std::size_t>(begin) * row_bytes;
  return t;
}

Tensor Tensor::select(std::int64_t index) const {
  Tensor t = slice(index, index + 1);
  t.shape_.erase(t.shape_.begin());
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) throw std::invalid_argument("reshape to " + to_string(shape) + ": more than one -1");
      inferred = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0 && known > 0 && numel() % known == 0) shape[static_cast<std::size_t>(inferred)] = numel() / known;
  if (element_count(shape) != numel()) {
    throw std::invalid_argument("cannot reshape a tensor of shape " + to_string(shape_) + " to " + to_string(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(dtype_, shape_);
  if (nbytes() > 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

namespace {
template <typename From, typename To>
void convert(const void* src, void* dst, std::int64_t n) {
  auto s = static_cast<const From*>(src);
  auto d = static_cast<To*>(dst);
  for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<To>(s[i]);
}

template <typename From>
void convert_from(const void* src, DType to, void* dst, std::int64_t n) {
  switch (to) {
    case DType::u8:
      convert<From, std::uint8_t>(src, dst, n);
      break;
    case DType::i16:
      convert<From, std::int16_t>(src, dst, n);
      break;
    case DType::i32:
      convert<From, std::int32_t>(src, dst, n);
      break;
    case DType::i64:
      convert<From, std::int64_t>(src, dst, n);
      break;
    case DType::f32:
      convert<From, float>(src, dst, n);
      break;
    case DType::f64:
      convert<From, double>(src, dst, n);
      break;
  }
}
}  // namespace

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor t = empty(dtype, shape_);
  const auto n = numel();
  switch (dtype_) {
    case DType::u8:
      convert_from<std::uint8_t>(data_, dtype, t.data_, n);
      break;
    case DType::i16:
      convert_from<std::int16_t>(data_, dtype, t.data_, n);
      break;
    case DType::i32:
      convert_from<std::int32_t>(data_, dtype, t.data_, n);
      break;
    case DType::i64:
      convert_from<std::int64_t>(data_, dtype, t.data_, n);
      break;
    case DType::f32:
      convert_from<float>(data_, dtype, t.data_, n);
      break;
    case DType::f64:
      convert_from<double>(data_, dtype, t.data_, n);
      break;
  }
  return t;
}

double Tensor::at(std::int64_t index) const {
  if (index < 0 || index >= numel()) {
    throw std::out_of_range("element " + std::to_string(index) + " of a tensor of shape " + to_string(shape_));
  }
  switch (dtype_) {
    case DType::u8:
      return static_cast<const std::uint8_t*>(data_)[index];
    case DType::i16:
      return static_cast<const std::int16_t*>(data_)[index];
    case DType::i32:
      return static_cast<const std::int32_t*>(data_)[index];
    case DType::i64:
      return static_cast<double>(static_cast<const std::int64_t*>(data_)[index]);
    case DType::f32:
      return static_cast<const float*>(data_)[index];
    case DType::f64:
      return static_cast<const double*>(data_)[index];
  }
  return 0.0;
}

}  // namespace tributary
