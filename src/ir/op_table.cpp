#include "netadj/ir/op.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "netadj/util/error.h"
#include "ops/ops.h"

namespace netadj {

int64_t count_fit(WideCount v) {
  if (v > WideCount(INT64_MAX) || v < WideCount(INT64_MIN))
    throw ConfigError(
        "model: the network is too large to count (its FLOPs or parameters overflow 64 bits); "
        "reduce model.channels, model.depth or model.resolution");
  return static_cast<int64_t>(v);
}

void FlopsGradient::add(const Width& w, WideCount factor) {
  for (auto [slot, k] : w.terms) g_[static_cast<size_t>(slot)] += k * factor;
}

std::vector<int64_t> FlopsGradient::values() const {
  std::vector<int64_t> out;
  out.reserve(g_.size());
  for (WideCount v : g_) out.push_back(count_fit(v));
  return out;
}

OpCost OpDef::cost(const ArchSpec& /*s*/, const Op& /*op*/) const { return {}; }
void OpDef::add_dflops(const ArchSpec& /*s*/, const Op& /*op*/, FlopsGradient& /*g*/) const {}
std::vector<int> OpDef::tied_inputs(const ArchSpec& /*s*/, const Op& /*op*/) const { return {}; }
ChannelMap OpDef::derived_map(const ArchSpec& /*from*/, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                              size_t i) const {
  return maps[size_t(to.ops[i].inputs.at(0))];
}
void OpDef::build(ModuleBuild& /*b*/) const {}

ChannelMap identity_map(int64_t n) {
  ChannelMap m(static_cast<size_t>(n), 0);
  std::iota(m.begin(), m.end(), 0);
  return m;
}

int bn_fold_target(const ArchSpec& s, size_t bn) {
  const Op& op = s.ops.at(bn);
  if (!op_def(op.kind).is_batch_norm() || op.inputs.size() != 1) return -1;
  const int target = op.inputs[0];
  const Op& producer = s.ops[size_t(target)];
  if (!op_def(producer.kind).absorbs_bn(producer)) return -1;
  for (size_t j = 0; j < s.ops.size(); ++j)
    if (j != bn && std::count(s.ops[j].inputs.begin(), s.ops[j].inputs.end(), target) > 0) return -1;
  return target;
}

int folded_bn(const ArchSpec& s, size_t i) {
  for (size_t j = i + 1; j < s.ops.size(); ++j)
    if (std::count(s.ops[j].inputs.begin(), s.ops[j].inputs.end(), int(i)) > 0)
      return bn_fold_target(s, j) == int(i) ? int(j) : -1;
  return -1;
}

const Width& input_width(const ArchSpec& s, const Op& op, size_t k) {
  return s.ops.at(static_cast<size_t>(op.inputs.at(k))).out;
}

const std::vector<const OpDef*>& op_table() {
  static const std::vector<const OpDef*> table = [] {
    const std::vector<const OpDef*> defs = {
        &ops::input(),          &ops::conv(),          &ops::add(),         &ops::concat(),
        &ops::avg_pool(),       &ops::max_pool(),      &ops::global_pool(), &ops::linear(),
        &ops::squeeze_excite(), &ops::batch_norm(),    &ops::activation(),  &ops::mul(),
        &ops::flatten(),        &ops::adaptive_pool(), &ops::identity(),    &ops::shuffle()};
    // In OpKind order, each kind once: a definition missing or listed twice is a programming error.
    std::vector<const OpDef*> t(defs.size(), nullptr);
    for (const OpDef* d : defs) {
      const auto k = static_cast<size_t>(d->kind());
      if (k >= t.size() || t[k])
        throw std::logic_error(std::string("op table: op '") + d->name() + "' is listed twice or out of range");
      t[k] = d;
    }
    return t;
  }();
  return table;
}

const OpDef& op_def(OpKind kind) { return *op_table().at(static_cast<size_t>(kind)); }

}  // namespace netadj
