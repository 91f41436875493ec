#include <stdexcept>
#include "ops.h"

namespace netadj::ops {
namespace {

// The network's input.
class Input final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kInput; }
  const char* name() const override { return "input"; }

  bool brings_channels() const override { return true; }
  ChannelMap derived_map(const ArchSpec& /*from*/, const ArchSpec& to, const std::vector<ChannelMap>& /*maps*/,
                         size_t i) const override {
    return identity_map(to.ops[i].out.value);
  }
  // The network's forward starts from the input; no op computes it.
  void forward(OpRun& /*r*/) const override { throw std::logic_error("the input op has no forward"); }
  void script(ScriptEmit& e) const override { e.set("x"); }
  void onnx(OnnxEmit& e) const override { e.out = "input"; }
};

}  // namespace

const OpDef& input() {
  static const Input def;
  return def;
}

}  // namespace netadj::ops
