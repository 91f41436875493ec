#include "ops.h"

namespace netadj::ops {
namespace {

// An elementwise product (a squeeze-excitation gate times its input).
class Mul final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kMul; }
  const char* name() const override { return "mul"; }

  // Tied to the inputs of its own width (a gate of another width broadcasts).
  std::vector<int> tied_inputs(const ArchSpec& s, const Op& op) const override {
    std::vector<int> same;
    for (int in : op.inputs)
      if (s.ops[size_t(in)].out.terms == op.out.terms) same.push_back(in);
    return same;
  }
  void forward(OpRun& r) const override { r.out = r.in[0] * r.in[1]; }
  void script(ScriptEmit& e) const override { e.set(e.in(0) + " * " + e.in(1)); }
  void onnx(OnnxEmit& e) const override { e.out = e.node("Mul", {e.in(0), e.in(1)}, e.v()); }
};

}  // namespace

const OpDef& mul() {
  static const Mul def;
  return def;
}

}  // namespace netadj::ops
