#include "netadj/nets/spec.h"

#include "netadj/ir/op.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace netadj {

// ---- cost model: each op's share comes from its definition (ir/op.h) ----------------------------

OpCost op_cost(const ArchSpec& s, const Op& op) { return op_def(op.kind).cost(s, op); }

int64_t spec_flops(const ArchSpec& s) {
  WideCount f = 0;
  for (const auto& op : s.ops) f += op_cost(s, op).flops;
  return count_fit(f);
}

int64_t spec_params(const ArchSpec& s) {
  WideCount p = 0;
  for (const auto& op : s.ops) p += op_cost(s, op).params;
  return count_fit(p);
}

std::vector<int64_t> spec_dflops(const ArchSpec& s) {
  FlopsGradient g(s.channels.size());
  for (const auto& op : s.ops) op_def(op.kind).add_dflops(s, op, g);
  return g.values();
}

// ---- registry lookups ---------------------------------------------------------------------------

const ArchInfo& find_arch(const std::string& name) {
  const auto& reg = arch_registry();
  for (const auto& a : reg)
    if (a.name == name) return a;
  std::string known;
  for (const auto& a : reg) known += (known.empty() ? "" : ", ") + a.name;
  throw ConfigError("model.arch = \"" + name + "\": unknown model; known: " + known);
}

namespace {

// model.graph goes with an architecture that reads a network file, and only with one (ConfigError otherwise).
const ArchInfo& arch_for(const ModelOptions& m) {
  const ArchInfo& a = find_arch(m.arch);
  if (a.imported && !m.graph) throw ConfigError("model.graph: model.arch \"" + m.arch + "\" needs a network file");
  if (!a.imported && m.graph)
    throw ConfigError("model.graph: a network file needs model.arch = " + imported_arch_names() + ", not \"" + m.arch +
                      "\"");
  return a;
}

}  // namespace

std::string imported_arch_names() {
  std::string names;
  for (const ArchInfo& a : arch_registry())
    if (a.imported) names += (names.empty() ? "\"" : " or \"") + a.name + "\"";
  return names;
}

int design_resolution(const ModelOptions& m) {
  const ArchInfo& a = arch_for(m);
  return a.design_resolution ? a.design_resolution(m) : a.default_resolution;
}

int resolve_resolution(const ModelOptions& m, int data_resolution) {
  if (m.resolution > 0) return m.resolution;
  if (data_resolution > 0) return data_resolution;
  return design_resolution(m);
}

bool far_from_design(const ModelOptions& m, int resolution) {
  int design = design_resolution(m);
  return 2 * resolution < design || resolution > 2 * design;
}

void warn_if_far_from_design(const ModelOptions& m, int resolution) {
  if (!far_from_design(m, resolution)) return;
  logger()->warn(
      "{} is designed for {}x{} inputs but is built for {}x{}: its FLOPs and accuracy will not match the "
      "paper's (set model.resolution, or use a dataset of that size)",
      m.arch, design_resolution(m), design_resolution(m), resolution, resolution);
}

std::vector<int64_t> default_channels(const ModelOptions& m) {
  return arch_for(m).build(m, {}, design_resolution(m)).channels;
}

ArchSpec build_spec(const ModelOptions& m, int resolution, const std::vector<int64_t>& channels) {
  const ArchInfo& a = arch_for(m);
  if (channels.empty()) throw ConfigError("model.channels: empty; give one width per searchable layer");
  for (size_t i = 0; i < channels.size(); ++i)
    if (channels[i] < 1 || channels[i] > kMaxChannels)
      throw ConfigError("model.channels[" + std::to_string(i) + "] = " + std::to_string(channels[i]) +
                        ": channel numbers must be in [1, " + std::to_string(kMaxChannels) + "]");
  check_model_size(m, resolution);
  return a.build(m, channels, resolution);
}

void check_model_size(const ModelOptions& m, int resolution) {
  if (m.depth > kMaxDepth)
    throw ConfigError("model.depth = " + std::to_string(m.depth) + ": must be at most " + std::to_string(kMaxDepth));
  if (resolution < 1 || resolution > kMaxResolution)
    throw ConfigError("model.resolution = " + std::to_string(resolution) + ": the input resolution must be in [1, " +
                      std::to_string(kMaxResolution) + "]");
}

SpecCounter spec_counter(const ModelOptions& m, int resolution) {
  const ArchInfo& a = find_arch(m.arch);
  if (a.counter) return a.counter(m, resolution);
  return [m, resolution](const std::vector<int64_t>& c) {
    const ArchSpec s = build_spec(m, resolution, c);
    return SpecCount{spec_flops(s), spec_params(s)};
  };
}

ArchSpec build_spec(const ModelOptions& m, int resolution) {
  if (m.channels.empty()) {
    check_model_size(m, resolution);
    ArchSpec s = arch_for(m).build(m, {}, resolution);
    for (size_t i = 0; i < s.channels.size(); ++i)
      if (s.channels[i] > kMaxChannels)
        throw ConfigError("model: default width " + std::to_string(s.channels[i]) + " of layer " + std::to_string(i) +
                          " is over " + std::to_string(kMaxChannels) + "; reduce model.width or model.depth");
    return s;
  }
  return build_spec(m, resolution, m.channels);
}

}  // namespace netadj
