// netadj search: Network Adjustment (Algorithm 1) into a run directory; --resume continues one.
#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/distributed/distributed.h"
#include "netadj/pipeline/runs.h"
#include "netadj/run/session.h"
#include "netadj/search/search.h"
#include "netadj/train/train.h"
#include "netadj/util/log.h"

namespace netadj::cli {
namespace {

int run_search_command(const RunArgs& a) {
  RunSession session(run_config(a));  // data, device and model checked before the directory exists
  if (a.resume.empty()) check_search_start(session);
  const RunDir run = open_run_dir(session, a);
  add_log_file(run.file("log.txt"));
  logger()->info("run directory: {}", run.path());
  return resumable("search", run.path(), [&] {
    const int best = run_search(session, run, !a.resume.empty());
    // The best vector's network as the search trained it (train split); `netadj train` re-trains it in full.
    if (session.config().exporting.enabled && run.writes()) {
      ModelOptions m;
      GraphNet net = load_model(run.file("iter_" + std::to_string(best) + "/model.pt"), m);
      export_run_model(session, *net, m, run);
    }
    if (run.writes()) std::cout << run.file("best_channels.json") << "\n";
    return 0;
  });
}

}  // namespace

Command search_command() {
  return {"search", "run Network Adjustment (Algorithm 1) and write a run directory", [](CLI::App& app) -> Run {
            auto a = std::make_shared<RunArgs>();
            add_run_options(app, *a, "search");
            app.add_flag_callback(
                "--force", [a] { a->config.sets.push_back("search.latency_force=true"); },
                "use a latency table measured for another batch size, thread count or layer shapes");
            return [a] { return run_search_command(*a); };
          }};
}

}  // namespace netadj::cli
