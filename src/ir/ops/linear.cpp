#include "ops.h"

#include <nlohmann/json.hpp>

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

  bool makes_channels(const Op& /*op*/) const override { return true; }
  void build(ModuleBuild& b) const override {
    b.m.fc = b.add("", torch::nn::Linear(torch::nn::LinearOptions(b.in_width(), b.op.out.value).bias(b.op.bias)));
  }
  void forward(OpRun& r) const override {
    r.out = r.m.fc(r.in[0].flatten(1));
    r.record(r.op.name, r.m.fc->weight, r.out);
  }
  void script(ScriptEmit& e) const override {
    e.param("w", e.m.fc->weight);
    if (e.op.bias) e.param("b", e.m.fc->bias);
    e.set(fmt::format("torch.linear({}.flatten(1), {}, {})", e.in(), e.attr("w"), e.op.bias ? e.attr("b") : "None"));
  }
  void onnx(OnnxEmit& e) const override {
    std::string x = e.node("Flatten", {e.in()}, e.v() + "_flat", {OnnxAttr::integer("axis", 1)});
    std::vector<std::string> inputs{x, e.weight("w")};
    if (e.param("b")) inputs.push_back(e.weight("b"));
    e.out = e.node("Gemm", inputs, e.v(), {OnnxAttr::integer("transB", 1)});
  }

  std::optional<LatencyKey> latency_key(const ArchSpec& s, size_t i) const override {
    LatencyKey k;
    k.kind = "linear";
    k.bias = s.ops[i].bias;
    k.in_axis = s.ops[i].inputs[0];
    k.out_axis = int(i);
    return k;
  }

  std::vector<std::string> file_names() const override { return {"linear"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override { return {"out", "bias"}; }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    op.out = Width::constant(r.integer("out", 1, kMaxFeatures, std::nullopt));
    op.bias = r.boolean("bias", true);
  }
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override {
    if (!in[0].is_vector()) site.fail("needs a vector (flatten or mean first), got " + to_string(in[0]));
    return {op.out.value, 0};
  }
  WidthRule width_rule(const Op& /*op*/) const override { return WidthRule::kNew; }
  void set_width(Op& op, int64_t c) const override { op.out.value = c; }
  void write_width(const Op& op, nlohmann::json& j) const override { j["out"] = op.out.value; }
  Width width(const ArchSpec& /*s*/, const Op& /*op*/, int64_t channels) const override {
    return Width::constant(channels);
  }
};

}  // namespace

const OpDef& linear() {
  static const Linear def;
  return def;
}

}  // namespace netadj::ops
