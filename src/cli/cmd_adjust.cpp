// netadj adjust: one adjustment + rescaling step applied by hand to a channel vector and FUR values.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/data/data.h"
#include "netadj/nets/table.h"
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

void print_adjustment(const Adjustment& a, const char* unit, int64_t target) {
  const Moves& m = a.moves;
  std::cout << fmt::format("k = {}: widened {} narrowed {}", m.k, fmt::join(m.moved_top, ","),
                           fmt::join(m.moved_bottom, ","));
  if (m.moved_top != m.top || m.moved_bottom != m.bottom)
    std::cout << fmt::format(" (candidates {} / {}; the others did not pass the gate)", fmt::join(m.top, ","),
                             fmt::join(m.bottom, ","));
  std::cout << fmt::format("\nadjusted: [{}] {} {}\n", fmt::join(a.adjusted, ", "), unit, a.cost_adjusted);
  std::cout << fmt::format("scaled (s = {:.5f}): [{}] {} {} (target {}, {:+.3f}%)\n", a.scale,
                           fmt::join(a.channels, ", "), unit, a.rescaled.cost, target, 100.0 * a.rescaled.rel_error);
}

int run_adjust(const AdjustArgs& a) {
  Config cfg = load_config(a.config);
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  std::vector<int64_t> ch = read_channel_file(a.channels, cfg.model);
  std::vector<int64_t> init = a.init.empty() ? default_channels(cfg.model) : read_channel_file(a.init, cfg.model);
  FurValues fur = read_fur_file(a.fur, ch.size());
  if (init.size() != ch.size()) throw ConfigError("--init: length differs from --channels");
  const ArchSpec spec = build_spec(cfg.model, res, ch);  // validates the vector
  const auto budget = config_budget(cfg.model, res, cfg.search);
  const CostFn cost = BudgetCost::cost_fn(budget);
  const char* unit = budget->unit();
  int64_t target = cost(init);
  Adjustment adj = adjust_channels(ch, init, fur.fur, fur.stderr_, a.iteration, cfg.search, cost, target,
                                   channel_grid(cfg.search, spec));
  if (!a.json) {
    print_adjustment(adj, unit, target);
    return 0;
  }
  std::cout << nlohmann::json{{"channels", adj.channels},
                              {"budget", budget->name()},
                              {"value", adj.rescaled.cost},
                              {"target", target},
                              {"rel_error", adj.rescaled.rel_error},
                              {"flops", spec_flops(build_spec(cfg.model, res, adj.channels))},
                              {"params", spec_params(build_spec(cfg.model, res, adj.channels))},
                              {"top", adj.moves.top},
                              {"bottom", adj.moves.bottom},
                              {"moved_top", adj.moves.moved_top},
                              {"moved_bottom", adj.moves.moved_bottom},
                              {"scale", adj.scale},
                              {"k", adj.moves.k},
                              {"adjusted_channels", adj.adjusted},
                              {"adjusted_value", adj.cost_adjusted}}
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
