// netadj command line: parses arguments and calls the subcommands; no logic beyond wiring.
#include <CLI/CLI.hpp>

#include <iostream>

#include "netadj/cli/commands.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace {

void add_common(CLI::App* sub, netadj::cli::Common& c) {
  sub->add_option("--config,-c", c.config, "config file (JSON)");
  sub->add_option("--set,-s", c.sets, "override a config value: key.path=value (repeatable)")->take_all();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netadj: Network Adjustment channel search (Chen et al., CVPR 2020) on LibTorch\n"
               "exit codes: 0 ok, 1 unexpected, 2 usage/config, 3 data/input file, 4 non-finite loss, 5 write failed"};
  app.require_subcommand(0, 1);
  bool version = false, verbose = false, quiet = false;
  app.add_flag("--version,-V", version, "print the version and exit");
  app.add_flag("--verbose,-v", verbose, "debug logging");
  app.add_flag("--quiet,-q", quiet, "warnings and errors only");

  netadj::cli::Common common;

  auto* config = app.add_subcommand("config", "print the effective config (defaults + file + --set) as JSON");
  add_common(config, common);
  config->add_flag("--print", "print (default)");

  auto* search = app.add_subcommand("search", "run Network Adjustment (Algorithm 1) and write a run directory");
  add_common(search, common);
  search->add_option("--out,-o", common.out, "run directory (default runs/<name>-<timestamp>)");
  search->add_option("--resume", common.resume, "continue the interrupted search in this run directory");

  auto* train = app.add_subcommand("train", "train one configuration (full training set) and report test accuracy");
  add_common(train, common);
  train->add_option("--channels", common.channels, "channel file (e.g. a search's best_channels.json)");
  train->add_option("--out,-o", common.out, "run directory");
  train->add_option("--resume", common.resume, "continue an interrupted training run");

  std::string checkpoint;
  auto* fur = app.add_subcommand("fur", "per-layer FLOPs utilization ratio of a trained network");
  add_common(fur, common);
  fur->add_option("--checkpoint", checkpoint, "model.pt or checkpoint.pt from train/search")->required();
  fur->add_flag("--json", common.json, "JSON output");

  auto* flops = app.add_subcommand("flops", "per-layer FLOPs (multiply-accumulates), params and dFLOPs/dc");
  add_common(flops, common);
  flops->add_option("--channels", common.channels, "channel file");
  flops->add_flag("--json", common.json, "one JSON object with exact integers");
  std::vector<std::string> cmp_files;
  flops->add_option("--compare", cmp_files, "compare two channel files: --compare A.json B.json")->expected(2);

  std::string fur_file, init_file;
  int iteration = 0;
  auto* adjust = app.add_subcommand("adjust", "apply one adjustment + rescaling step to a channel vector");
  add_common(adjust, common);
  adjust->add_option("--channels", common.channels, "current channel file")->required();
  adjust->add_option("--fur", fur_file, "FUR values: a JSON array or `netadj fur --json` output")->required();
  adjust->add_option("--iteration,-t", iteration, "iteration index t (controls k_t)")->check(CLI::NonNegativeNumber);
  adjust->add_option("--init", init_file, "starting channel file c_init (default: the architecture's)");
  adjust->add_flag("--json", common.json, "JSON output");

  auto* bench = app.add_subcommand("bench", "throughput benchmarks (one JSON line)");
  bench->require_subcommand(1);
  int warmup = 5, steps = 30, batches = 50;
  auto* bench_train = bench->add_subcommand("train", "training and evaluation images/s, peak memory");
  add_common(bench_train, common);
  bench_train->add_option("--warmup", warmup, "untimed steps");
  bench_train->add_option("--steps", steps, "timed steps");
  auto* bench_data = bench->add_subcommand("data", "training input pipeline images/s");
  add_common(bench_data, common);
  bench_data->add_option("--batches", batches, "timed batches");

  int evals = 10000;
  auto* bench_flops = bench->add_subcommand("flops", "microseconds per FLOPs evaluation (spec build + count)");
  add_common(bench_flops, common);
  bench_flops->add_option("--evals", evals, "number of evaluations");

  int optim_steps = 200;
  auto* bench_optim = bench->add_subcommand("optim", "microseconds per optimizer step, torch::optim::SGD vs fused");
  add_common(bench_optim, common);
  bench_optim->add_option("--steps", optim_steps, "timed steps")->check(CLI::PositiveNumber);

  std::string run_dir;
  auto* report = app.add_subcommand("report", "tables and figures of a run directory into RUN_DIR/report/");
  report->add_option("run_dir", run_dir, "run directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(netadj::ExitCode::kUsage);
  }
  if (version) {
    std::cout << "netadj " << NETADJ_VERSION << "\n";
    return 0;
  }
  netadj::set_log_level(verbose ? "debug" : quiet ? "warn" : "info");
  namespace cli = netadj::cli;
  try {
    if (app.got_subcommand(config)) return cli::cmd_config(common);
    if (app.got_subcommand(flops))
      return cmp_files.size() == 2 ? cli::cmd_flops(common, cmp_files[0], cmp_files[1]) : cli::cmd_flops(common, "", "");
    if (app.got_subcommand(search)) return cli::cmd_search(common);
    if (app.got_subcommand(train)) return cli::cmd_train(common);
    if (app.got_subcommand(fur)) return cli::cmd_fur(common, checkpoint);
    if (app.got_subcommand(adjust)) return cli::cmd_adjust(common, fur_file, iteration, init_file);
    if (bench->got_subcommand(bench_train)) return cli::cmd_bench_train(common, warmup, steps);
    if (bench->got_subcommand(bench_data)) return cli::cmd_bench_data(common, batches);
    if (bench->got_subcommand(bench_flops)) return cli::cmd_bench_flops(common, evals);
    if (bench->got_subcommand(bench_optim)) return cli::cmd_bench_optim(common, optim_steps);
    if (app.got_subcommand(report)) return cli::cmd_report(run_dir);
    std::cout << app.help();
    return static_cast<int>(netadj::ExitCode::kUsage);
  } catch (const netadj::Error& e) {
    std::cerr << "netadj: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const c10::Error& e) {
    std::cerr << "netadj: error: " << e.what_without_backtrace() << "\n";
    return static_cast<int>(netadj::ExitCode::kRuntime);
  } catch (const std::exception& e) {
    std::cerr << "netadj: error: " << e.what() << "\n";
    return static_cast<int>(netadj::ExitCode::kRuntime);
  }
}
