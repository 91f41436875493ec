#include "ops.h"

namespace netadj::ops {
namespace {

// A fully connected layer on the flattened input.
class Linear final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kLinear; }
  const char* name() const override { return "linear"; }
  bool has_macs() const override { return true; }
  OpCost cost(const ArchSpec& s, const Op& op) const override {
    const Width& in = input_width(s, op);
    OpCost c;
    c.flops = count_fit(WideCount(in.value) * op.out.value);
    c.params = count_fit(WideCount(in.value) * op.out.value + (op.bias ? op.out.value : 0));
    return c;
  }
  void add_dflops(const ArchSpec& s, const Op& op, FlopsGradient& g) const override {
    const Width& in = input_width(s, op);
    g.add(in, op.out.value);
    g.add(op.out, in.value);  // a network file's hidden linear is a slot
  }
};

}  // namespace

const OpDef& linear() {
  static const Linear def;
  return def;
}

}  // namespace netadj::ops
