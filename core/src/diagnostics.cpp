#include "diagnostics.hpp"

#include <algorithm>
#include <tuple>

namespace tributary::core {

std::string Location::to_string() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string format(const Diagnostic& d) {
  std::string out = d.where.to_string() + ": " + d.severity + ": " + d.message;
  if (!d.hint.empty()) out += "\n  hint: " + d.hint;
  return out;
}

namespace {
std::vector<Diagnostic> by_place(std::vector<Diagnostic> diagnostics) {
  std::vector<std::string> files;
  for (const auto& d : diagnostics) {
    if (std::find(files.begin(), files.end(), d.where.file) == files.end()) files.push_back(d.where.file);
  }
  auto rank = [&](const Diagnostic& d) {
    auto file = std::find(files.begin(), files.end(), d.where.file) - files.begin();
    return std::make_tuple(file, d.where.line, d.where.column);
  };
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return rank(a) < rank(b); });
  return diagnostics;
}
}  // namespace

PipelineError::PipelineError(std::vector<Diagnostic> diagnostics)
    : PipelineError(Sorted{by_place(std::move(diagnostics))}) {}

PipelineError::PipelineError(Sorted sorted)
    : std::runtime_error(sorted.diagnostics.empty() ? std::string("invalid pipeline")
                                                    : format(sorted.diagnostics.front())),
      diagnostics_(std::move(sorted.diagnostics)) {}

std::string PipelineError::report() const {
  std::string out;
  for (const auto& d : diagnostics_) out += format(d) + "\n";
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

}  // namespace tributary::core
