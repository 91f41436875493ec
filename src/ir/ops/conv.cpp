#include "ops.h"

namespace netadj::ops {
namespace {

// A convolution; a family's conv carries its BatchNorm (bn), the ReLU after it (relu) and a pre-activation
// BatchNorm + ReLU on its input (preact).
class Conv final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kConv; }
  const char* name() const override { return "conv"; }
  bool has_macs() const override { return true; }
  OpCost cost(const ArchSpec& s, const Op& op) const override {
    const Width& in = input_width(s, op);
    const int64_t k2 = int64_t(op.kernel) * op.kernel;
    const int64_t cin_per_group = op.depthwise ? 1 : in.value / op.groups;
    OpCost c;
    c.flops = count_fit(WideCount(k2) * cin_per_group * op.out.value * op.res * op.res);
    c.params = count_fit(WideCount(k2) * cin_per_group * op.out.value + (op.bias ? op.out.value : 0) +
                         (op.bn ? 2 * WideCount(op.out.value) : 0) + (op.preact ? 2 * WideCount(in.value) : 0));
    return c;
  }
  void add_dflops(const ArchSpec& s, const Op& op, FlopsGradient& g) const override {
    const Width& in = input_width(s, op);
    const WideCount base = WideCount(op.kernel) * op.kernel * op.res * op.res;
    if (op.depthwise) {
      g.add(op.out, base);
      return;
    }
    g.add(in, base * (op.out.value / op.groups));
    g.add(op.out, base * (in.value / op.groups));
  }
};

}  // namespace

const OpDef& conv() {
  static const Conv def;
  return def;
}

}  // namespace netadj::ops
