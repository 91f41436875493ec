#pragma once
// Ctrl-C and `kill` (SIGINT/SIGTERM) stop a run cleanly: the handler only records the signal; the
// trainer finishes the step in flight, writes a checkpoint and throws Interrupted, the FUR loop stops
// after the layer in flight, and `main` prints how to resume and exits 130. A second signal ends the
// process at once (the default action).
#include <string>

#include "netadj/util/error.h"

namespace netadj {

/// Installs the SIGINT/SIGTERM handlers, unless a signal already arrived (its handler has given the next
/// one the default action, which stays).
void install_interrupt_handlers();
/// True once SIGINT or SIGTERM arrived after install_interrupt_handlers().
bool interrupt_requested();
/// "SIGINT" / "SIGTERM" (or "" when none arrived).
std::string interrupt_signal_name();
// Stopping at a point every rank agrees on is dist::throw_if_interrupted(world, what), the one check
// that throws Interrupted outside the trainer.

/// A run stopped by SIGINT/SIGTERM after saving its progress; exit code 130.
struct Interrupted : Error {
  explicit Interrupted(const std::string& msg) : Error(ExitCode::kInterrupted, msg) {}
};

}  // namespace netadj
