#include "export/export_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace tributary::sinks {

namespace fs = std::filesystem;

ExportFile::~ExportFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ExportFile::fail(int error) const {
  throw std::runtime_error("writing " + path_ + " failed: " + std::strerror(error));
}

void ExportFile::open(const std::string& path, bool append) {
  close();
  path_ = path;
  const fs::path file(path_);
  if (file.has_parent_path()) {
    std::error_code error;
    fs::create_directories(file.parent_path(), error);
    if (error) {
      throw std::runtime_error("creating the directory " + file.parent_path().string() + " for " + path_ +
                               " failed: " + error.message());
    }
  }

  first_line_.clear();
  needs_newline_ = false;
  std::error_code error;
  // Only regular files are read back: devices and pipes (/dev/stdout, /dev/full) start empty.
  if (append && fs::is_regular_file(file, error) && fs::file_size(file, error) > 0 && !error) {
    std::ifstream existing(path_, std::ios::binary);
    std::getline(existing, first_line_);
    if (!first_line_.empty() && first_line_.back() == '\r') first_line_.pop_back();
    existing.clear();
    existing.seekg(-1, std::ios::end);
    char last = '\n';
    existing.get(last);
    needs_newline_ = last != '\n';
  }

  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  do {
    fd_ = ::open(path_.c_str(), flags, 0644);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) throw std::runtime_error("opening " + path_ + " for writing failed: " + std::strerror(errno));
}

void ExportFile::write(std::string_view text) {
  if (fd_ < 0) throw std::logic_error("writing " + path_ + " before it was opened");
  if (needs_newline_) {
    needs_newline_ = false;
    write("\n");
  }
  while (!text.empty()) {
    const ssize_t written = ::write(fd_, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(errno);
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

void ExportFile::close() {
  if (fd_ < 0) return;
  const int fd = fd_;
  fd_ = -1;
  // After close() the descriptor is gone even when it reports EINTR; retrying could close another file.
  if (::close(fd) != 0 && errno != EINTR) fail(errno);
}

}  // namespace tributary::sinks
