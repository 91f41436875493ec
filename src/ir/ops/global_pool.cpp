#include "ops.h"

namespace netadj::ops {
namespace {

// Global average pooling; bn puts a BatchNorm + ReLU before it (DenseNet's final pre-activation).
class GlobalPool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kGlobalPool; }
  const char* name() const override { return "global_pool"; }
  OpCost cost(const ArchSpec& /*s*/, const Op& op) const override { return {0, op.bn ? 2 * op.out.value : 0}; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  void build(ModuleBuild& b) const override {
    if (b.op.bn) b.m.pre_bn = b.add("_bn", torch::nn::BatchNorm2d(b.op.out.value));
  }
  void forward(OpRun& r) const override {
    r.out = (r.m.pre_bn ? r.batch_norm(r.m.pre_bn, r.in[0]).relu_() : r.in[0]).mean({2, 3}, r.op.keepdim);
  }
  void script(ScriptEmit& e) const override {
    const std::string x = e.op.bn ? "torch.relu(" + e.batch_norm(e.in(), "pre_", e.m.pre_bn, e.fold_bn) + ")" : e.in();
    e.set(fmt::format("{}.mean([2, 3], {})", x, py_bool(e.op.keepdim)));
  }
  void onnx(OnnxEmit& e) const override {
    std::string x = e.in();
    if (e.op.bn) x = e.node("Relu", {e.batch_norm(x, "pre_")}, e.v() + "_pre");
    x = e.node("GlobalAveragePool", {x}, e.op.keepdim ? e.v() : e.v() + "_gap");
    e.out = e.op.keepdim ? x : e.node("Flatten", {x}, e.v(), {OnnxAttr::integer("axis", 1)});
  }

  std::vector<std::string> file_names() const override { return {"mean"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override { return {"keepdim"}; }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    op.keepdim = r.boolean("keepdim", false);
  }
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override {
    need_map(in[0], site);
    return {in[0].channels, op.keepdim ? 1 : 0};
  }
};

}  // namespace

const OpDef& global_pool() {
  static const GlobalPool def;
  return def;
}

}  // namespace netadj::ops
