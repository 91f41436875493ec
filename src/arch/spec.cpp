#include "netadj/arch/spec.h"

#include <algorithm>
#include <map>

#include "netadj/arch/builder.h"
#include "netadj/arch/graph.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace netadj {

SpecBuilder::SpecBuilder(const ModelOptions& m, int resolution, std::vector<int64_t> channels) {
  spec_.arch = m.arch;
  spec_.in_channels = m.in_channels;
  spec_.resolution = resolution;
  spec_.num_classes = m.num_classes;
  given_ = std::move(channels);
  depth_ = m.depth;
  Op in;
  in.kind = OpKind::kInput;
  in.name = "input";
  in.out = Width::constant(m.in_channels);
  in.res = resolution;
  spec_.ops.push_back(in);
}

int SpecBuilder::push(Op op) {
  spec_.ops.push_back(std::move(op));
  return static_cast<int>(spec_.ops.size()) - 1;
}

int SpecBuilder::slot(const std::string& name, int stage, int64_t default_width) {
  size_t index = spec_.channels.size();
  // A vector that is too short is reported by finish(), with the count; until then the default stands in.
  spec_.channels.push_back(index < given_.size() ? given_[index] : default_width);
  spec_.layers.push_back(LayerInfo{name, -1, stage});
  return static_cast<int>(index);
}

// Output size of a conv or (floor-mode) pool; 0 when the window does not fit (PyTorch refuses that).
static int conv_out_res(int res, int kernel, int stride, int pad) {
  const int span = res + 2 * pad - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

int SpecBuilder::conv(int in, const std::string& name, const Width& out, int kernel, int stride, ConvFlags f) {
  Op op;
  op.kind = OpKind::kConv;
  op.name = name;
  op.inputs = {in};
  op.kernel = kernel;
  op.stride = stride;
  op.pad = kernel / 2;
  op.res = conv_out_res(this->op(in).res, kernel, stride, op.pad);
  if (op.res < 1)
    throw ConfigError(spec_.arch + ": input resolution " + std::to_string(spec_.resolution) + " is too small (layer " +
                      name + " would have no pixels left)");
  op.bn = f.bn;
  op.relu = f.relu;
  op.preact = f.preact;
  op.depthwise = f.depthwise;
  op.bias = f.bias;
  if (f.depthwise && out.value != width(in).value)
    throw ConfigError(spec_.arch + ": depthwise layer " + name + " must keep its width");
  op.out = out;
  return push(std::move(op));
}

int SpecBuilder::searchable_conv(int in, int slot, int kernel, int stride, ConvFlags f) {
  const auto& l = spec_.layers.at(static_cast<size_t>(slot));
  int i = conv(in, l.name, Width::slot(slot, channel(slot)), kernel, stride, f);
  spec_.ops[static_cast<size_t>(i)].slot = slot;
  spec_.layers[static_cast<size_t>(slot)].op = i;
  return i;
}

int SpecBuilder::add(int stream, int branch, Padding padding, bool branch_wins_ties, bool relu) {
  const Op& a = op(stream);
  const Op& b = op(branch);
  if (a.res != b.res)
    throw ConfigError(spec_.arch + ": residual sum at " + b.name + " joins resolutions " + std::to_string(a.res) +
                      " and " + std::to_string(b.res));
  Op o;
  o.kind = OpKind::kAdd;
  o.name = b.name + ".add";
  o.inputs = {stream, branch};
  o.res = b.res;
  o.padding = padding;
  o.relu = relu;
  if (padding == Padding::kLocal) {
    o.out = b.out;
  } else {
    bool take_branch = b.out.value > a.out.value || (branch_wins_ties && b.out.value == a.out.value);
    o.out = take_branch ? b.out : a.out;
  }
  return push(std::move(o));
}

int SpecBuilder::concat(const std::vector<int>& ins, const std::string& name) {
  Op o;
  o.kind = OpKind::kConcat;
  o.name = name;
  o.inputs = ins;
  o.res = op(ins.at(0)).res;
  // Each contributor is charged for its own channels.
  std::map<int, int64_t> terms;
  for (int i : ins) {
    if (op(i).res != o.res) throw ConfigError(spec_.arch + ": concatenation " + name + " joins resolutions");
    o.out.value += width(i).value;
    for (auto [s, k] : width(i).terms) terms[s] += k;
  }
  for (auto [s, k] : terms)
    if (k != 0) o.out.terms.emplace_back(s, k);
  return push(std::move(o));
}

// A pooling op keeps its input's width; `res` is its output resolution.
static Op pool_op(OpKind kind, const Op& in, int index, const char* suffix, int kernel, int stride, int res) {
  Op o;
  o.kind = kind;
  o.name = in.name + suffix;
  o.inputs = {index};
  o.kernel = kernel;
  o.stride = stride;
  o.res = res;
  o.out = in.out;
  return o;
}

int SpecBuilder::avg_pool(int in, int kernel, int stride) {
  // ceil mode, so that odd resolutions (7x7) match a stride-2 3x3 conv beside it.
  int res = op(in).res < kernel ? 0 : (op(in).res - kernel + stride - 1) / stride + 1;
  if (res < 1)
    throw ConfigError(spec_.arch + ": input resolution " + std::to_string(spec_.resolution) +
                      " is too small (pooling after " + op(in).name + " leaves no pixels)");
  Op o = pool_op(OpKind::kAvgPool, op(in), in, ".avgpool", kernel, stride, res);
  o.ceil = true;
  return push(std::move(o));
}

int SpecBuilder::max_pool(int in, int kernel, int stride, int pad) {
  Op o =
      pool_op(OpKind::kMaxPool, op(in), in, ".maxpool", kernel, stride, conv_out_res(op(in).res, kernel, stride, pad));
  o.pad = pad;
  if (o.res < 1)
    throw ConfigError(spec_.arch + ": input resolution " + std::to_string(spec_.resolution) +
                      " is too small (pooling after " + op(in).name + " leaves no pixels)");
  return push(std::move(o));
}

int SpecBuilder::global_pool(int in, bool preact) {
  Op o;
  o.bn = preact;
  o.relu = preact;
  o.kind = OpKind::kGlobalPool;
  o.name = "global_pool";
  o.inputs = {in};
  o.res = 1;
  o.out = width(in);
  return push(std::move(o));
}

int SpecBuilder::linear(int in, int64_t out) {
  Op o;
  o.kind = OpKind::kLinear;
  o.name = "fc";
  o.inputs = {in};
  o.res = 1;
  o.bias = true;
  o.out = Width::constant(out);
  return push(std::move(o));
}

int SpecBuilder::squeeze_excite(int in, int64_t se_width) {
  Op o;
  o.kind = OpKind::kSqueezeExcite;
  o.name = op(in).name + ".se";
  o.inputs = {in};
  o.res = op(in).res;
  o.out = width(in);
  o.se_width = se_width;
  return push(std::move(o));
}

ArchSpec SpecBuilder::finish() {
  if (!given_.empty() && given_.size() != spec_.channels.size())
    throw ConfigError("model.channels: has " + std::to_string(given_.size()) + " entries, but " + spec_.arch +
                      " depth " + std::to_string(depth_) + " has " + std::to_string(spec_.channels.size()) +
                      " searchable layers");
  for (size_t l = 0; l < spec_.layers.size(); ++l)
    if (spec_.layers[l].op < 0)
      throw std::logic_error(spec_.arch + ": searchable slot " + std::to_string(l) + " has no layer");
  return std::move(spec_);
}

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
  if (m.arch == "graph") return int(model_graph(m).input.res);
  return find_arch(m.arch).default_resolution;
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
