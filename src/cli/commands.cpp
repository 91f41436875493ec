// The command table and what commands share: loading the config (by path or shipped name) and channel
// files.
#include "netadj/cli/command.h"

#include <filesystem>

#include <fmt/ranges.h>

#include "netadj/arch/export.h"
#include "netadj/arch/table.h"
#include "netadj/dist/dist.h"
#include "netadj/run/run_dir.h"
#include "netadj/run/session.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"
#include "netadj/util/paths.h"

namespace netadj::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {config_command(), search_command(), train_command(),  compare_command(),
                                             fur_command(),    flops_command(),  adjust_command(), export_command(),
                                             bench_command(),  report_command()};
  return table;
}

namespace {
int g_nproc = 1;
}

void add_nproc_option(CLI::App& app) {
  app.add_option("--nproc", g_nproc, "data-parallel processes on this machine (Gloo on the CPU, NCCL on CUDA)")
      ->check(CLI::Range(1, 1024));
}

int requested_nproc() { return g_nproc; }

void add_config_options(CLI::App& app, ConfigArgs& args) {
  app.add_option("--config,-c", args.config,
                 "config file (JSON), or the name of a shipped config (netadj config --list)");
  app.add_option("--set,-s", args.sets, "override a config value: key.path=value (repeatable)")->take_all();
}

std::string shipped_config_dir() { return find_share_file("configs"); }

std::string resolve_config_path(const std::string& name) {
  if (name.empty() || file_exists(name) || name.find('/') != std::string::npos) return name;
  std::string dir = shipped_config_dir();
  if (dir.empty()) return name;
  for (const std::string& candidate : {dir + "/" + name, dir + "/" + name + ".json"})
    if (file_exists(candidate) && !std::filesystem::is_directory(candidate)) return candidate;
  return name;
}

Config load_config(const ConfigArgs& args) { return netadj::load_config(resolve_config_path(args.config), args.sets); }

ModelOptions model_with_channels(const Config& cfg, const std::string& channel_file) {
  ModelOptions m = cfg.model;
  if (channel_file.empty()) return m;
  m.channels = read_channel_file(channel_file, m);
  try {
    build_spec(m, resolve_resolution(m, nominal_resolution(cfg.data)));
  } catch (const ConfigError& e) {
    throw ConfigError(channel_file + ": " + e.what());  // the vector is the file's
  }
  return m;
}

void add_run_options(CLI::App& app, RunArgs& args, const char* what) {
  add_config_options(app, args.config);
  app.add_option("--out,-o", args.out, "run directory (default runs/<name>-<timestamp>)");
  app.add_option("--resume", args.resume, std::string("continue the interrupted ") + what + " in this run directory");
  add_nproc_option(app);
}

Config run_config(const RunArgs& a) {
  if (!a.resume.empty()) {
    // A resumed run takes its config from the run directory; --set is refused (it would change the run).
    if (!a.config.sets.empty() || !a.config.config.empty() || !a.channels.empty())
      throw ConfigError("--resume takes the config from " + a.resume + "/config.json; drop --config/--set/--channels");
    return read_resumed_config(a.resume);
  }
  if (a.config.config.empty() && a.config.sets.empty())
    throw ConfigError("give --config FILE.json (and/or --set key=value)");
  Config cfg = load_config(a.config);
  // A bad channel vector or depth is refused before the dataset is read.
  cfg.model = model_with_channels(cfg, a.channels);
  build_spec(cfg.model, resolve_resolution(cfg.model, nominal_resolution(cfg.data)));
  return cfg;
}

RunDir open_run_dir(const RunSession& session, const RunArgs& a) {
  if (!a.resume.empty()) return RunDir::resume(session, a.resume);
  RunDir dir = RunDir::create(session, a.out);
  write_json_atomic(dir.file("config.json"), config_to_json(session.config()));
  return dir;
}

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

}  // namespace

TrainRecord train_run(const RunSession& session, const std::string& dir) {
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
  TrainRecord rec{cfg.model.arch,
                  spec.channels,
                  spec_flops(spec),
                  spec_params(spec),
                  plan.epochs,
                  split_name(plan.train_split),
                  r.final_eval,
                  r.test,
                  r.seconds,
                  dist::world().size(),
                  dist::world().backend()};
  write_record(dir + "/result.json", rec);
  export_run_model(session, *net, cfg.model, dir);  // after the record: a failed export loses no training
  logger()->info("test top1 {:.2f}% top5 {:.2f}% | FLOPs {} | params {} | {}", 100 * r.test->top1, 100 * r.test->top5,
                 human_count(double(rec.flops)), human_count(double(rec.params)), dir + "/result.json");
  return rec;
}

ExportInfo export_info(const RunSession& session, const ModelOptions& m, bool fold_bn) {
  const Config& cfg = session.config();
  ExportInfo info;
  info.model = m;
  info.mean = session.data().mean();
  info.std = session.data().std();
  info.dataset = cfg.data.dataset;
  info.center_crop = cfg.data.dataset == "imagefolder";
  info.fold_bn = fold_bn;
  return info;
}

void export_run_model(const RunSession& session, GraphNetImpl& net, const ModelOptions& m, const std::string& dir) {
  const ExportOptions& o = session.config().exporting;
  if (!o.enabled || !dist::world().root()) return;  // rank 0 writes the run directory
  make_dirs(dir + "/export");
  ExportResult r = export_model(net, export_info(session, m, o.fold_bn), dir + "/export/model.pt");
  logger()->info("exported TorchScript {} (max |diff| {:.2g} against netadj's forward) and {}", r.model_file,
                 r.max_abs_diff, r.card_file);
}

int resumable(const std::string& command, const std::string& dir, const std::function<int()>& body) {
  // Only commands that can resume catch the signals; the others keep the default action (end at once).
  install_interrupt_handlers();
  try {
    return body();
  } catch (const Interrupted& e) {
    throw Interrupted(std::string(e.what()) + "; progress is saved, resume with: netadj " + command + " --resume " +
                      dir);
  }
}

}  // namespace netadj::cli
