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
    auto l = std::make_shared<spdlog::logger>("netadj", sink);
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return log;
}

void set_log_level(const std::string& level) { logger()->set_level(spdlog::level::from_str(level)); }

void add_log_file(const std::string& path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] %l %v");
    sink->set_level(spdlog::level::debug);
    logger()->sinks().push_back(sink);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError(path + ": cannot open log file: " + e.what());
  }
}

bool stderr_is_tty() { return ::isatty(2) == 1; }

}  // namespace netadj
