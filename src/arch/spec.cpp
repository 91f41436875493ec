#include "netadj/arch/spec.h"

#include <algorithm>
#include <map>

#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace netadj {

// ---- cost model ---------------------------------------------------------------------------------

namespace {
// Counts are formed in 128 bits (build_spec bounds every factor, so no product overflows there) and must
// fit in int64: a network too large to count is refused rather than counted wrong.
using Wide = __int128;
int64_t fit(Wide v) {
  if (v > Wide(INT64_MAX) || v < Wide(INT64_MIN))
    throw ConfigError(
        "model: the network is too large to count (its FLOPs or parameters overflow 64 bits); "
        "reduce model.channels, model.depth or model.resolution");
  return static_cast<int64_t>(v);
}
}  // namespace

OpCost op_cost(const ArchSpec& s, const Op& op) {
  OpCost c;
  switch (op.kind) {
    case OpKind::kConv: {
      const Width& in = s.ops[static_cast<size_t>(op.inputs[0])].out;
      int64_t k2 = int64_t(op.kernel) * op.kernel;
      int64_t cin_per_group = op.depthwise ? 1 : in.value / op.groups;
      c.flops = fit(Wide(k2) * cin_per_group * op.out.value * op.res * op.res);
      c.params = fit(Wide(k2) * cin_per_group * op.out.value + (op.bias ? op.out.value : 0) +
                     (op.bn ? 2 * Wide(op.out.value) : 0) + (op.preact ? 2 * Wide(in.value) : 0));
      break;
    }
    case OpKind::kLinear: {
      const Width& in = s.ops[static_cast<size_t>(op.inputs[0])].out;
      c.flops = fit(Wide(in.value) * op.out.value);
      c.params = fit(Wide(in.value) * op.out.value + (op.bias ? op.out.value : 0));
      break;
    }
    case OpKind::kBatchNorm:
      c.params = fit(2 * Wide(op.out.value));
      break;
    case OpKind::kSqueezeExcite:
      // Two 1x1 convolutions (with bias) on the pooled 1x1 map.
      c.flops = fit(2 * Wide(op.out.value) * op.se_width);
      c.params = fit(2 * Wide(op.out.value) * op.se_width + op.se_width + op.out.value);
      break;
    case OpKind::kGlobalPool:
      // Optional BN + ReLU before pooling (DenseNet's final pre-activation).
      c.params = op.bn ? 2 * op.out.value : 0;
      break;
    default:
      break;
  }
  return c;
}

int64_t spec_flops(const ArchSpec& s) {
  Wide f = 0;
  for (const auto& op : s.ops) f += op_cost(s, op).flops;
  return fit(f);
}

int64_t spec_params(const ArchSpec& s) {
  Wide p = 0;
  for (const auto& op : s.ops) p += op_cost(s, op).params;
  return fit(p);
}

std::vector<int64_t> spec_dflops(const ArchSpec& s) {
  std::vector<Wide> g(s.channels.size(), 0);
  auto add_terms = [&](const Width& w, Wide factor) {
    for (auto [slot, k] : w.terms) g[static_cast<size_t>(slot)] += k * factor;
  };
  for (const auto& op : s.ops) {
    if (op.kind == OpKind::kConv) {
      const Width& in = s.ops[static_cast<size_t>(op.inputs[0])].out;
      Wide base = Wide(op.kernel) * op.kernel * op.res * op.res;
      if (op.depthwise) {
        add_terms(op.out, base);
      } else {
        add_terms(in, base * (op.out.value / op.groups));
        add_terms(op.out, base * (in.value / op.groups));
      }
    } else if (op.kind == OpKind::kLinear) {
      const Width& in = s.ops[static_cast<size_t>(op.inputs[0])].out;
      add_terms(in, op.out.value);
      add_terms(op.out, in.value);  // a network file's hidden linear is a slot
    } else if (op.kind == OpKind::kSqueezeExcite) {
      add_terms(op.out, 2 * op.se_width);
    }
  }
  std::vector<int64_t> out;
  for (Wide v : g) out.push_back(fit(v));
  return out;
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

int design_resolution(const ModelOptions& m) {
  const ArchInfo& a = find_arch(m.arch);
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
  return find_arch(m.arch).build(m, {}, design_resolution(m)).channels;
}

ArchSpec build_spec(const ModelOptions& m, int resolution, const std::vector<int64_t>& channels) {
  const ArchInfo& a = find_arch(m.arch);
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

ArchSpec build_spec(const ModelOptions& m, int resolution) {
  if (m.channels.empty()) {
    check_model_size(m, resolution);
    ArchSpec s = find_arch(m.arch).build(m, {}, resolution);
    for (size_t i = 0; i < s.channels.size(); ++i)
      if (s.channels[i] > kMaxChannels)
        throw ConfigError("model: default width " + std::to_string(s.channels[i]) + " of layer " + std::to_string(i) +
                          " is over " + std::to_string(kMaxChannels) + "; reduce model.width or model.depth");
    return s;
  }
  return build_spec(m, resolution, m.channels);
}

}  // namespace netadj
