#include "ops.h"

namespace netadj::ops {
namespace {

// Dropout or stochastic depth in training (rate p); the identity in eval.
class Identity final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kIdentity; }
  const char* name() const override { return "identity"; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  // Dropout, or stochastic depth (whole samples, torchvision's "row" mode), in training; identity in eval.
  void forward(OpRun& r) const override {
    const Op& op = r.op;
    const torch::Tensor& x = r.in[0];
    if (!r.training() || op.p <= 0.0) {
      r.out = x;
    } else if (!op.per_sample) {
      r.out = torch::dropout(x, op.p, true);
    } else if (op.p >= 1.0) {
      r.out = x * 0;
    } else {
      std::vector<int64_t> shape(size_t(x.dim()), 1);
      shape[0] = x.size(0);
      r.out = x * torch::empty(shape, x.options()).bernoulli_(1.0 - op.p).div_(1.0 - op.p);
    }
  }
  void script(ScriptEmit& e) const override { e.set(e.in()); }
  void onnx(OnnxEmit& e) const override { e.out = e.in(); }

  std::vector<std::string> file_names() const override { return {"dropout", "stochastic_depth", "identity"}; }
  std::vector<std::string> file_keys(const std::string& name) const override {
    return name == "identity" ? std::vector<std::string>{} : std::vector<std::string>{"p"};
  }
  void read(const std::string& name, const FileReader& r, Op& op) const override {
    if (name == "identity") return;
    op.p = r.real("p", 0.0, 1.0, name == "dropout" ? 0.5 : 0.0);
    op.per_sample = name == "stochastic_depth";
  }
};

}  // namespace

const OpDef& identity() {
  static const Identity def;
  return def;
}

}  // namespace netadj::ops
