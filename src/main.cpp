// netadj command line: builds the CLI11 app from the command table, runs the parsed command and maps
// exceptions to the documented exit codes; nothing else.
#include <CLI/CLI.hpp>

#include <iostream>

#include "netadj/backends/timing.h"
#include "netadj/cli/command.h"
#include "netadj/distributed/distributed.h"
#include "netadj/run/session.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace {

int fail(netadj::ExitCode code, const std::string& what) {
  // In a data-parallel job rank 0 speaks for all; the others name themselves, and an interrupt (which every
  // rank reports alike) is left to rank 0.
  const int rank = netadj::log_rank();
  if (rank == 0)
    std::cerr << "netadj: error: " << what << "\n";
  else if (code != netadj::ExitCode::kInterrupted)
    std::cerr << "netadj: error: rank " << rank << ": " << what << "\n";
  return static_cast<int>(code);
}

}  // namespace

int main(int argc, char** argv) {
  netadj::keep_onednn_kernels();
  CLI::App app{
      "netadj: Network Adjustment channel search (Chen et al., CVPR 2020) on LibTorch\n"
      "exit codes: 0 ok, 1 unexpected, 2 usage/config, 3 data/input file, 4 non-finite loss, "
      "5 write failed, 130 interrupted (progress saved)"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags are accepted after the subcommand too
  bool verbose = false, quiet = false;
  app.set_version_flag("--version,-V", std::string("netadj ") + NETADJ_VERSION);
  app.add_flag("--verbose,-v", verbose, "debug logging");
  app.add_flag("--quiet,-q", quiet, "warnings and errors only");
  std::vector<std::pair<CLI::App*, netadj::cli::Run>> runs;
  for (const auto& c : netadj::cli::commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    runs.emplace_back(sub, c.declare(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(netadj::ExitCode::kUsage);
  }
  netadj::set_log_level(verbose ? "debug" : quiet ? "warn" : "info");
  try {
    // --nproc N: this process only launches the N ranks (each one runs the same command line).
    if (const int nproc = netadj::cli::requested_nproc(app); nproc > 1 && netadj::started_ranks() == 0)
      return netadj::dist::launch_local(argc, argv, nproc);
    for (auto& [sub, run] : runs)
      if (sub->parsed()) return run();
    return fail(netadj::ExitCode::kUsage, "no command given (see netadj --help)");
  } catch (const netadj::Error& e) {
    return fail(e.code(), e.what());
  } catch (const c10::Error& e) {
    return fail(netadj::ExitCode::kRuntime, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return fail(netadj::ExitCode::kRuntime, e.what());
  }
}
