#pragma once
// Numbers as export files write them: the shortest text that reads back to the same value.
#include <cstdint>
#include <string>

namespace tributary {
class Tensor;
}

namespace tributary::sinks {

void append_number(std::string& out, double value);
void append_number(std::string& out, float value);
void append_integer(std::string& out, std::int64_t value);
void append_integer(std::string& out, std::uint64_t value);
// Element `index` (row-major) of a tensor of any dtype, written as its dtype's shortest text.
void append_element(std::string& out, const Tensor& tensor, std::int64_t index);
// The double nearest to a float's shortest decimal text (0.1f -> 0.1, not 0.10000000149011612),
// for writers such as JSON that only know doubles.
double decimal_value(float value);

}  // namespace tributary::sinks
