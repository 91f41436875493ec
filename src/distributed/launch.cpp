// `--nproc N`: a local launcher in the manner of torchrun's standalone mode.
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "netadj/distributed/distributed.h"
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

// The environment of rank `rank`: this process's, with the job's variables set. Built before fork(), so
// the child only calls async-signal-safe functions before execve().
std::vector<std::string> rank_environment(int rank, int nproc, int port) {
  const std::vector<std::pair<std::string, std::string>> job = {
      {"RANK", std::to_string(rank)},        {"LOCAL_RANK", std::to_string(rank)},
      {"WORLD_SIZE", std::to_string(nproc)}, {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
      {"MASTER_ADDR", "127.0.0.1"},          {"MASTER_PORT", std::to_string(port)}};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string var = *e;
    bool replaced = false;
    for (const auto& [k, v] : job) replaced = replaced || var.rfind(k + "=", 0) == 0;
    if (!replaced) env.push_back(var);
  }
  for (const auto& [k, v] : job) env.push_back(k + "=" + v);
  return env;
}

pid_t start_rank(char** argv, int rank, int nproc, int port) {
  std::vector<std::string> env = rank_environment(rank, nproc, port);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t launcher = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    throw DistError(std::string("--nproc: cannot start rank ") + std::to_string(rank) + ": " + std::strerror(errno));
  if (pid > 0) return pid;
  // A process group of its own: a terminal's Ctrl-C reaches the launcher only, which forwards it once (a
  // second SIGINT would stop a rank without saving). If the launcher dies, its ranks get SIGTERM.
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != launcher) ::_exit(1);
  ::execve("/proc/self/exe", argv, envp.data());
  static const char msg[] = "netadj: error: --nproc: cannot run /proc/self/exe\n";
  [[maybe_unused]] auto n = ::write(2, msg, sizeof(msg) - 1);
  ::_exit(1);
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

namespace {

using Clock = std::chrono::steady_clock;

// The launcher's state: its ranks, who still runs, the first failure, and the signal dispositions it
// replaced (restored when it goes).
class Launcher {
 public:
  Launcher(int nproc, std::chrono::seconds grace) : nproc_(nproc), grace_(grace) {
    struct sigaction fwd {
    }, dfl{};
    fwd.sa_handler = remember_signal;
    sigemptyset(&fwd.sa_mask);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGINT, &fwd, &old_int_);
    ::sigaction(SIGTERM, &fwd, &old_term_);
    ::sigaction(SIGCHLD, &dfl, &old_chld_);  // an inherited SIG_IGN would make waitpid() lose the ranks
  }
  ~Launcher() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGCHLD, &old_chld_, nullptr);
  }

  void start(char** argv, int port) {
    try {
      for (int r = 0; r < nproc_; ++r) pids_.push_back(start_rank(argv, r, nproc_, port));
    } catch (const DistError&) {
      for (pid_t p : pids_) ::kill(p, SIGKILL);
      for (pid_t p : pids_) ::waitpid(p, nullptr, 0);
      throw;
    }
    running_.assign(size_t(nproc_), true);
    left_ = nproc_;
  }

  int wait_all() {
    while (left_ > 0) {
      forward_signal();
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        reaped(pid, status);
        continue;
      }
      if (pid < 0 && errno != EINTR) {
        logger()->error("--nproc: lost track of the ranks ({})", std::strerror(errno));
        return result_ != 0 ? result_ : 1;
      }
      escalate();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return result_;
  }

 private:
  void signal_running(int sig) {
    for (int r = 0; r < nproc_; ++r)
      if (running_[size_t(r)]) ::kill(pids_[size_t(r)], sig);
  }

  void forward_signal() {
    if (int sig = g_forward_signal.exchange(0); sig != 0) {
      interrupted_ = true;
      signal_running(sig);
    }
  }

  void reaped(pid_t pid, int status) {
    for (int r = 0; r < nproc_; ++r) {
      if (pids_[size_t(r)] != pid || !running_[size_t(r)]) continue;
      running_[size_t(r)] = false;
      --left_;
      const int code = exit_code(status);
      if (code == 130 && interrupted_) {  // the signal forwarded to it: saved and stopped, as asked
        if (first_failed_ < 0) result_ = code;
      } else if (code != 0 && first_failed_ < 0) {
        first_failed_ = r;
        result_ = code;
        logger()->error("rank {} (pid {}) {}; stopping the other ranks", r, pid, describe(status));
        term_at_ = Clock::now() + grace_;
      } else if (code != 0) {
        logger()->warn("rank {} (pid {}) {}", r, pid, describe(status));
      }
    }
  }

  // After a failure the other ranks get grace_ to stop by themselves, then SIGTERM, then SIGKILL.
  void escalate() {
    if (first_failed_ < 0) return;
    auto now = Clock::now();
    if (!termed_ && now >= term_at_) {
      signal_running(SIGTERM);
      termed_ = true;
      kill_at_ = now + std::chrono::seconds(10);
    } else if (termed_ && !killed_ && now >= kill_at_) {
      signal_running(SIGKILL);
      killed_ = true;
    }
  }

  const int nproc_;
  const std::chrono::seconds grace_;
  std::vector<pid_t> pids_;
  std::vector<bool> running_;
  int left_ = 0, result_ = 0, first_failed_ = -1;
  bool termed_ = false, killed_ = false, interrupted_ = false;
  Clock::time_point term_at_{}, kill_at_{};
  struct sigaction old_int_ {
  }, old_term_{}, old_chld_{};
};

}  // namespace

int launch_local(int argc, char** argv, int nproc, std::chrono::seconds grace) {
  (void)argc;
  const int port = free_port();
  logger()->info("starting {} ranks (Gloo/NCCL rendezvous at 127.0.0.1:{})", nproc, port);
  Launcher launcher(nproc, grace);
  launcher.start(argv, port);
  return launcher.wait_all();
}

}  // namespace netadj::dist
