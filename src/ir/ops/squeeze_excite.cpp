#include "ops.h"

namespace netadj::ops {
namespace {

// Squeeze-excitation as one op: global pool, a 1x1 conv to se_width (bias) + ReLU, a 1x1 conv back (bias) +
// sigmoid, times the input.
class SqueezeExcite final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kSqueezeExcite; }
  const char* name() const override { return "se"; }
  bool has_macs() const override { return true; }
  OpCost cost(const ArchSpec& /*s*/, const Op& op) const override {
    OpCost c;  // two 1x1 convolutions on the pooled 1x1 map
    c.flops = count_fit(2 * WideCount(op.out.value) * op.se_width);
    c.params = count_fit(2 * WideCount(op.out.value) * op.se_width + op.se_width + op.out.value);
    return c;
  }
  void add_dflops(const ArchSpec& /*s*/, const Op& op, FlopsGradient& g) const override {
    g.add(op.out, 2 * WideCount(op.se_width));
  }
};

}  // namespace

const OpDef& squeeze_excite() {
  static const SqueezeExcite def;
  return def;
}

}  // namespace netadj::ops
