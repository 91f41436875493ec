#include "netadj/ir/lower.h"

#include <fmt/format.h>

namespace netadj {

ModuleBuild::ModuleBuild(torch::nn::Module& owner, const ArchSpec& spec, size_t index, OpModules& m)
    : spec(spec), index(index), op(spec.ops.at(index)), m(m), owner_(owner) {
  name_ = "op" + std::to_string(index) + "_" + op.name;
  for (char& ch : name_)
    if (ch == '.') ch = '_';
}

torch::Tensor fit_channels(const torch::Tensor& x, int64_t want) {
  const int64_t have = x.size(1);
  if (have == want) return x;
  if (have > want) return x.narrow(1, 0, want);
  return torch::constant_pad_nd(x, {0, 0, 0, 0, want - have, 0});
}

std::string fit_channels_source(const std::string& x, int64_t have, int64_t want) {
  if (have == want) return x;
  if (have > want) return fmt::format("{}.narrow(1, 0, {})", x, want);
  return fmt::format("torch.constant_pad_nd({}, [0, 0, 0, 0, {}, 0], 0.0)", x, want - have);
}

FoldedBn fold(const torch::nn::BatchNorm2d& bn) {
  torch::Tensor scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  return {scale, bn->bias - bn->running_mean * scale};
}

std::string ScriptEmit::batch_norm(const std::string& x, const std::string& prefix, const torch::nn::BatchNorm2d& bn,
                                   bool folded) {
  if (folded) {
    FoldedBn f = fold(bn);
    param(prefix + "s", f.scale.view({1, -1, 1, 1}));
    param(prefix + "t", f.shift.view({1, -1, 1, 1}));
    return fmt::format("{} * {} + {}", x, attr(prefix + "s"), attr(prefix + "t"));
  }
  param(prefix + "w", bn->weight);
  param(prefix + "b", bn->bias);
  param(prefix + "rm", bn->running_mean);
  param(prefix + "rv", bn->running_var);
  eps(prefix, bn->options.eps());
  return fmt::format("torch.batch_norm({}, {}, {}, {}, {}, False, 0.0, {}, True)", x, attr(prefix + "w"),
                     attr(prefix + "b"), attr(prefix + "rm"), attr(prefix + "rv"), attr(prefix + "eps_"));
}

std::string OnnxEmit::fit(const std::string& x, int64_t have, int64_t want) {
  if (have == want) return x;
  if (have > want) return node("Slice", {x, ints("zero", {0}), ints("want", {want}), ints("axis1", {1})}, x + "_fit");
  return node("Pad", {x, ints("pads", {0, want - have, 0, 0, 0, 0, 0, 0})}, x + "_fit");
}

}  // namespace netadj
