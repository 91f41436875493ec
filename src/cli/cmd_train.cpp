// netadj train: one configuration trained with the full recipe (by default on train+val, the paper's
// re-training), with its test accuracy in result.json.
#include <fmt/ranges.h>

#include <iostream>

#include "netadj/arch/table.h"
#include "netadj/cli/command.h"
#include "netadj/run/session.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj::cli {
namespace {

TrainPlan train_plan(const Config& cfg, const std::string& dir) {
  TrainPlan plan;
  plan.epochs = cfg.train.epochs;
  plan.train_split = cfg.train.full_train ? Split::kTrainFull : Split::kTrain;
  // Re-training on train+val leaves no validation split: the test set is evaluated at the end (and each
  // epoch only with train.eval_test_each_epoch); it is never used to select anything.
  plan.eval_split = cfg.train.full_train ? std::nullopt : std::optional<Split>(Split::kVal);
  plan.seed = derive_seed(uint64_t(cfg.runtime.seed), "train", 0);
  plan.checkpoint = dir + "/checkpoint.pt";
  plan.metrics_file = dir + "/metrics.jsonl";
  return plan;
}

int train_in(const RunSession& session, const std::string& dir) {
  const Config& cfg = session.config();
  ArchSpec spec = session.spec();
  logger()->info("train {} channels {} FLOPs {} params {} on {}", cfg.model.arch, fmt::join(spec.channels, ","),
                 spec_flops(spec), spec_params(spec), session.device().str());
  torch::manual_seed(derive_seed(uint64_t(cfg.runtime.seed), "init", 0));
  GraphNet net(spec);
  Trainer trainer(cfg, session.data(), session.device());
  TrainPlan plan = train_plan(cfg, dir);
  TrainResult r = trainer.run(net, plan);
  save_model(net, cfg.model, dir + "/model.pt");
  TrainRecord rec{cfg.model.arch,    spec.channels, spec_flops(spec),
                  spec_params(spec), plan.epochs,   split_name(plan.train_split),
                  r.final_eval,      r.test,        r.seconds};
  write_record(dir + "/result.json", rec);
  logger()->info("test top1 {:.2f}% top5 {:.2f}% | FLOPs {} | params {} | {}", 100 * r.test->top1, 100 * r.test->top5,
                 human_count(double(rec.flops)), human_count(double(rec.params)), dir + "/result.json");
  std::cout << nlohmann::json(rec).dump() << "\n";
  return 0;
}

int run_train_command(const RunArgs& a) {
  PreparedRun run = prepare_run(a);
  add_log_file(run.dir + "/log.txt");
  return resumable("train", run.dir, [&] { return train_in(RunSession(run.config), run.dir); });
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
