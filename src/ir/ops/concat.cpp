#include <fmt/ranges.h>
#include "ops.h"

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
};

}  // namespace

const OpDef& concat() {
  static const Concat def;
  return def;
}

}  // namespace netadj::ops
