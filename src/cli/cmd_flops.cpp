// netadj flops: per-layer FLOPs (multiply-accumulates), parameters and dFLOPs/dc of a channel vector, or
// the comparison of two.
#include <fmt/format.h>

#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/cost/latency.h"
#include "netadj/data/data.h"
#include "netadj/nets/graph.h"
#include "netadj/nets/table.h"
#include "netadj/util/log.h"

namespace netadj::cli {
namespace {

struct FlopsArgs {
  ConfigArgs config;
  std::string channels;
  std::vector<std::string> compare;
  std::string graph, latency;
  bool json = false, force = false;
};

void print_comparison(const ArchSpec& a, const ArchSpec& b) {
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
}

// The latency model's prediction beside each timed layer's MACs.
void print_latency(const FlopsArgs& a, const Config& cfg, const ArchSpec& s) {
  const LatencyTable t = read_latency_table(a.latency);
  const SearchOptions& o = cfg.search;
  check_latency_table(t, s, o.latency_batch, o.latency_threads, a.force || o.latency_force, a.latency);
  std::cout << latency_text(LatencyModel(t), s);
}

// Where the input resolution came from, for the first line of the table.
std::string resolution_source(const Config& cfg) {
  if (cfg.model.resolution > 0) return "model.resolution";
  if (nominal_resolution(cfg.data) > 0) return "data.dataset = " + cfg.data.dataset;
  return "the architecture's default";
}

// A network file: its searchable slots and counts (docs/graph-format.md).
int print_graph(const FlopsArgs& a) {
  const nlohmann::json j = graph_summary_json(read_graph(a.graph));
  if (a.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<24} {:>6} {:>8} {:>4} {:>10}\n", "slot", "width", "multiple", "ops", "MACs");
  for (const auto& s : j["slots"])
    std::cout << fmt::format("{:<24} {:>6} {:>8} {:>4} {:>10}\n", s["name"].get<std::string>(),
                             s["width"].get<int64_t>(), s["multiple"].get<int64_t>(), s["ops"].size(),
                             human_count(s["flops"].get<double>()));
  std::cout << fmt::format("total MACs {} ({}), params {}; {} searchable slots\n",
                           human_count(j["flops"].get<double>()), j["flops"].get<int64_t>(),
                           human_count(j["params"].get<double>()), j["slots"].size());
  return 0;
}

int run_flops(const FlopsArgs& a) {
  if (!a.graph.empty()) return print_graph(a);
  Config cfg = load_config(a.config);
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  warn_if_far_from_design(cfg.model, res);
  if (a.compare.size() == 2) {
    ArchSpec sa = build_spec(model_with_channels(cfg, a.compare[0]), res);
    ArchSpec sb = build_spec(model_with_channels(cfg, a.compare[1]), res);
    if (a.json)
      std::cout << nlohmann::json{{"a", spec_to_json(sa)}, {"b", spec_to_json(sb)}}.dump() << "\n";
    else
      print_comparison(sa, sb);
    return 0;
  }
  ArchSpec s = build_spec(model_with_channels(cfg, a.channels), res);
  if (a.json) {
    std::cout << spec_to_json(s).dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("resolution {}x{} (from {})\n", res, res, resolution_source(cfg)) << spec_table(s);
  if (!a.latency.empty()) print_latency(a, cfg, s);
  return 0;
}

}  // namespace

Command flops_command() {
  return {"flops", "per-layer FLOPs (multiply-accumulates), params and dFLOPs/dc", [](CLI::App& app) -> Run {
            auto a = std::make_shared<FlopsArgs>();
            add_config_options(app, a->config);
            app.add_option("--channels", a->channels, "channel file");
            app.add_flag("--json", a->json, "one JSON object with exact integers");
            app.add_option("--graph", a->graph, "a network file (docs/graph-format.md): its slots and counts");
            app.add_option("--latency", a->latency, "a latency table: predicted latency per layer beside MACs");
            app.add_flag("--force", a->force, "use a latency table measured for another batch, threads or shapes");
            app.add_option("--compare", a->compare, "compare two channel files: --compare A.json B.json")->expected(2);
            return [a] { return run_flops(*a); };
          }};
}

}  // namespace netadj::cli
