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

  std::vector<std::string> file_names() const override { return {"mul"}; }
  std::pair<size_t, size_t> arity() const override { return {2, 2}; }
  // Equal shapes, or a Cx1x1 gate of the same width.
  Shape infer(const Op& /*op*/, const std::vector<Shape>& in, const FileSite& site) const override {
    const Shape &x = in[0], &y = in[1];
    const bool same = x.channels == y.channels && x.res == y.res;
    const bool gate = !x.is_vector() && !y.is_vector() && x.channels == y.channels && (x.res == 1 || y.res == 1);
    if (!same && !gate)
      site.fail(fmt::format("multiplies {} by {}: expected equal shapes or a Cx1x1 gate of the same width",
                            to_string(x), to_string(y)));
    return x.res >= y.res ? x : y;
  }
  WidthRule width_rule(const Op& /*op*/) const override { return WidthRule::kTied; }
};

}  // namespace

const OpDef& mul() {
  static const Mul def;
  return def;
}

}  // namespace netadj::ops
