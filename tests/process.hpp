#pragma once
// Runs a program and captures its output and exit code, optionally sending it a signal.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tributary::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to the environment
  std::string cwd;
  // When set: after `signal_after`, or once stdout or stderr contains `signal_when`, send `signal`,
  // calling `before_signal` first with the output so far (to look at a server the program runs).
  int signal = 0;
  std::chrono::milliseconds signal_after{0};
  std::string signal_when;
  std::function<void(const ProcessResult&)> before_signal;
  // Called every 20 ms or so while the program runs, with its pid and the output so far: a test
  // signals it there once it sees a state (rows in a file, a line printed), never at a time.
  std::function<void(pid_t, const ProcessResult&)> while_running;
  std::chrono::seconds timeout{120};
};

inline ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {}) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    for (const auto& [k, v] : options.env) setenv(k.c_str(), v.c_str(), 1);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ProcessResult result;
  auto start = std::chrono::steady_clock::now();
  bool signalled = false, killed = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    poll(fds, 2, 20);
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      }
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (options.signal != 0 && !signalled) {
      bool due = options.signal_when.empty()
                     ? elapsed >= options.signal_after
                     : (result.out.find(options.signal_when) != std::string::npos ||
                        result.err.find(options.signal_when) != std::string::npos) &&
                           elapsed >= options.signal_after;
      if (due) {
        if (options.before_signal) options.before_signal(result);
        kill(pid, options.signal);
        signalled = true;
      }
    }
    if (options.while_running && open_fds > 0) options.while_running(pid, result);
    if (!killed && elapsed > options.timeout) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace tributary::testing
