#include "netadj/cli/commands.h"

#include <fmt/format.h>

#include <iostream>

#include "netadj/arch/table.h"
#include "netadj/config/config.h"
#include "netadj/util/error.h"

namespace netadj::cli {

namespace {
Config load(const Common& c) { return load_config(c.config, c.sets); }

ModelOptions model_with_channels(const Config& cfg, const std::string& channel_file) {
  ModelOptions m = cfg.model;
  if (!channel_file.empty()) m.channels = read_channel_file(channel_file, m);
  return m;
}
}  // namespace

int cmd_config(const Common& c) {
  Config cfg = load(c);
  std::cout << config_to_json(cfg).dump(2) << "\n";
  return 0;
}

int cmd_flops(const Common& c, const std::string& compare_a, const std::string& compare_b) {
  Config cfg = load(c);
  int res = resolve_resolution(cfg.model);
  if (!compare_a.empty()) {
    ArchSpec a = build_spec(model_with_channels(cfg, compare_a), res);
    ArchSpec b = build_spec(model_with_channels(cfg, compare_b), res);
    auto ga = spec_to_json(a), gb = spec_to_json(b);
    if (c.json) {
      std::cout << nlohmann::json{{"a", ga}, {"b", gb}}.dump() << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<22} {:>6} {:>10} {:>6} {:>10} {:>7}\n", "layer", "A", "A MACs", "B", "B MACs", "B-A");
    for (size_t l = 0; l < a.channels.size(); ++l) {
      auto fa = op_cost(a, a.ops[static_cast<size_t>(a.layers[l].op)]).flops;
      auto fb = op_cost(b, b.ops[static_cast<size_t>(b.layers[l].op)]).flops;
      std::cout << fmt::format("{:<22} {:>6} {:>10} {:>6} {:>10} {:>+7}\n", a.layers[l].name, a.channels[l],
                               human_count(double(fa)), b.channels[l], human_count(double(fb)),
                               b.channels[l] - a.channels[l]);
    }
    std::cout << fmt::format("total MACs: A {} ({})  B {} ({})  B/A = {:.4f}\n", human_count(double(spec_flops(a))),
                             spec_flops(a), human_count(double(spec_flops(b))), spec_flops(b),
                             double(spec_flops(b)) / double(spec_flops(a)));
    std::cout << fmt::format("params: A {}  B {}\n", human_count(double(spec_params(a))),
                             human_count(double(spec_params(b))));
    return 0;
  }
  ArchSpec s = build_spec(model_with_channels(cfg, c.channels), res);
  if (c.json)
    std::cout << spec_to_json(s).dump() << "\n";
  else
    std::cout << spec_table(s);
  return 0;
}

}  // namespace netadj::cli
