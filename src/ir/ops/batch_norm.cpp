#include "ops.h"

namespace netadj::ops {
namespace {

// BatchNorm over the channels: a weight and a bias per channel (running statistics are buffers).
class BatchNorm final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kBatchNorm; }
  const char* name() const override { return "batch_norm"; }
  OpCost cost(const ArchSpec& /*s*/, const Op& op) const override {
    return {0, count_fit(2 * WideCount(op.out.value))};
  }

  bool is_batch_norm() const override { return true; }
  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  void build(ModuleBuild& b) const override {
    b.m.bn = b.add("", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(b.op.out.value).eps(b.op.eps)));
  }
  void forward(OpRun& r) const override { r.out = r.batch_norm(r.m.bn, r.in[0]); }
  // Folded into its conv (bn_fold_target), it is gone; otherwise a BatchNorm, or a scale and shift with fold_bn.
  void script(ScriptEmit& e) const override {
    if (e.fold_bn && bn_fold_target(e.spec, e.index) >= 0)
      e.set(e.in());
    else
      e.set(e.batch_norm(e.in(), "pre_", e.m.bn, e.fold_bn));
  }
  void onnx(OnnxEmit& e) const override {
    e.out = e.param("pre_s") || e.param("pre_w") ? e.batch_norm(e.in(), "pre_") : e.in();
  }

  std::vector<std::string> file_names() const override { return {"batch_norm"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override { return {"eps"}; }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    op.eps = r.real("eps", 0.0, 1.0, 1e-5);
  }
  Shape infer(const Op& /*op*/, const std::vector<Shape>& in, const FileSite& site) const override {
    need_map(in[0], site);
    return in[0];
  }
};

}  // namespace

const OpDef& batch_norm() {
  static const BatchNorm def;
  return def;
}

}  // namespace netadj::ops
