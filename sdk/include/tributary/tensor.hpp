#pragma once
// Tensors: a dtype, a shape and shared ownership of a byte buffer. Views share the buffer.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace tributary {

enum class DType : std::uint8_t { u8, i16, i32, i64, f32, f64 };

const char* to_string(DType dtype) noexcept;
std::size_t element_size(DType dtype) noexcept;

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<std::uint8_t> {
  static constexpr DType value = DType::u8;
};
template <>
struct DTypeOf<std::int16_t> {
  static constexpr DType value = DType::i16;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::i64;
};
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::f64;
};

using Shape = std::vector<std::int64_t>;

std::string to_string(const Shape& shape);
std::int64_t element_count(const Shape& shape) noexcept;

// Contiguous, row-major tensor over a shared buffer. Copies are cheap and share the bytes;
// slice() and reshape() are views. The owner keeps whatever memory `data` points into alive
// (a std::vector, a GStreamer buffer, a torch tensor), so foreign memory is wrapped, not copied.
class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(DType dtype, Shape shape);  // uninitialised bytes
  static Tensor zeros(DType dtype, Shape shape);
  static Tensor wrap(std::shared_ptr<void> owner, void* data, DType dtype, Shape shape);

  template <typename T>
  static Tensor from_vector(std::vector<T> values, Shape shape) {
    auto holder = std::make_shared<std::vector<T>>(std::move(values));
    void* data = holder->data();
    check_count(static_cast<std::int64_t>(holder->size()), shape);
    return wrap(std::move(holder), data, DTypeOf<T>::value, std::move(shape));
  }
  template <typename T>
  static Tensor from_vector(std::vector<T> values) {
    Shape shape{static_cast<std::int64_t>(values.size())};
    return from_vector(std::move(values), std::move(shape));
  }

  bool defined() const noexcept { return data_ != nullptr || numel() == 0; }
  DType dtype() const noexcept { return dtype_; }
  const Shape& shape() const noexcept { return shape_; }
  std::size_t rank() const noexcept { return shape_.size(); }
  std::int64_t dim(std::size_t i) const;
  std::int64_t numel() const noexcept { return element_count(shape_); }
  std::size_t nbytes() const noexcept { return static_cast<std::size_t>(numel()) * element_size(dtype_); }

  // Typed element access; throws std::invalid_argument when T does not match dtype().
  template <typename T>
  T* data() {
    check_dtype(DTypeOf<std::remove_const_t<T>>::value);
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    check_dtype(DTypeOf<std::remove_const_t<T>>::value);
    return static_cast<const T*>(data_);
  }
  void* raw() noexcept { return data_; }
  const void* raw() const noexcept { return data_; }
  const std::shared_ptr<void>& owner() const noexcept { return owner_; }

  // Rows [begin, end) along the first dimension, sharing the buffer.
  Tensor slice(std::int64_t begin, std::int64_t end) const;
  // Row i along the first dimension, rank reduced by one, sharing the buffer.
  Tensor select(std::int64_t index) const;
  // The same elements under another shape; one dimension may be -1.
  Tensor reshape(Shape shape) const;
  // A deep copy with its own buffer.
  Tensor clone() const;
  // A converted copy (or this tensor when the dtype already matches).
  Tensor to(DType dtype) const;

  // Element i (row-major) widened to double, whatever the dtype: for sinks and tests.
  double at(std::int64_t index) const;

 private:
  static void check_count(std::int64_t count, const Shape& shape);
  void check_dtype(DType expected) const;

  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
  DType dtype_ = DType::f32;
  Shape shape_;
};

}  // namespace tributary
