// A network file as an ArchSpec (model.arch "graph"): the module, the FLOPs polynomial, FUR, rescaling and
// export then read it as they read a family's spec.
#include <fmt/format.h>

#include <memory>

#include "netadj/ir/drops.h"
#include "netadj/nets/graph.h"
#include "netadj/util/error.h"

namespace netadj {
namespace {

// A file op as a spec op: the same op, its inputs shifted past spec op 0 (the input), a vector 1x1. Its width
// comes after.
Op spec_op(const GraphOp& gop) {
  Op op = gop;
  for (int& j : op.inputs) ++j;
  op.res = gop.shape.is_vector() ? 1 : int(gop.shape.res);
  return op;
}

// Each op's width as an affine function of the slots: a slot's own ops have its width, every other op its
// op table entry's rule (OpDef::width: a concatenation the sum of its parts', a flatten its input's times the
// map's area, a fixed conv or linear a constant, most ops their input's).
Width width_of(const ArchSpec& s, const GraphOp& gop, const Op& op, int slot) {
  if (slot >= 0) return Width::slot(slot, gop.shape.channels);
  return op_def(op.kind).width(s, op, gop.shape.channels);
}

// Stage of each slot for the figures: how many times the resolution fell before its first op.
std::vector<int> slot_stages(const Graph& g, const std::vector<GraphSlot>& slots) {
  std::vector<int> stage_at(g.ops.size(), 0);
  int stage = 0;
  int64_t res = g.input.res;
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (!g.ops[i].shape.is_vector() && g.ops[i].shape.res < res) {
      res = g.ops[i].shape.res;
      ++stage;
    }
    stage_at[i] = stage;
  }
  std::vector<int> out;
  for (const GraphSlot& sl : slots) out.push_back(stage_at[size_t(sl.ops.front())]);
  return out;
}

void check_against_model(const ModelOptions& m, const Graph& g) {
  const int64_t classes = g.ops[size_t(g.output)].shape.channels;
  if (m.num_classes != classes)
    throw ConfigError(fmt::format("model.num_classes = {}: the network file's output '{}' has {} classes",
                                  m.num_classes, g.ops[size_t(g.output)].name, classes));
  if (m.in_channels != g.input.channels)
    throw ConfigError(fmt::format("model.in_channels = {}: the network file's input has {} channels", m.in_channels,
                                  g.input.channels));
}

}  // namespace

Graph model_graph(const ModelOptions& m, int resolution) {
  if (!m.graph) throw ConfigError("model.graph: model.arch \"graph\" needs a network file");
  return parse_graph(*m.graph, "model.graph", resolution);
}

ArchSpec graph_to_spec(const Graph& file, const std::vector<GraphSlot>& slots, const std::vector<int64_t>& c,
                       const std::string& arch) {
  if (!c.empty() && c.size() != slots.size())
    throw ConfigError(fmt::format("model.channels: has {} entries, but the network file has {} searchable slots",
                                  c.size(), slots.size()));
  const Graph g = c.empty() ? file : with_widths(file, slots, c);
  std::vector<int> slot_of(g.ops.size(), -1);
  for (size_t l = 0; l < slots.size(); ++l)
    for (int i : slots[l].ops) slot_of[size_t(i)] = int(l);
  ArchSpec s;
  s.arch = arch;
  s.in_channels = int(g.input.channels);
  s.resolution = int(g.input.res);
  s.num_classes = int(g.ops[size_t(g.output)].shape.channels);
  Op input;
  input.name = "input";
  input.out = Width::constant(g.input.channels);
  input.res = int(g.input.res);
  s.ops.push_back(input);
  const std::vector<int> stages = slot_stages(g, slots);
  for (size_t l = 0; l < slots.size(); ++l) {
    s.channels.push_back(g.ops[size_t(slots[l].ops.front())].shape.channels);
    s.layers.push_back(LayerInfo{slots[l].name, slots[l].ops.front() + 1, stages[l], slots[l].multiple, slots[l].min});
  }
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const GraphOp& gop = g.ops[i];
    Op op = spec_op(gop);
    op.out = width_of(s, gop, op, slot_of[i]);
    s.ops.push_back(std::move(op));
  }
  place_drops(s);
  return s;
}

GraphCost graph_cost(const Graph& g) {
  const ArchSpec s = graph_to_spec(g, graph_slots(g), {});
  return {spec_flops(s), spec_params(s)};
}

std::vector<int64_t> graph_dflops(const Graph& g, const std::vector<GraphSlot>& slots) {
  return spec_dflops(graph_to_spec(g, slots, {}));
}

nlohmann::json graph_summary_json(const Graph& g) {
  const std::vector<GraphSlot> slots = graph_slots(g);
  const ArchSpec s = graph_to_spec(g, slots, {});
  nlohmann::json out_slots = nlohmann::json::array();
  for (const GraphSlot& sl : slots) {
    int64_t flops = 0;
    nlohmann::json ops = nlohmann::json::array();
    for (int i : sl.ops) {
      flops += op_cost(s, s.ops[size_t(i) + 1]).flops;  // spec op 0 is the input
      ops.push_back(g.ops[size_t(i)].name);
    }
    out_slots.push_back({{"name", sl.name},
                         {"width", sl.width},
                         {"multiple", sl.multiple},
                         {"min", sl.min},
                         {"flops", flops},
                         {"ops", ops}});
  }
  return {{"flops", spec_flops(s)},
          {"params", spec_params(s)},
          {"input", {g.input.channels, g.input.res, g.input.res}},
          {"output", g.ops[size_t(g.output)].name},
          {"classes", g.ops[size_t(g.output)].shape.channels},
          {"slots", out_slots}};
}

SpecCounter graph_counter(const ModelOptions& m, int resolution) {
  auto file = std::make_shared<const Graph>(model_graph(m, resolution));
  auto slots = std::make_shared<const std::vector<GraphSlot>>(graph_slots(*file));
  return [file, slots](const std::vector<int64_t>& c) {
    const ArchSpec s = graph_to_spec(*file, *slots, c);
    return SpecCount{spec_flops(s), spec_params(s)};
  };
}

ArchSpec graph_spec(const ModelOptions& m, const std::vector<int64_t>& c, int resolution) {
  const Graph file = model_graph(m, resolution);
  check_against_model(m, file);
  return graph_to_spec(file, graph_slots(file), c, m.arch);
}

}  // namespace netadj
