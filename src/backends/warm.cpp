// Warm start (backends/warm.h): channel maps from the spec's channel spaces, then the weights gathered
// through them.
#include "netadj/backends/warm.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>
#include <random>

#include "netadj/util/dsu.h"
#include "netadj/util/error.h"

namespace netadj {
namespace {

using Map = ChannelMap;

// Everything but the widths.
bool same_op(const Op& x, const Op& y) {
  return x.kind == y.kind && x.name == y.name && x.inputs == y.inputs && x.kernel == y.kernel && x.stride == y.stride &&
         x.pad == y.pad && x.depthwise == y.depthwise && x.bias == y.bias && x.act == y.act && x.slot == y.slot &&
         x.padding == y.padding;
}

void check_same_architecture(const ArchSpec& a, const ArchSpec& b) {
  bool same = a.arch == b.arch && a.ops.size() == b.ops.size() && a.in_channels == b.in_channels &&
              a.num_classes == b.num_classes;
  for (size_t i = 0; same && i < a.ops.size(); ++i) same = same_op(a.ops[i], b.ops[i]);
  if (!same)
    throw ConfigError("warm start: the networks are not the same architecture (" + a.arch + " with " +
                      std::to_string(a.ops.size()) + " ops, " + b.arch + " with " + std::to_string(b.ops.size()) + ")");
}

// Net2Net: the old channels, then copies of random ones; narrowed: the most important, in their order.
Map shared_map(int64_t w_old, int64_t w_new, const std::vector<double>& importance, std::mt19937_64& rng) {
  if (w_new >= w_old) {
    Map m = identity_map(w_old);
    std::uniform_int_distribution<int64_t> pick(0, w_old - 1);
    while (int64_t(m.size()) < w_new) m.push_back(pick(rng));
    return m;
  }
  Map order = identity_map(w_old);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return importance[size_t(x)] > importance[size_t(y)]; });
  order.resize(size_t(w_new));
  std::sort(order.begin(), order.end());
  return order;
}

// Channels matched by position from the last one (zero padding goes in front): new leading channels are
// zero, dropped leading channels go.
Map positional_map(int64_t w_old, int64_t w_new) {
  Map m(static_cast<size_t>(w_new), 0);
  for (int64_t j = 0; j < w_new; ++j) {
    int64_t q = j - (w_new - w_old);
    m[size_t(j)] = q >= 0 && q < w_old ? q : -1;
  }
  return m;
}

// ---- weights -------------------------------------------------------------------------------------

struct Gathered {
  torch::Tensor idx, valid;  // clamped indices (int64) and which entries have a source (bool)
};

Gathered gathered(const Map& m) {
  Gathered g;
  g.idx = torch::tensor(m, torch::kLong).clamp_min(0);
  g.valid = torch::tensor(m, torch::kLong).ge(0);
  return g;
}

// `valid` (1-D, along dim) broadcast to a tensor of `dims` dimensions.
torch::Tensor along(const torch::Tensor& valid, int64_t dim, int64_t dims) {
  std::vector<int64_t> shape(size_t(dims), 1);
  shape[size_t(dim)] = -1;
  return valid.view(shape);
}

// Rows (dim 0) of `old` picked by `m`; rows without a source take `fill`'s.
torch::Tensor pick_rows(const torch::Tensor& old, const Map& m, const torch::Tensor& fill) {
  Gathered g = gathered(m);
  return torch::where(along(g.valid, 0, old.dim()), old.index_select(0, g.idx), fill);
}

