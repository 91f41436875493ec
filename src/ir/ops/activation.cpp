#include "netadj/ir/activation.h"
#include "ops.h"

namespace netadj::ops {
namespace {

// An activation function (ir/activation.h), elementwise.
class Activate final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kActivation; }
  const char* name() const override { return "activation"; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  void forward(OpRun& r) const override { r.out = activation_def(r.op.act).apply(r.in[0]); }
  void script(ScriptEmit& e) const override {
    e.set(fmt::format(fmt::runtime(activation_def(e.op.act).torchscript), e.in()));
  }
  void onnx(OnnxEmit& e) const override { e.out = activation_def(e.op.act).onnx(e, e.in(), e.v()); }

  std::vector<std::string> file_names() const override {
    std::vector<std::string> n;
    for (const ActivationDef& a : activation_table()) n.emplace_back(a.name);
    return n;
  }
  void read(const std::string& name, const FileReader& /*r*/, Op& op) const override {
    op.act = find_activation(name)->kind;
  }
};

}  // namespace

const OpDef& activation() {
  static const Activate def;
  return def;
}

}  // namespace netadj::ops
