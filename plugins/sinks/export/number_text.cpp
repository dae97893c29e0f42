#include "export/number_text.hpp"

#include <charconv>

#include "tributary/tensor.hpp"

namespace tributary::sinks {

namespace {
template <typename T>
void append_chars(std::string& out, T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}
}  // namespace

void append_number(std::string& out, double value) { append_chars(out, value); }
void append_number(std::string& out, float value) { append_chars(out, value); }
void append_integer(std::string& out, std::int64_t value) { append_chars(out, value); }
void append_integer(std::string& out, std::uint64_t value) { append_chars(out, value); }

void append_element(std::string& out, const Tensor& tensor, std::int64_t index) {
  switch (tensor.dtype()) {
    case DType::f32:
      append_number(out, tensor.data<float>()[index]);
      break;
    case DType::f64:
      append_number(out, tensor.data<double>()[index]);
      break;
    case DType::i64:
      append_integer(out, tensor.data<std::int64_t>()[index]);
      break;
    case DType::u8:
    case DType::i16:
    case DType::i32:
      append_integer(out, static_cast<std::int64_t>(tensor.at(index)));
      break;
  }
}

double decimal_value(float value) {
  char buffer[64];
  const auto written = std::to_chars(buffer, buffer + sizeof buffer, value);
  double result = value;
  std::from_chars(buffer, written.ptr, result);
  return result;
}

}  // namespace tributary::sinks
