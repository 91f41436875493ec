#include "ops.h"

namespace netadj::ops {
namespace {

// Channel shuffle over `groups` groups.
class Shuffle final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kShuffle; }
  const char* name() const override { return "channel_shuffle"; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  // Output k = j * g + i reads input i * (C / g) + j, in the new network and in the old.
  ChannelMap derived_map(const ArchSpec& from, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                         size_t i) const override {
    const ChannelMap& in = maps[size_t(to.ops[i].inputs[0])];
    const int64_t g = to.ops[i].groups, per_new = int64_t(in.size()) / g, per_old = from.ops[i].out.value / g;
    ChannelMap m(in.size(), -1);
    for (int64_t k = 0; k < int64_t(in.size()); ++k) {
      const int64_t q = in[size_t((k % g) * per_new + k / g)];
      if (q >= 0) m[size_t(k)] = (q % per_old) * g + q / per_old;
    }
    return m;
  }
  void forward(OpRun& r) const override { r.out = torch::channel_shuffle(r.in[0], r.op.groups); }
  void script(ScriptEmit& e) const override {
    e.set(fmt::format("torch.channel_shuffle({}, {})", e.in(), e.op.groups));
  }
  // [N, g, C/g, HW] -> [N, C/g, g, HW] -> [N, C, H, W].
  void onnx(OnnxEmit& e) const override {
    const Op& op = e.op;
    const int64_t c = op.out.value, g = op.groups, r = op.res;
    std::string x = e.node("Reshape", {e.in(), e.ints("shape", {0, g, c / g, -1})}, e.v() + "_r");
    x = e.node("Transpose", {x}, e.v() + "_t", {OnnxAttr::list("perm", {0, 2, 1, 3})});
    e.out = e.node("Reshape", {x, e.ints("shape", {0, c, r, r})}, e.v());
  }

  std::vector<std::string> file_names() const override { return {"channel_shuffle"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override { return {"groups"}; }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    op.groups = r.integer("groups", 1, kMaxChannels, std::nullopt);
  }
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override {
    need_map(in[0], site);
    if (in[0].channels % op.groups != 0)
      site.fail(fmt::format("groups = {} must divide its {} channels", op.groups, in[0].channels));
    return in[0];
  }
  // Its channels are its input's in another order: a space of its own, derived like a concatenation's, so that
  // one slot never holds channels in two orders (a drop mask or a warm-start map would mix them).
  WidthRule width_rule(const Op& /*op*/) const override { return WidthRule::kDerived; }
  int64_t input_groups(const Op& op) const override { return op.groups; }
};

}  // namespace

const OpDef& shuffle() {
  static const Shuffle def;
  return def;
}

}  // namespace netadj::ops
