#pragma once
// A file that export sinks append text to: every write goes straight to the operating system, so
// what a sink accepted survives the process being killed, and every failure names the path.
#include <string>
#include <string_view>

namespace tributary::sinks {

class ExportFile {
 public:
  ExportFile() = default;
  ~ExportFile();
  ExportFile(const ExportFile&) = delete;
  ExportFile& operator=(const ExportFile&) = delete;

  const std::string& path() const noexcept { return path_; }
  bool is_open() const noexcept { return fd_ >= 0; }

  // Creates the parent directories and opens `path`, appending to it or truncating it.
  void open(const std::string& path, bool append);
  // The first line the file held when it was opened for appending; empty when it was empty or new.
  const std::string& first_line() const noexcept { return first_line_; }
  // Writes all of `text`; throws std::runtime_error("writing PATH failed: ...") on any failure.
  void write(std::string_view text);
  void close();

 private:
  [[noreturn]] void fail(int error) const;

  std::string path_;
  int fd_ = -1;
  std::string first_line_;
  bool needs_newline_ = false;  // the existing file ends in the middle of a line
};

}  // namespace tributary::sinks
