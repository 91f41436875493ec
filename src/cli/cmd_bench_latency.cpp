// netadj bench lut | latency-model | latency: the latency table, its model against measurement, and forward
// latency of one vector or of a search's vectors (src/bench/latency.cpp), one JSON line each.
#include <iostream>

#include "netadj/bench/bench.h"
#include "netadj/cli/command.h"

namespace netadj::cli {
namespace {

struct LatencyArgs {
  ConfigArgs config;
  int batch = 1, reps = 50, lut_reps = 15, points = 8, threads = 0, vectors = 50;
  std::string channels, out = "lut.json", table, search;
  bool force = false;
};

int print(const nlohmann::json& j) {
  std::cout << j.dump() << "\n";
  return 0;
}

int run_latency_bench(LatencyArgs a, const std::string& sub) {
  if (sub == "lut") return print(bench_lut(load_config(a.config), a.out, a.batch, a.threads, a.lut_reps, a.points));
  if (sub == "latency-model")
    return print(bench_latency_model(load_config(a.config), a.table, a.vectors, a.reps, a.force));
  // latency: one vector (netadj's module and its export), or a search's vectors interleaved
  if (!a.search.empty() && a.config.config.empty()) a.config.config = a.search + "/config.json";
  Config cfg = load_config(a.config);
  if (a.threads > 0) cfg.runtime.threads = a.threads;
  if (a.threads > 0) torch::set_num_threads(a.threads);
  if (!a.search.empty()) return print(bench_latency_search(cfg, a.search, a.batch, a.reps));
  cfg.model = model_with_channels(cfg, a.channels);
  return print(bench_latency(cfg, a.batch, 5, a.reps));
}

void add_threads(CLI::App& app, LatencyArgs& a, const char* what) {
  app.add_option("--threads", a.threads, what)->check(CLI::Range(1, 1024));
}

}  // namespace

std::function<int(const std::string&)> add_latency_benches(CLI::App& bench) {
  auto a = std::make_shared<LatencyArgs>();
  auto* lut = bench.add_subcommand("lut", "measure a latency table of the config's network (docs/latency-table.md)");
  add_config_options(*lut, a->config);
  lut->add_option("--out", a->out, "the table (an unfinished one there is resumed)");
  lut->add_option("--batch", a->batch, "batch size")->check(CLI::Range(1, 4096));
  add_threads(*lut, *a, "CPU threads (default: runtime.threads' setting)");
  lut->add_option("--reps", a->lut_reps, "timed calls per width pair (median)")->check(CLI::Range(1, 100000));
  lut->add_option("--points", a->points, "widths per axis of each layer's grid")->check(CLI::Range(2, 4096));
  auto* model = bench.add_subcommand("latency-model", "a latency table's predictions against measured latency");
  add_config_options(*model, a->config);
  model->add_option("--table", a->table, "the latency table")->required();
  model->add_option("--vectors", a->vectors, "random width vectors")->check(CLI::Range(1, 10000));
  model->add_option("--reps", a->reps, "interleaved rounds of timing")->check(CLI::Range(1, 100000));
  model->add_flag("--force", a->force, "use a table measured for other layer shapes");
  auto* latency = bench.add_subcommand("latency", "median and p90 forward latency (eval mode, no grad)");
  add_config_options(*latency, a->config);
  latency->add_option("--channels", a->channels, "channel file (default: the config's vector)");
  latency->add_option("--search", a->search,
                      "a search's run directory: its vectors timed interleaved (config: its config.json)");
  latency->add_option("--batch", a->batch, "batch size")->check(CLI::Range(1, 4096));
  latency->add_option("--reps", a->reps, "timed forward passes")->check(CLI::Range(1, 100000));
  add_threads(*latency, *a, "CPU threads (default: runtime.threads)");
  return [a](const std::string& sub) {
    if (sub != "lut" && sub != "latency-model" && sub != "latency") return -1;
    return run_latency_bench(*a, sub);
  };
}

}  // namespace netadj::cli
