#pragma once
// Located errors: everything wrong with a pipeline is reported as file:line:column + what + hint.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tributary::core {

struct Location {
  std::string file;  // a path, or "--set node.key=value" for a command-line override
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string to_string() const;  // "file:line:column", or "file" without a line
};

struct Diagnostic {
  Location where;
  std::string message;
  std::string hint;                // may be empty
  const char* severity = "error";  // or "note": worth knowing, not a reason to refuse
};

// "file:3:7: error: unknown parameter 'n_mfc'\n  hint: did you mean 'n_mfcc'?"
std::string format(const Diagnostic& diagnostic);

// "a, b, c" from {"a", "b", "c"} and ", ".
std::string join(const std::vector<std::string>& items, const std::string& separator);

// Holds its diagnostics sorted by place: by line and column within a file, files in the order
// they first appear (command-line overrides are files of their own).
class PipelineError : public std::runtime_error {
 public:
  explicit PipelineError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }
  std::string report() const;  // every diagnostic, one block each

 private:
  struct Sorted {
    std::vector<Diagnostic> diagnostics;
  };
  explicit PipelineError(Sorted sorted);
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace tributary::core
