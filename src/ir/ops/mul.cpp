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

  // A squeeze-excitation's gate (fused.cpp) is timed as one block, with its two convs; axis: the input's width.
  std::optional<LatencyKey> latency_key(const ArchSpec& s, size_t i) const override {
    const int reduce = se_reduce(s, i);
    if (reduce < 0) return std::nullopt;
    LatencyKey k;
    k.kind = "se";
    k.se_width = s.ops[size_t(reduce)].out.value;
    k.res_in = s.ops[size_t(s.ops[i].inputs[0])].res;
    k.res_out = s.ops[i].res;
    k.out_axis = int(i);
    return k;
  }
};

}  // namespace

const OpDef& mul() {
  static const Mul def;
  return def;
}

}  // namespace netadj::ops