// Input columns (dim 1) of `w` for the new input channels: the old column divided by the number of its
// copies, times (1 + noise * (z - mean of z over the copies)): the copies' sum is the old column, so the
// layer's output is unchanged. Columns without a source take `fill`'s.
torch::Tensor split_columns(const torch::Tensor& w, const Map& m, int64_t w_old, const torch::Tensor& fill,
                            double noise, at::Generator& gen) {
  Gathered g = gathered(m);
  std::vector<double> copies(size_t(w_old), 0.0);
  for (int64_t q : m)
    if (q >= 0) copies[size_t(q)] += 1;
  std::vector<double> div(m.size(), 1.0);
  for (size_t k = 0; k < m.size(); ++k)
    if (m[k] >= 0) div[k] = copies[size_t(m[k])];
  const int64_t d = w.dim();
  const torch::Tensor divisor = along(torch::tensor(div, w.options()), 1, d);
  torch::Tensor cols = w.index_select(1, g.idx);
  torch::Tensor out = cols / divisor;
  if (noise > 0) {
    torch::Tensor valid = along(g.valid, 1, d).to(w.scalar_type());
    torch::Tensor z = torch::randn(cols.sizes(), gen, w.options()) * valid;
    std::vector<int64_t> sum_shape = cols.sizes().vec();
    sum_shape[1] = w_old;
    torch::Tensor mean = torch::zeros(sum_shape, w.options()).index_add_(1, g.idx, z).index_select(1, g.idx) / divisor;
    out = out * (1 + noise * (z - mean));
  }
  return torch::where(along(g.valid, 1, d), out, fill);
}

void assign(const torch::Tensor& dst, const torch::Tensor& src) {
  TORCH_CHECK(dst.sizes() == src.sizes(), "warm start: shape ", src.sizes(), " for a tensor of ", dst.sizes());
  dst.copy_(src);
}

// BN channels by `m`; a new channel is the identity (pre-activation: 0 stays 0 through BN + ReLU), or
// zero when `zero_new` (its conv's output is then zero whatever the filter).
void copy_bn(const torch::nn::BatchNorm2d& from, const torch::nn::BatchNorm2d& to, const Map& m, bool zero_new) {
  const double gamma = zero_new ? 0.0 : 1.0;
  assign(to->weight, pick_rows(from->weight, m, torch::full_like(to->weight, gamma)));
  assign(to->bias, pick_rows(from->bias, m, torch::zeros_like(to->bias)));
  assign(to->running_mean, pick_rows(from->running_mean, m, torch::zeros_like(to->running_mean)));
  assign(to->running_var, pick_rows(from->running_var, m, torch::ones_like(to->running_var)));
  to->num_batches_tracked.copy_(from->num_batches_tracked);
}

// ---- channel maps ----------------------------------------------------------------------------------
// Channels live in spaces: each op says which inputs it is tied to (OpDef::tied_inputs: a depthwise conv, a
// pool, a BatchNorm, an activation, an add all its inputs, a multiply those of its width). The ops that make a space's
// channels are its roots (OpDef::makes_channels: the convolutions, not depthwise, and linears). Roots of one slot share
// a space too.

// The slot whose width `w` is, or -1.
int slot_of(const Width& w) { return w.terms.size() == 1 && w.terms[0].second == 1 ? w.terms[0].first : -1; }

bool is_root(const Op& op) { return op_def(op.kind).makes_channels(op); }

// Per space (keyed by its representative op): its roots in op order, and whether the input or a concat is in it
// (its channels then do not come from its roots alone).
struct Spaces {
  std::map<int, std::vector<int>> roots;
  std::map<int, bool> mixed;
};

Spaces channel_spaces(const ArchSpec& to) {
  const size_t n = to.ops.size();
  Dsu dsu(n);
  std::map<int, int> slot_root;
  for (size_t i = 0; i < n; ++i) {
    const Op& op = to.ops[i];
    for (int in : op_def(op.kind).tied_inputs(to, op)) dsu.unite(int(i), in);
    const int slot = is_root(op) ? slot_of(op.out) : -1;
    if (slot < 0) continue;
    if (slot_root.count(slot))
      dsu.unite(int(i), slot_root[slot]);
    else
      slot_root[slot] = int(i);
  }
  Spaces sp;
  for (size_t i = 0; i < n; ++i) {
    const Op& op = to.ops[i];
    const int s = dsu.find(int(i));
    if (is_root(op))
      sp.roots[s].push_back(int(i));
    else if (op_def(op.kind).brings_channels())
      sp.mixed[s] = true;
  }
  return sp;
}

// A root's channel importance: |gamma| of the BatchNorm op that reads it with "bn", else the L1 norm of each
// output channel's weights.
std::vector<double> importance_of(GraphNetImpl& net, int op, WarmImportance how) {
  const ArchSpec& s = net.spec();
  const auto& n = net.node(size_t(op));
  torch::Tensor v = (n.conv ? n.conv->weight : n.fc->weight).detach().abs().flatten(1).sum(1);
  for (size_t j = size_t(op) + 1; how == WarmImportance::kBn && j < s.ops.size(); ++j)
    if (op_def(s.ops[j].kind).is_batch_norm() && s.ops[j].inputs[0] == op) v = net.node(j).bn->weight.detach().abs();
  v = v.to(torch::kDouble).contiguous();
  return std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel());
}

