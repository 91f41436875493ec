#include "ops.h"

namespace netadj::ops {
namespace {

// Flattens a feature map to a vector.
class Flatten final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kFlatten; }
  const char* name() const override { return "flatten"; }

  // Channel q of the input becomes features q * area .. q * area + area - 1.
  ChannelMap derived_map(const ArchSpec& /*from*/, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                         size_t i) const override {
    const Op& in = to.ops[size_t(to.ops[i].inputs[0])];
    const int64_t area = int64_t(in.res) * in.res;
    ChannelMap m;
    for (int64_t q : maps[size_t(to.ops[i].inputs[0])])
      for (int64_t k = 0; k < area; ++k) m.push_back(q < 0 ? -1 : q * area + k);
    return m;
  }
  void forward(OpRun& r) const override { r.out = r.in[0].flatten(1); }
  void script(ScriptEmit& e) const override { e.set(e.in() + ".flatten(1)"); }
  void onnx(OnnxEmit& e) const override { e.out = e.node("Flatten", {e.in()}, e.v(), {OnnxAttr::integer("axis", 1)}); }

  std::vector<std::string> file_names() const override { return {"flatten"}; }
  Shape infer(const Op& /*op*/, const std::vector<Shape>& in, const FileSite& site) const override {
    const Shape& x = in[0];
    need_map(x, site);
    const int64_t f = x.res > kMaxFeatures / x.channels / x.res ? kMaxFeatures + 1 : x.channels * x.res * x.res;
    if (f > kMaxFeatures) site.fail(fmt::format("flattens {} into more than 2^31 features", to_string(x)));
    return {f, 0};
  }
  WidthRule width_rule(const Op& /*op*/) const override { return WidthRule::kDerived; }
  // Its input's width times the map's area.
  Width width(const ArchSpec& s, const Op& op, int64_t /*channels*/) const override {
    const Width& in = input_width(s, op);
    const int64_t area = int64_t(s.ops[size_t(op.inputs[0])].res) * s.ops[size_t(op.inputs[0])].res;
    Width w{in.value * area, {}};
    for (auto [l, k] : in.terms) w.terms.emplace_back(l, k * area);
    return w;
  }
};

}  // namespace

const OpDef& flatten() {
  static const Flatten def;
  return def;
}

}  // namespace netadj::ops
