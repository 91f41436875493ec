// netadj bench: throughput benchmarks, one JSON line each (src/bench/).
#include <iostream>

#include "netadj/bench/bench.h"
#include "netadj/cli/command.h"

namespace netadj::cli {
namespace {

struct BenchArgs {
  ConfigArgs config;
  int warmup = 5, steps = 30, batches = 50, evals = 10000, optim_steps = 200;
};

int print(const nlohmann::json& j) {
  std::cout << j.dump() << "\n";
  return 0;
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
            auto* data = app.add_subcommand("data", "training input pipeline images/s");
            add_config_options(*data, a->config);
            data->add_option("--batches", a->batches, "timed batches")->check(CLI::PositiveNumber);
            auto* flops = app.add_subcommand("flops", "microseconds per FLOPs evaluation (spec build + count)");
            add_config_options(*flops, a->config);
            flops->add_option("--evals", a->evals, "number of evaluations")->check(CLI::PositiveNumber);
            auto* optim = app.add_subcommand("optim", "microseconds per optimizer step, torch::optim::SGD vs fused");
            add_config_options(*optim, a->config);
            optim->add_option("--steps", a->optim_steps, "timed steps")->check(CLI::PositiveNumber);
            return [a, train, data, flops, optim] {
              if (train->parsed()) return print(bench_train(RunSession(load_config(a->config)), a->warmup, a->steps));
              if (data->parsed()) return print(bench_data(load_config(a->config), a->batches));
              if (flops->parsed()) return print(bench_flops(load_config(a->config), a->evals));
              return print(bench_optim(load_config(a->config), a->optim_steps));
            };
          }};
}

}  // namespace netadj::cli
