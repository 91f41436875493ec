#pragma once
// Running the real `netadj` binary from tests: exit status, captured stderr, optional signals.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "build_paths.h"
#include "netadj/util/fs.h"

namespace netadj::testing_util {

struct CliRun {
  int status = 0;   ///< exit code, or -signal when killed by one
  std::string err;  ///< what it printed on stderr
  std::string out;  ///< what it printed on stdout
};

/// Runs `binary` with `args` in `cwd` (empty: the current folder). Once `when` (polled every 5 ms)
/// returns true, `signal` is sent to the process (SIGKILL: a crash at an arbitrary moment; SIGINT or
/// SIGTERM: a user's interrupt). `in_child` runs in the child just before exec (limits, signal dispositions).
inline CliRun run_cli_in(const std::string& binary, const std::vector<std::string>& args, const std::string& cwd,
                         const std::function<bool()>& when = nullptr, int signal = SIGKILL,
                         const std::function<void()>& in_child = nullptr) {
  std::string base = ::testing::TempDir() + "/netadj_cli_" + std::to_string(getpid());
  std::string out_file = base + ".out", err_file = base + ".err";
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> copy = args;
    std::string bin = binary;
    std::vector<char*> argv{bin.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    if (in_child) in_child();
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  bool sent = false;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (!sent && when && when()) {
      kill(pid, signal);
      sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CliRun run;
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  run.out = file_exists(out_file) ? read_file(out_file) : "";
  run.err = file_exists(err_file) ? read_file(err_file) : "";
  return run;
}

inline CliRun run_cli_full(const std::vector<std::string>& args, const std::function<bool()>& when = nullptr,
                           int signal = SIGKILL) {
  return run_cli_in(NETADJ_BINARY, args, "", when, signal);
}

/// Exit status only.
inline int run_cli(const std::vector<std::string>& args, const std::function<bool()>& kill_when = nullptr) {
  return run_cli_full(args, kill_when).status;
}

}  // namespace netadj::testing_util
