// netadj adjust: one adjustment + rescaling step applied by hand to a channel vector and FUR values.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "netadj/arch/table.h"
#include "netadj/cli/command.h"
#include "netadj/data/data.h"
#include "netadj/search/search.h"
#include "netadj/util/error.h"

namespace netadj::cli {
namespace {

struct AdjustArgs {
  ConfigArgs config;
  std::string channels, fur, init;
  int iteration = 0;
  bool json = false;
};

void print_adjustment(const Adjustment& a, int64_t f0) {
  std::cout << fmt::format("k = {}: widened {} narrowed {}\n", a.k, fmt::join(a.top, ","), fmt::join(a.bottom, ","));
  std::cout << fmt::format("adjusted: [{}] FLOPs {}\n", fmt::join(a.adjusted, ", "), a.flops_adjusted);
  std::cout << fmt::format("scaled (s = {:.5f}): [{}] FLOPs {} (target {}, {:+.3f}%)\n", a.scale,
                           fmt::join(a.channels, ", "), a.flops, f0, 100.0 * double(a.flops - f0) / double(f0));
}

int run_adjust(const AdjustArgs& a) {
  Config cfg = load_config(a.config);
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  std::vector<int64_t> ch = read_channel_file(a.channels, cfg.model);
  std::vector<int64_t> init = a.init.empty() ? default_channels(cfg.model) : read_channel_file(a.init, cfg.model);
  std::vector<double> fur = read_fur_file(a.fur, ch.size());
  if (init.size() != ch.size()) throw ConfigError("--init: length differs from --channels");
  build_spec(cfg.model, res, ch);  // validates the vector
  FlopsFn flops = [&](const std::vector<int64_t>& v) { return spec_flops(build_spec(cfg.model, res, v)); };
  int64_t f0 = flops(init);
  Adjustment adj = adjust_channels(ch, init, fur, a.iteration, cfg.search, flops, f0);
  if (!a.json) {
    print_adjustment(adj, f0);
    return 0;
  }
  std::cout << nlohmann::json{{"channels", adj.channels},
                              {"flops", adj.flops},
                              {"top", adj.top},
                              {"bottom", adj.bottom},
                              {"scale", adj.scale},
                              {"k", adj.k},
                              {"adjusted_channels", adj.adjusted},
                              {"adjusted_flops", adj.flops_adjusted},
                              {"target_flops", f0}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace

Command adjust_command() {
  return {"adjust", "apply one adjustment + rescaling step to a channel vector", [](CLI::App& app) -> Run {
            auto a = std::make_shared<AdjustArgs>();
            add_config_options(app, a->config);
            app.add_option("--channels", a->channels, "current channel file")->required();
            app.add_option("--fur", a->fur, "FUR values: a JSON array or `netadj fur --json` output")->required();
            app.add_option("--iteration,-t", a->iteration, "iteration index t (controls k_t)")
                ->check(CLI::NonNegativeNumber);
            app.add_option("--init", a->init, "starting channel file c_init (default: the architecture's)");
            app.add_flag("--json", a->json, "JSON output");
            return [a] { return run_adjust(*a); };
          }};
}

}  // namespace netadj::cli
