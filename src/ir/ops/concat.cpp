#include <fmt/ranges.h>
#include "ops.h"

#include <map>

namespace netadj::ops {
namespace {

// Concatenation along the channels.
class Concat final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kConcat; }
  const char* name() const override { return "concat"; }

  bool brings_channels() const override { return true; }
  ChannelMap derived_map(const ArchSpec& from, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                         size_t i) const override {
    ChannelMap m;
    int64_t offset = 0;
    for (int in : to.ops[i].inputs) {
      for (int64_t q : maps[size_t(in)]) m.push_back(q < 0 ? -1 : q + offset);
      offset += from.ops[size_t(in)].out.value;
    }
    return m;
  }

  void forward(OpRun& r) const override { r.out = torch::cat(r.in, 1); }
  void script(ScriptEmit& e) const override {
    std::vector<std::string> parts;
    for (size_t k = 0; k < e.op.inputs.size(); ++k) parts.push_back(e.in(k));
    e.set(fmt::format("torch.cat([{}], 1)", fmt::join(parts, ", ")));
  }
  void onnx(OnnxEmit& e) const override {
    std::vector<std::string> parts;
    for (size_t k = 0; k < e.op.inputs.size(); ++k) parts.push_back(e.in(k));
    e.out = e.node("Concat", parts, e.v(), {OnnxAttr::integer("axis", 1)});
  }

  std::vector<std::string> file_names() const override { return {"cat"}; }
  std::pair<size_t, size_t> arity() const override { return {1, 4096}; }
  Shape infer(const Op& /*op*/, const std::vector<Shape>& in, const FileSite& site) const override {
    Shape out{0, in[0].res};
    for (const Shape& s : in) {
      if (s.is_vector()) site.fail("needs feature maps, got " + to_string(s));
      if (s.res != in[0].res)
        site.fail(fmt::format("concatenates {} with {}: the resolutions differ", to_string(s), to_string(in[0])));
      out.channels += s.channels;
    }
    if (out.channels > kMaxChannels) site.fail(fmt::format("concatenates to {} channels", out.channels));
    return out;
  }
  WidthRule width_rule(const Op& /*op*/) const override { return WidthRule::kDerived; }
  // The sum of its parts'.
  Width width(const ArchSpec& s, const Op& op, int64_t /*channels*/) const override {
    std::map<int, int64_t> terms;
    Width w;
    for (int j : op.inputs) {
      w.value += s.ops[size_t(j)].out.value;
      for (auto [l, k] : s.ops[size_t(j)].out.terms) terms[l] += k;
    }
    for (auto [l, k] : terms) w.terms.emplace_back(l, k);
    return w;
  }
};

}  // namespace

const OpDef& concat() {
  static const Concat def;
  return def;
}

}  // namespace netadj::ops
