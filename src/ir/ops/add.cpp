#include "ops.h"

#include <algorithm>
#include <optional>

namespace netadj::ops {
namespace {

// A residual sum; inputs of other widths are zero-padded or truncated to its own (Padding).
class Add final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kAdd; }
  const char* name() const override { return "add"; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return op.inputs; }
  // The add's output channels from its inputs' maps, following fit_channels (zeros in front, truncation keeps
  // the first channels) in the new network and in the old one.
  ChannelMap derived_map(const ArchSpec& from, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                         size_t i) const override {
    const Op& op_new = to.ops[i];
    const int64_t w_new = op_new.out.value, w_old = from.ops[i].out.value;
    ChannelMap m(size_t(w_new), -1);
    for (int64_t j = 0; j < w_new; ++j)
      for (int in : op_new.inputs) {
        const ChannelMap& src = maps[size_t(in)];
        const int64_t wi_new = int64_t(src.size()), wi_old = from.ops[size_t(in)].out.value;
        const int64_t jj = wi_new >= w_new ? j : j - (w_new - wi_new);
        if (jj < 0 || src[size_t(jj)] < 0) continue;
        const int64_t q = src[size_t(jj)];
        const int64_t pos = wi_old >= w_old ? (q < w_old ? q : -1) : q + (w_old - wi_old);
        if (pos >= 0) {
          m[size_t(j)] = pos;
          break;
        }
      }
    return m;
  }

  void forward(OpRun& r) const override {
    torch::Tensor y = fit_channels(r.in[0], r.op.out.value);
    for (size_t k = 1; k < r.in.size(); ++k) y = y + fit_channels(r.in[k], r.op.out.value);
    r.out = y;
  }
  void script(ScriptEmit& e) const override {
    const Op& op = e.op;
    auto fitted = [&](size_t k) {
      return fit_channels_source(e.in(k), e.spec.ops[size_t(op.inputs[k])].out.value, op.out.value);
    };
    std::string sum = fitted(0) + " + " + fitted(1);
    for (size_t k = 2; k < op.inputs.size(); ++k) sum += " + " + e.in(k);
    e.set(sum);
  }
  void onnx(OnnxEmit& e) const override {
    const Op& op = e.op;
    std::string sum = e.fit(e.in(0), e.spec.ops[size_t(op.inputs[0])].out.value, op.out.value);
    for (size_t k = 1; k < op.inputs.size(); ++k) {
      std::string b = e.in(k);
      if (k == 1) b = e.fit(b, e.spec.ops[size_t(op.inputs[1])].out.value, op.out.value);
      sum = e.node("Add", {sum, b}, e.v());
    }
    e.out = sum;
  }

  // A sum of two inputs is timed, with the ReLU after it (fused.cpp): they are zero-padded (or cut) to its width
  // when they differ. Axes: the two inputs' widths.
  std::optional<LatencyKey> latency_key(const ArchSpec& s, size_t i) const override {
    const Op& op = s.ops[i];
    if (op.inputs.size() != 2) return std::nullopt;
    LatencyKey k;
    k.kind = "add";
    k.padding = op.padding == Padding::kLocal ? "local" : "max";
    k.relu = fused_relu(s, i) >= 0;
    k.res_in = k.res_out = op.res;
    k.in_axis = op.inputs[0];
    k.out_axis = op.inputs[1];
    return k;
  }

  std::vector<std::string> file_names() const override { return {"add"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override { return {"fit"}; }
  std::pair<size_t, size_t> arity() const override { return {2, 64}; }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    const std::optional<std::string> fit = r.choice("fit", {"max", "local"});
    op.fit = fit.has_value();
    op.padding = fit == "local" ? Padding::kLocal : Padding::kMax;
  }
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override {
    const Shape& x = in[0];
    if (op.fit) {
      if (in.size() != 2) site.fail(fmt::format("\"fit\" adds two inputs, got {}", in.size()));
      const Shape& y = in[1];
      if (x.is_vector() || y.is_vector() || x.res != y.res)
        site.fail(
            fmt::format("adds {} to {}: \"fit\" needs feature maps of one resolution", to_string(y), to_string(x)));
      return {op.padding == Padding::kLocal ? y.channels : std::max(x.channels, y.channels), x.res};
    }
    for (const Shape& s : in)
      if (s.channels != x.channels || s.res != x.res)
        site.fail(fmt::format("adds {} to {}: the inputs' widths or resolutions differ (\"fit\" pads them)",
                              to_string(s), to_string(x)));
    return x;
  }
  WidthRule width_rule(const Op& op) const override { return op.fit ? WidthRule::kDerived : WidthRule::kTied; }
  // A fitted add has the width of the input it fits to: the second when it is strictly wider (always with fit
  // local), else the first.
  Width width(const ArchSpec& s, const Op& op, int64_t /*channels*/) const override {
    if (!op.fit) return input_width(s, op);
    const bool second = op.padding == Padding::kLocal || input_width(s, op, 1).value > input_width(s, op, 0).value;
    return input_width(s, op, second ? 1 : 0);
  }
};

}  // namespace

const OpDef& add() {
  static const Add def;
  return def;
}

}  // namespace netadj::ops
