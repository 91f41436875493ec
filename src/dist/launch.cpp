// `--nproc N`: a local launcher in the manner of torchrun's standalone mode.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "netadj/dist/dist.h"
#include "netadj/util/log.h"

namespace netadj::dist {

namespace {

std::atomic<int> g_forward_signal{0};

void remember_signal(int sig) { g_forward_signal = sig; }

// A port the kernel has just handed out (bound to port 0, then released) for rank 0's TCPStore.
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw DistError(std::string("--nproc: cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw DistError(std::string("--nproc: cannot find a free port: ") + std::strerror(errno));
  }
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

pid_t start_rank(char** argv, int rank, int nproc, int port) {
  pid_t pid = ::fork();
  if (pid < 0)
    throw DistError(std::string("--nproc: cannot start rank ") + std::to_string(rank) + ": " + std::strerror(errno));
  if (pid > 0) return pid;
  auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
  set("RANK", std::to_string(rank));
  set("LOCAL_RANK", std::to_string(rank));
  set("WORLD_SIZE", std::to_string(nproc));
  set("LOCAL_WORLD_SIZE", std::to_string(nproc));
  set("MASTER_ADDR", "127.0.0.1");
  set("MASTER_PORT", std::to_string(port));
  ::execv("/proc/self/exe", argv);
  std::fprintf(stderr, "netadj: error: --nproc: cannot run /proc/self/exe: %s\n", std::strerror(errno));
  std::_Exit(1);
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 1;
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

int launch_local(int argc, char** argv, int nproc, std::chrono::seconds grace) {
  (void)argc;
  const int port = free_port();
  logger()->info("starting {} ranks (Gloo/NCCL rendezvous at 127.0.0.1:{})", nproc, port);
  struct sigaction sa {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) pids.push_back(start_rank(argv, r, nproc, port));
  std::vector<bool> running(size_t(nproc), true);
  int left = nproc, result = 0, first_failed = -1;
  std::chrono::steady_clock::time_point term_at{}, kill_at{};
  bool termed = false, killed = false;
  while (left > 0) {
    if (int sig = g_forward_signal.exchange(0); sig != 0) {
      for (int r = 0; r < nproc; ++r)
        if (running[size_t(r)]) ::kill(pids[size_t(r)], sig);
    }
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nproc; ++r) {
        if (pids[size_t(r)] != pid || !running[size_t(r)]) continue;
        running[size_t(r)] = false;
        --left;
        int code = exit_code(status);
        if (code != 0 && first_failed < 0) {
          first_failed = r;
          result = code;
          logger()->error("rank {} (pid {}) {}; stopping the other ranks", r, pid, describe(status));
          term_at = std::chrono::steady_clock::now() + grace;
        } else if (code != 0) {
          logger()->warn("rank {} (pid {}) {}", r, pid, describe(status));
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    auto now = std::chrono::steady_clock::now();
    if (first_failed >= 0 && !termed && now >= term_at) {
      for (int r = 0; r < nproc; ++r)
        if (running[size_t(r)]) ::kill(pids[size_t(r)], SIGTERM);
      termed = true;
      kill_at = now + std::chrono::seconds(10);
    }
    if (termed && !killed && now >= kill_at) {
      for (int r = 0; r < nproc; ++r)
        if (running[size_t(r)]) ::kill(pids[size_t(r)], SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  return result;
}

}  // namespace netadj::dist
