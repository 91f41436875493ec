#include "ops.h"

namespace netadj::ops {
namespace {

// Global average pooling.
class GlobalPool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kGlobalPool; }
  const char* name() const override { return "global_pool"; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  void forward(OpRun& r) const override { r.out = r.in[0].mean({2, 3}, r.op.keepdim); }
  void script(ScriptEmit& e) const override {
    e.set(fmt::format("{}.mean([2, 3], {})", e.in(), py_bool(e.op.keepdim)));
  }
  void onnx(OnnxEmit& e) const override {
    const std::string x = e.node("GlobalAveragePool", {e.in()}, e.op.keepdim ? e.v() : e.v() + "_gap");
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
