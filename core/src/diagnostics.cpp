#include "diagnostics.hpp"

namespace tributary::core {

std::string Location::to_string() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string format(const Diagnostic& d) {
  std::string out = d.where.to_string() + ": error: " + d.message;
  if (!d.hint.empty()) out += "\n  hint: " + d.hint;
  return out;
}

PipelineError::PipelineError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(diagnostics.empty() ? std::string("invalid pipeline") : format(diagnostics.front())),
      diagnostics_(std::move(diagnostics)) {}

std::string PipelineError::report() const {
  std::string out;
  for (const auto& d : diagnostics_) out += format(d) + "\n";
  return out;
}

}  // namespace tributary::core
