#pragma once
// Xlib ends the whole process (exit(1)) when its connection to an X server breaks: the server quit,
// was killed, or its machine went away. A run capturing that screen would die with it, its sinks
// never flushed. Guarded, the thread that finds the connection broken stays where it is instead
// (Xlib lets no caller go on with a broken connection), the break is counted by display, and the
// screen node ends its capture cleanly, or reconnects.
#include <cstdint>
#include <string>

namespace tributary::sources::x11 {

// Installs the guard, once per process; before the first capture opens its display.
void guard_connections();
// How many connections to `display` (as XDisplayName gives it: ":99") broke in this process.
std::uint64_t broken(const std::string& display);

}  // namespace tributary::sources::x11
