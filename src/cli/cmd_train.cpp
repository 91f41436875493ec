// netadj train: one configuration trained with the full recipe (by default on train+val, the paper's
// re-training), with its test accuracy in result.json.
#include <fmt/ranges.h>

#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/distributed/distributed.h"
#include "netadj/nets/table.h"
#include "netadj/pipeline/runs.h"
#include "netadj/run/session.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj::cli {
namespace {

int train_in(const RunSession& session, const RunDir& dir) {
  TrainRecord rec = train_run(session, dir);
  if (dir.writes()) std::cout << nlohmann::json(rec).dump() << "\n";
  return 0;
}

int run_train_command(const RunArgs& a) {
  const RunSession session(run_config(a));  // data, device and model checked before the directory exists
  const RunDir run = open_run_dir(session, a);
  add_log_file(run.file("log.txt"));
  return resumable("train", run.path(), [&] { return train_in(session, run); });
}

}  // namespace

Command train_command() {
  return {"train", "train one configuration (full training set) and report test accuracy", [](CLI::App& app) -> Run {
            auto a = std::make_shared<RunArgs>();
            add_run_options(app, *a, "training");
            app.add_option("--channels", a->channels, "channel file (e.g. a search's best_channels.json)");
            return [a] { return run_train_command(*a); };
          }};
}

}  // namespace netadj::cli
