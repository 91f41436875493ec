#pragma once
// One named spdlog logger ("netadj"): console on stderr plus, once a run directory exists, its log.txt.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace netadj {

std::shared_ptr<spdlog::logger> logger();
/// level: "debug", "info", "warn", "error".
void set_log_level(const std::string& level);
/// Mirrors every later message into `path` (appending, so a resumed run keeps its history).
void add_log_file(const std::string& path);
/// A data-parallel rank other than 0: its console shows warnings and errors only, each prefixed with
/// "rank N", and it keeps no log file (rank 0 writes the run's log.txt).
void set_log_rank(int rank);
/// The rank set by set_log_rank (0 when none): main() prefixes another rank's error line with it.
int log_rank();
/// True when stderr is a terminal (progress lines are redrawn in place then).
bool stderr_is_tty();
/// A duration for people: "45s", "12m30s", "3h05m", "2d04h".
std::string human_duration(double seconds);

}  // namespace netadj
