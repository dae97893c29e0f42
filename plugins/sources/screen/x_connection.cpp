#include "screen/x_connection.hpp"

#include <X11/Xlib.h>
#include <dlfcn.h>
#include <unistd.h>

#include <map>
#include <mutex>

namespace tributary::sources::x11 {

namespace {

std::mutex& mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, std::uint64_t>& breaks() {
  static std::map<std::string, std::uint64_t> b;
  return b;
}

int on_broken_connection(Display* display) {
  const char* name = DisplayString(display);
  {
    std::lock_guard<std::mutex> lock(mutex());
    ++breaks()[name != nullptr ? name : ""];
  }
  // Returning would let Xlib end the process. The thread that found the break (a capture's
  // streaming thread) waits here for good; its pipeline cannot be stopped (that waits for this
  // thread), so the screen node leaves it behind and starts another.
  for (;;) ::pause();
}

}  // namespace

void guard_connections() {
  static std::once_flag once;
  std::call_once(once, [] {
    XSetIOErrorHandler(on_broken_connection);
    // A held thread runs this library's code until the process ends: the library stays mapped
    // when the registry unloads the plugins.
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&on_broken_connection), &self) != 0 && self.dli_fname != nullptr)
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  });
}

std::uint64_t broken(const std::string& display) {
  std::lock_guard<std::mutex> lock(mutex());
  auto it = breaks().find(display);
  return it == breaks().end() ? 0 : it->second;
}

}  // namespace tributary::sources::x11
