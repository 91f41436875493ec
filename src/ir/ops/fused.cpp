// The neighbours the latency model times with an op: a kernel runs a conv with its BatchNorm (folded), its ReLU
// and a pre-activation in one, and a squeeze-excitation as one block.
#include "ops.h"

namespace netadj::ops {
namespace {

bool is_act(const ArchSpec& s, int i, Activation a) {
  return i >= 0 && s.ops[size_t(i)].kind == OpKind::kActivation && s.ops[size_t(i)].act == a;
}
bool is_kind(const ArchSpec& s, int i, OpKind k) { return i >= 0 && s.ops[size_t(i)].kind == k; }

}  // namespace

int fused_relu(const ArchSpec& s, size_t i) {
  const int bn = folded_bn(s, i);
  const int r = only_reader(s, bn >= 0 ? size_t(bn) : i);
  return is_act(s, r, Activation::kRelu) ? r : -1;
}

bool has_preact(const ArchSpec& s, size_t i) {
  const int relu = s.ops[i].inputs.empty() ? -1 : s.ops[i].inputs[0];
  if (!is_act(s, relu, Activation::kRelu) || only_reader(s, size_t(relu)) != int(i)) return false;
  const int bn = s.ops[size_t(relu)].inputs[0];
  return is_kind(s, bn, OpKind::kBatchNorm) && only_reader(s, size_t(bn)) == relu;
}

int se_reduce(const ArchSpec& s, size_t i) {
  const Op& mul = s.ops[i];
  if (mul.kind != OpKind::kMul || mul.inputs.size() != 2) return -1;
  const int x = mul.inputs[0], gate = mul.inputs[1];
  // Each link read only by the next: sigmoid <- expand conv <- relu <- reduce conv <- mean(x).
  auto feeds = [&](int from, int to) { return from >= 0 && only_reader(s, size_t(from)) == to; };
  auto input = [&](int j) { return s.ops[size_t(j)].inputs.empty() ? -1 : s.ops[size_t(j)].inputs[0]; };
  if (!is_act(s, gate, Activation::kSigmoid) || !feeds(gate, int(i))) return -1;
  const int expand = input(gate);
  if (!is_kind(s, expand, OpKind::kConv) || !feeds(expand, gate)) return -1;
  const int relu = input(expand);
  if (!is_act(s, relu, Activation::kRelu) || !feeds(relu, expand)) return -1;
  const int reduce = input(relu);
  if (!is_kind(s, reduce, OpKind::kConv) || !feeds(reduce, relu)) return -1;
  const int pool = input(reduce);
  if (!is_kind(s, pool, OpKind::kGlobalPool) || !feeds(pool, reduce) || input(pool) != x) return -1;
  const Op &r = s.ops[size_t(reduce)], &e = s.ops[size_t(expand)];
  const bool one_by_one = r.kernel == 1 && e.kernel == 1 && r.groups == 1 && e.groups == 1 && !r.depthwise &&
                          !e.depthwise && r.bias && e.bias && s.ops[size_t(pool)].keepdim;
  return one_by_one ? reduce : -1;
}

bool in_se(const ArchSpec& s, size_t i) {
  auto reads = [&](int j, int hops) {  // follows j's only reader `hops` times
    for (int h = 0; h < hops && j >= 0; ++h) j = only_reader(s, size_t(j));
    return j;
  };
  const int from_reduce = reads(int(i), 4), from_expand = reads(int(i), 2);
  if (from_reduce >= 0 && se_reduce(s, size_t(from_reduce)) == int(i)) return true;  // i is the reduce conv
  const int reduce = from_expand >= 0 ? se_reduce(s, size_t(from_expand)) : -1;
  return reduce >= 0 && reads(reduce, 2) == int(i);  // i is the expand conv
}

}  // namespace netadj::ops
