#include "netadj/util/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include "netadj/util/error.h"

namespace netadj {

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> log = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_pattern("[%H:%M:%S] %^%l%$ %v");
    sink->set_level(spdlog::level::info);
    auto l = std::make_shared<spdlog::logger>("netadj", sink);
    // The logger passes everything; each sink filters (the console by --verbose/--quiet, the run's
    // log file keeps info and above whatever the console shows).
    l->set_level(spdlog::level::debug);
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return log;
}

namespace {
spdlog::level::level_enum g_file_level = spdlog::level::info;
}

void set_log_level(const std::string& level) {
  auto lv = spdlog::level::from_str(level);
  logger()->sinks().front()->set_level(lv);
  g_file_level = std::min(lv, spdlog::level::info);
}

namespace {
bool g_log_file = true;
int g_log_rank = 0;
}  // namespace

int log_rank() { return g_log_rank; }

void set_log_rank(int rank) {
  g_log_rank = rank;
  if (rank == 0) return;
  auto& console = logger()->sinks().front();
  console->set_pattern("[%H:%M:%S] %^%l%$ rank " + std::to_string(rank) + ": %v");
  console->set_level(std::max(console->level(), spdlog::level::warn));
  g_log_file = false;
}

void add_log_file(const std::string& path) {
  if (!g_log_file) return;
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] %l %v");
    sink->set_level(g_file_level);
    logger()->sinks().push_back(sink);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError(path + ": cannot open log file: " + e.what());
  }
}

bool stderr_is_tty() { return ::isatty(2) == 1; }

std::string human_duration(double seconds) {
  if (!(seconds >= 0)) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

}  // namespace netadj
