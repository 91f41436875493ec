#include "ops.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace netadj::ops {
namespace {

// The conv's groups: a depthwise conv one per input channel.
int64_t groups_of(const ArchSpec& s, const Op& op) { return op.depthwise ? input_width(s, op).value : op.groups; }

// A convolution (its BatchNorm and activation are ops of their own).
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
    c.params = count_fit(WideCount(k2) * cin_per_group * op.out.value + (op.bias ? op.out.value : 0));
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

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override {
    return op.depthwise ? std::vector<int>{op.inputs[0]} : std::vector<int>{};
  }
  bool makes_channels(const Op& op) const override { return !op.depthwise; }
  bool absorbs_bn(const Op& /*op*/) const override { return true; }

  void build(ModuleBuild& b) const override {
    namespace nn = torch::nn;
    const Op& op = b.op;
    const int64_t in_w = b.in_width();
    TORCH_CHECK(in_w > 0 && op.out.value > 0, "layer ", op.name, " has zero width");
    b.m.conv = b.add("", nn::Conv2d(nn::Conv2dOptions(in_w, op.out.value, op.kernel)
                                        .stride(op.stride)
                                        .padding(op.pad)
                                        .dilation(op.dilation)
                                        .groups(groups_of(b.spec, op))
                                        .bias(op.bias)));
    // A squeeze-excitation's convs keep LibTorch's own initialisation.
    if (!in_se(b.spec, b.index)) torch::nn::init::kaiming_normal_(b.m.conv->weight, 0.0, torch::kFanOut, torch::kReLU);
  }
  void forward(OpRun& r) const override {
    r.out = r.m.conv(r.in[0]);
    r.record(r.op.name, r.m.conv->weight, r.out);
  }
  // With fold_bn, a BatchNorm op that folds into this conv goes into the filters and a bias.
  void script(ScriptEmit& e) const override {
    const Op& op = e.op;
    torch::Tensor w = e.m.conv->weight, b = op.bias ? e.m.conv->bias : torch::Tensor();
    const int next_bn = e.fold_bn ? folded_bn(e.spec, e.index) : -1;
    if (next_bn >= 0) {
      FoldedBn f = fold(e.node(size_t(next_bn)).bn);
      b = (b.defined() ? b * f.scale : torch::zeros_like(f.shift)) + f.shift;
      w = w * f.scale.view({-1, 1, 1, 1});
    }
    e.param("w", w);
    if (b.defined()) e.param("b", b);
    const int64_t groups = groups_of(e.spec, op);
    e.set(fmt::format("torch.conv2d({}, {}, {}, {}, {}, {}, {})", e.in(), e.attr("w"),
                      b.defined() ? e.attr("b") : "None", pair(op.stride), pair(op.pad), pair(op.dilation), groups));
  }
  void onnx(OnnxEmit& e) const override {
    using Attr = OnnxAttr;
    const Op& op = e.op;
    const int64_t groups = groups_of(e.spec, op);
    std::vector<std::string> inputs{e.in(), e.weight("w")};
    if (e.param("b")) inputs.push_back(e.weight("b"));
    const std::vector<int64_t> w = e.param("w")->sizes().vec();
    e.out = e.node("Conv", inputs, e.v(),
                   {Attr::list("kernel_shape", {w[2], w[3]}), Attr::list("strides", {op.stride, op.stride}),
                    Attr::list("pads", {op.pad, op.pad, op.pad, op.pad}),
                    Attr::list("dilations", {op.dilation, op.dilation}), Attr::integer("group", groups)});
  }

  // Timed with a BatchNorm op that folds into it (as a bias), the ReLU after it and a pre-activation before it
  // (fused.cpp); a squeeze-excitation's convs are timed with their gate (the mul).
  std::optional<LatencyKey> latency_key(const ArchSpec& s, size_t i) const override {
    const Op& op = s.ops[i];
    if (in_se(s, i)) return std::nullopt;
    LatencyKey k;
    k.kind = op.depthwise ? "dwconv" : "conv";
    k.kernel = op.kernel;
    k.stride = op.stride;
    k.pad = op.pad;
    k.dilation = op.dilation;
    k.groups = op.depthwise ? 1 : op.groups;
    k.bias = op.bias || folded_bn(s, i) >= 0;
    k.relu = fused_relu(s, i) >= 0;
    k.preact = has_preact(s, i);
    k.res_in = s.ops[size_t(op.inputs[0])].res;
    k.res_out = op.res;
    k.in_axis = op.depthwise ? -1 : op.inputs[0];
    k.out_axis = int(i);
    k.step = op.depthwise ? 1 : std::max<int64_t>(op.groups, 1);
    return k;
  }

  std::vector<std::string> file_names() const override { return {"conv2d"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override {
    return {"out", "kernel", "stride", "padding", "dilation", "groups", "bias"};
  }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    op.out = Width::constant(r.integer("out", 1, kMaxChannels, std::nullopt));
    op.kernel = int(r.integer("kernel", 1, 64, std::nullopt));
    op.stride = int(r.integer("stride", 1, 64, 1));
    op.pad = int(r.integer("padding", 0, 64, 0));
    op.dilation = int(r.integer("dilation", 1, 64, 1));
    op.groups = r.integer("groups", 1, kMaxChannels, 1);
    op.bias = r.boolean("bias", false);
  }
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override {
    const Shape& x = in[0];
    need_map(x, site);
    if (x.channels % op.groups != 0 || op.out.value % op.groups != 0)
      site.fail(fmt::format("groups = {} must divide its {} input and {} output channels", op.groups, x.channels,
                            op.out.value));
    return {op.out.value, checked_window_out(x, op, op.dilation, false, site)};
  }
  // One group per channel, in = out: decided on the file's widths and kept at any other (at width 1 a depthwise
  // conv still is one: its MACs stay linear in the slot).
  void settle(Op& op, const std::vector<Shape>& in) const override {
    op.depthwise = op.groups > 1 && op.groups == op.out.value && in[0].channels == op.out.value;
  }
  WidthRule width_rule(const Op& op) const override { return op.depthwise ? WidthRule::kSame : WidthRule::kNew; }
  int64_t input_groups(const Op& op) const override { return op.groups; }
  void set_width(Op& op, int64_t c) const override {
    if (op.depthwise) op.groups = c;
    op.out.value = c;
  }
  void write_width(const Op& op, nlohmann::json& j) const override {
    j["out"] = op.out.value;
    if (op.groups > 1) j["groups"] = op.groups;
  }
  Width width(const ArchSpec& s, const Op& op, int64_t channels) const override {
    return op.depthwise ? input_width(s, op) : Width::constant(channels);
  }
};

}  // namespace

const OpDef& conv() {
  static const Conv def;
  return def;
}

}  // namespace netadj::ops