// shared_map within each of `groups` equal parts (a grouped conv's channels stay in their group).
Map grouped_map(int64_t w_old, int64_t w_new, int64_t groups, const std::vector<double>& imp, std::mt19937_64& rng) {
  if (groups <= 1 || w_old % groups != 0 || w_new % groups != 0) return shared_map(w_old, w_new, imp, rng);
  const int64_t po = w_old / groups, pn = w_new / groups;
  Map m;
  for (int64_t k = 0; k < groups; ++k) {
    std::vector<double> part(imp.begin() + k * po, imp.begin() + (k + 1) * po);
    for (int64_t q : shared_map(po, pn, part, rng)) m.push_back(k * po + q);
  }
  return m;
}

// The maps of every space's roots: one shared map where they all have one width before and one after (kept
// within the groups of the slot's grouped convs), else by position.
void map_roots(GraphNetImpl& from, const ArchSpec& to, const WarmMapOptions& o, std::vector<Map>& maps) {
  const ArchSpec& a = from.spec();
  Spaces sp = channel_spaces(to);
  std::mt19937_64 rng(o.seed);
  // Spaces in the order of their first root, so the random picks do not depend on map ordering.
  std::vector<std::pair<int, int>> order;
  for (const auto& [s, members] : sp.roots) order.emplace_back(members.front(), s);
  std::sort(order.begin(), order.end());
  for (const auto& entry : order) {
    const std::vector<int>& members = sp.roots[entry.second];
    const int64_t w_old = a.ops[size_t(members[0])].out.value, w_new = to.ops[size_t(members[0])].out.value;
    bool shared = !sp.mixed[entry.second];
    for (int i : members)
      shared = shared && a.ops[size_t(i)].out.value == w_old && to.ops[size_t(i)].out.value == w_new;
    if (!shared) {
      for (int i : members) maps[size_t(i)] = positional_map(a.ops[size_t(i)].out.value, to.ops[size_t(i)].out.value);
      continue;
    }
    std::vector<double> importance(size_t(w_old), 0.0);
    if (w_new < w_old)
      for (int i : members) {
        auto v = importance_of(from, i, o.importance);
        for (size_t q = 0; q < v.size(); ++q) importance[q] += v[q];
      }
    const int slot = slot_of(to.ops[size_t(members[0])].out);
    const int64_t groups = slot >= 0 ? to.layers[size_t(slot)].multiple : 1;
    Map m = grouped_map(w_old, w_new, groups, importance, rng);
    for (int i : members) maps[size_t(i)] = m;
  }
}

// The other ops' maps follow from their inputs' (OpDef::derived_map).
Map derived_map(const ArchSpec& a, const ArchSpec& to, const std::vector<Map>& maps, size_t i) {
  const Op& op = to.ops[i];
  return is_root(op) ? maps[i] : op_def(op.kind).derived_map(a, to, maps, i);
}

// A grouped conv's weight [out, in / groups, k, k] for the new channels: row o from old row out[o], column i
// from the old input channel in_map[group(o) * in_per_group + i], divided by its number of copies.
torch::Tensor grouped_weight(const torch::Tensor& old, const Map& out, const Map& in, int64_t groups) {
  const int64_t pn_out = int64_t(out.size()) / groups, pn_in = int64_t(in.size()) / groups;
  const int64_t po_out = old.size(0) / groups, po_in = old.size(1);
  std::map<int64_t, double> copies;
  for (int64_t q : in) copies[q] += 1;
  std::vector<int64_t> idx;
  std::vector<double> div;
  for (int64_t o = 0; o < int64_t(out.size()); ++o)
    for (int64_t i = 0; i < pn_in; ++i) {
      const int64_t q = in[size_t((o / pn_out) * pn_in + i)], local = q - (out[size_t(o)] / po_out) * po_in;
      if (local < 0 || local >= po_in) throw std::logic_error("warm start: a grouped conv's channel left its group");
      idx.push_back(out[size_t(o)] * po_in + local);
      div.push_back(copies[q]);
    }
  torch::Tensor flat = old.reshape({old.size(0) * po_in, old.size(2), old.size(3)});
  torch::Tensor w =
      flat.index_select(0, torch::tensor(idx, torch::kLong)) / torch::tensor(div, old.options()).view({-1, 1, 1});
  return w.view({int64_t(out.size()), pn_in, old.size(2), old.size(3)});
}

