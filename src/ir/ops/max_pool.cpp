#include "ops.h"

namespace netadj::ops {
namespace {

// Max pooling (kernel, stride, padding, ceil mode).
class MaxPool final : public WindowPool {
 public:
  OpKind kind() const override { return OpKind::kMaxPool; }
  const char* name() const override { return "max_pool"; }

  void forward(OpRun& r) const override {
    r.out = torch::max_pool2d(r.in[0], r.op.kernel, r.op.stride, r.op.pad, 1, r.op.ceil);
  }
  void script(ScriptEmit& e) const override {
    const Op& op = e.op;
    e.set(fmt::format("torch.max_pool2d({}, {}, {}, {}, [1, 1], {})", e.in(), pair(op.kernel), pair(op.stride),
                      pair(op.pad), py_bool(op.ceil)));
  }
  void onnx(OnnxEmit& e) const override {
    using Attr = OnnxAttr;
    const Op& op = e.op;
    e.out = e.node("MaxPool", {e.in()}, e.v(),
                   {Attr::list("kernel_shape", {op.kernel, op.kernel}), Attr::list("strides", {op.stride, op.stride}),
                    Attr::integer("ceil_mode", op.ceil), Attr::list("pads", {op.pad, op.pad, op.pad, op.pad})});
  }

  std::vector<std::string> file_names() const override { return {"max_pool"}; }
};

}  // namespace

const OpDef& max_pool() {
  static const MaxPool def;
  return def;
}

}  // namespace netadj::ops
