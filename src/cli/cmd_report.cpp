// netadj report: tables and figures of a run directory, by scripts/report.py (installed beside the
// binary as share/netadj/report.py), started with an argument vector: no shell.
#include <cstdlib>

#include "netadj/cli/command.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/paths.h"

namespace netadj::cli {
namespace {

std::string report_script() {
  if (const char* s = std::getenv("NETADJ_REPORT_SCRIPT")) return s;
  std::string found = find_share_file("report.py");
  if (found.empty())
    throw DataError("report.py not found beside the netadj binary (share/netadj/report.py); set NETADJ_REPORT_SCRIPT");
  return found;
}

// NETADJ_PYTHON, else the first of the system python (where Debian's matplotlib lives) and the python3
// on PATH that has matplotlib, else python3 (tables only).
std::string report_python() {
  if (const char* p = std::getenv("NETADJ_PYTHON")) return p;
  for (const char* candidate : {"/usr/bin/python3", "python3"})
    if (run_program({candidate, "-c", "import matplotlib"}, /*quiet=*/true) == 0) return candidate;
  return "python3";
}

int run_report(const std::string& run_dir) {
  if (!file_exists(run_dir)) throw DataError(run_dir + ": run directory not found");
  std::string script = report_script();
  if (!file_exists(script)) throw DataError(script + ": report script not found (set NETADJ_REPORT_SCRIPT)");
  std::string py = report_python();
  int rc = run_program({py, script, run_dir});
  if (rc == 2 || rc == 3) return rc;  // the script's own usage / input errors (it printed one line)
  if (rc != 0)
    throw Error(ExitCode::kRuntime, "report: " + py + " " + script + " failed (exit " + std::to_string(rc) + ")");
  return 0;
}

}  // namespace

Command report_command() {
  return {"report", "tables and figures of a run directory into RUN_DIR/report/", [](CLI::App& app) -> Run {
            auto dir = std::make_shared<std::string>();
            app.add_option("run_dir", *dir, "run directory")->required();
            return [dir] { return run_report(*dir); };
          }};
}

}  // namespace netadj::cli
