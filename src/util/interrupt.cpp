#include "netadj/util/interrupt.h"

#include <atomic>
#include <csignal>

namespace netadj {
namespace {

// Lock-free, so safe to write from a handler; atomic, because any thread may take the signal.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_signal(int sig) {
  g_signal = sig;
  // The next signal of either kind gets the default action: a second Ctrl-C ends the process at once.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

void install_interrupt_handlers() {
  if (g_signal != 0) return;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupt_requested() { return g_signal != 0; }

std::string interrupt_signal_name() {
  const int sig = g_signal;
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return sig ? "signal " + std::to_string(sig) : "";
  }
}

}  // namespace netadj
