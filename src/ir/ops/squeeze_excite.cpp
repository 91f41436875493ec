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

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  void build(ModuleBuild& b) const override {
    namespace nn = torch::nn;
    const int64_t c = b.in_width(), w = b.op.se_width;
    b.m.se_reduce = b.add("_reduce", nn::Conv2d(nn::Conv2dOptions(c, w, 1).bias(true)));
    b.m.se_expand = b.add("_expand", nn::Conv2d(nn::Conv2dOptions(w, c, 1).bias(true)));
  }
  void forward(OpRun& r) const override {
    torch::Tensor s = r.m.se_reduce(r.in[0].mean({2, 3}, true));
    r.record(r.op.name + ".reduce", r.m.se_reduce->weight, s);
    s = torch::relu(s);
    torch::Tensor g = r.m.se_expand(s);
    r.record(r.op.name + ".expand", r.m.se_expand->weight, g);
    r.out = r.in[0] * torch::sigmoid(g);
  }
  void script(ScriptEmit& e) const override {
    e.param("se_rw", e.m.se_reduce->weight);
    e.param("se_rb", e.m.se_reduce->bias);
    e.param("se_ew", e.m.se_expand->weight);
    e.param("se_eb", e.m.se_expand->bias);
    const std::string v = e.v(), in = e.in();
    e.line(fmt::format("{}_s = torch.relu(torch.conv2d({}.mean([2, 3], True), {}, {}))", v, in, e.attr("se_rw"),
                       e.attr("se_rb")));
    e.set(fmt::format("{} * torch.sigmoid(torch.conv2d({}_s, {}, {}))", in, v, e.attr("se_ew"), e.attr("se_eb")));
  }
  void onnx(OnnxEmit& e) const override {
    const std::string x = e.in(), v = e.v();
    std::string s = e.node("GlobalAveragePool", {x}, v + "_gap");
    s = e.node("Relu", {e.node("Conv", {s, e.weight("se_rw"), e.weight("se_rb")}, v + "_r")}, v + "_rr");
    s = e.node("Sigmoid", {e.node("Conv", {s, e.weight("se_ew"), e.weight("se_eb")}, v + "_e")}, v + "_g");
    e.out = e.node("Mul", {x, s}, v);
  }

  std::optional<LatencyKey> latency_key(const ArchSpec& s, size_t i) const override {
    const Op& op = s.ops[i];
    LatencyKey k;
    k.kind = "se";
    k.se_width = op.se_width;
    k.res_in = s.ops[size_t(op.inputs[0])].res;
    k.res_out = op.res;
    k.out_axis = int(i);
    return k;
  }
};

}  // namespace

const OpDef& squeeze_excite() {
  static const SqueezeExcite def;
  return def;
}

}  // namespace netadj::ops
