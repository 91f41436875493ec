// netadj bench: throughput benchmarks, one JSON line each (src/bench/).
#include <iostream>

#include "netadj/bench/bench.h"
#include "netadj/cli/command.h"
#include "netadj/distributed/distributed.h"

namespace netadj::cli {
namespace {

struct BenchArgs {
  ConfigArgs config;
  int warmup = 5, steps = 30, batches = 50, evals = 10000, optim_steps = 200, rescale_steps = 20;
  int fur_train_steps = 10;
  std::string checkpoint, out = "bench-search", pretrained;
  bool uncached = false;
};

// In a data-parallel job rank 0 prints.
int print(const nlohmann::json& j, bool root = true) {
  if (root) std::cout << j.dump() << "\n";
  return 0;
}

// A benchmark of one session (data, device, world), printed by rank 0.
template <typename Bench>
int print_session(const Config& cfg, Bench bench) {
  const RunSession session(cfg);
  return print(bench(session), session.world().root());
}

// Runs the bench subcommand `sub` ("optim" when none of the others).
int run_bench(const BenchArgs& a, const std::string& sub) {
  if (sub == "search") {
    const Config cfg = load_config(a.config);
    const auto world = join_world(cfg);
    return print(bench_search(cfg, world, a.out, a.uncached, a.pretrained), world->root());
  }
  if (sub == "fur")
    return print_session(load_config(a.config),
                         [&](const RunSession& s) { return bench_fur(s, a.checkpoint, a.fur_train_steps); });
  if (sub == "train")
    return print_session(load_config(a.config), [&](const RunSession& s) { return bench_train(s, a.warmup, a.steps); });
  if (sub == "data") return print(bench_data(load_config(a.config), a.batches));
  if (sub == "flops") return print(bench_flops(load_config(a.config), a.evals));
  if (sub == "rescale") return print(bench_rescale(load_config(a.config), a.rescale_steps));
  return print(bench_optim(load_config(a.config), a.optim_steps));
}

}  // namespace

Command bench_command() {
  return {"bench", "throughput benchmarks (one JSON line)", [](CLI::App& app) -> Run {
            app.require_subcommand(1);
            auto a = std::make_shared<BenchArgs>();
            auto* train = app.add_subcommand("train", "training and evaluation images/s, peak memory");
            add_config_options(*train, a->config);
            train->add_option("--warmup", a->warmup, "untimed steps");
            train->add_option("--steps", a->steps, "timed steps")->check(CLI::PositiveNumber);
            add_nproc_option(*train);
            auto* data = app.add_subcommand("data", "training input pipeline images/s");
            add_config_options(*data, a->config);
            data->add_option("--batches", a->batches, "timed batches")->check(CLI::PositiveNumber);
            auto* flops = app.add_subcommand("flops", "microseconds per FLOPs evaluation (spec build + count)");
            add_config_options(*flops, a->config);
            flops->add_option("--evals", a->evals, "number of evaluations")->check(CLI::PositiveNumber);
            auto* optim = app.add_subcommand("optim", "microseconds per optimizer step, torch::optim::SGD vs fused");
            add_config_options(*optim, a->config);
            optim->add_option("--steps", a->optim_steps, "timed steps")->check(CLI::PositiveNumber);
            auto* rescale = app.add_subcommand("rescale", "budget error and time of the reference and exact rescaling");
            add_config_options(*rescale, a->config);
            rescale->add_option("--steps", a->rescale_steps, "adjustment steps")->check(CLI::Range(1, 100000));
            auto* fur = app.add_subcommand("fur", "FUR seconds without and with the prefix cache, and its share");
            add_config_options(*fur, a->config);
            fur->add_option("--checkpoint", a->checkpoint, "a trained model.pt (default: fresh weights)");
            fur->add_option("--train-steps", a->fur_train_steps, "training steps timed for the share")
                ->check(CLI::Range(1, 100000));
            auto* search =
                app.add_subcommand("search", "the same short search cold and warm-started: time and vectors");
            add_config_options(*search, a->config);
            search->add_option("--out", a->out, "folder for the runs (cold/, warm/; replaced)");
            search->add_flag("--fur-uncached", a->uncached, "also the cold search without the FUR prefix cache");
            search->add_option("--pretrained", a->pretrained,
                               "a trained model.pt of the config's network: also the warm search from it");
            auto latency = add_latency_benches(app);
            return [a, &app, latency] {
              const std::string sub = app.get_subcommands().front()->get_name();
              const int rc = latency(sub);
              return rc >= 0 ? rc : run_bench(*a, sub);
            };
          }};
}

}  // namespace netadj::cli