// The weights of `to` from `from`'s through the maps. An op's modules decide: a conv, a BatchNorm op, a linear.
// A conv's new output channels are zero: by their BatchNorm's gamma where one alone reads the conv (the
// conv keeps its own filters there, to train), else by zero filters.
struct Transfer {
  GraphNetImpl& from;
  GraphNetImpl& to;
  const std::vector<Map>& maps;
  double noise;
  at::Generator gen;

  const Map& in_map(const Op& op) const { return maps[size_t(op.inputs.at(0))]; }
  int64_t old_width(int op) const { return from.spec().ops[size_t(op)].out.value; }

  void conv(size_t i, const Op& op) {
    const auto& a = from.node(i);
    const auto& b = to.node(i);
    const Map& out = maps[i];
    const Gathered source = gathered(out);
    const torch::Tensor has_source = along(source.valid, 0, 4);
    torch::Tensor w;
    if (op.depthwise) {
      w = pick_rows(a.conv->weight, out, b.conv->weight);
    } else if (op.groups > 1) {
      w = grouped_weight(a.conv->weight, out, in_map(op), op.groups);
    } else {
      torch::Tensor rows = a.conv->weight.index_select(0, source.idx);
      w = split_columns(rows, in_map(op), old_width(op.inputs[0]), b.conv->weight, noise, gen);
      w = torch::where(has_source, w, b.conv->weight);
    }
    if (folded_bn(to.spec(), i) < 0) w = torch::where(has_source, w, torch::zeros_like(w));
    assign(b.conv->weight, w);
    if (b.conv->bias.defined()) assign(b.conv->bias, pick_rows(a.conv->bias, out, torch::zeros_like(b.conv->bias)));
  }

  void linear(size_t i, const Op& op) {
    const auto& a = from.node(i);
    const auto& b = to.node(i);
    torch::Tensor rows = a.fc->weight.index_select(0, gathered(maps[i]).idx);
    assign(b.fc->weight, split_columns(rows, in_map(op), old_width(op.inputs[0]), b.fc->weight, noise, gen));
    if (b.fc->bias.defined()) assign(b.fc->bias, pick_rows(a.fc->bias, maps[i], b.fc->bias));
  }

  void run() {
    torch::NoGradGuard ng;
    const auto& ops = to.spec().ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      const auto& a = from.node(i);
      const auto& b = to.node(i);
      if (b.conv) conv(i, op);
      if (b.fc) linear(i, op);
      if (b.bn) copy_bn(a.bn, b.bn, maps[i], bn_fold_target(to.spec(), i) >= 0);
    }
  }
};

}  // namespace

std::vector<Map> warm_channel_maps(GraphNet& from, const ArchSpec& to, const WarmMapOptions& o) {
  const ArchSpec& a = from->spec();
  check_same_architecture(a, to);
  std::vector<Map> maps(to.ops.size());
  map_roots(*from, to, o, maps);
  for (size_t i = 0; i < to.ops.size(); ++i) {
    maps[i] = derived_map(a, to, maps, i);
    if (int64_t(maps[i].size()) != to.ops[i].out.value)
      throw std::logic_error("warm start: op " + to.ops[i].name + " mapped to " + std::to_string(maps[i].size()) +
                             " channels, it has " + std::to_string(to.ops[i].out.value));
  }
  return maps;
}

void warm_transfer(GraphNet& from, GraphNet& to, const WarmMapOptions& o) {
  const std::vector<Map> maps = warm_channel_maps(from, to->spec(), o);
  at::Generator gen = at::detail::createCPUGenerator(o.seed ^ 0x9e3779b97f4a7c15ULL);
  Transfer{*from, *to, maps, o.noise, gen}.run();
}

}  // namespace netadj
