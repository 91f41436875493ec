#include "ops.h"

namespace netadj::ops {
namespace {

// Average pooling (kernel, stride, padding, ceil mode).
class AvgPool final : public WindowPool {
 public:
  OpKind kind() const override { return OpKind::kAvgPool; }
  const char* name() const override { return "avg_pool"; }

  void forward(OpRun& r) const override {
    r.out = torch::avg_pool2d(r.in[0], r.op.kernel, r.op.stride, r.op.pad, r.op.ceil);
  }
  void script(ScriptEmit& e) const override {
    const Op& op = e.op;
    e.set(fmt::format("torch.avg_pool2d({}, {}, {}, {}, {}, True)", e.in(), pair(op.kernel), pair(op.stride),
                      pair(op.pad), py_bool(op.ceil)));
  }
  // torch's average divides by the window's elements inside the zero-padded input (padding counted, what a
  // ceil-mode window runs past it not): the padding made explicit, then ONNX's count of real elements.
  void onnx(OnnxEmit& e) const override {
    using Attr = OnnxAttr;
    const Op& op = e.op;
    std::string x = e.in();
    if (op.pad > 0)
      x = e.node("Pad", {x, e.ints("pads", {0, 0, op.pad, op.pad, 0, 0, op.pad, op.pad})}, e.v() + "_pad");
    e.out = e.node("AveragePool", {x}, e.v(),
                   {Attr::list("kernel_shape", {op.kernel, op.kernel}), Attr::list("strides", {op.stride, op.stride}),
                    Attr::integer("ceil_mode", op.ceil), Attr::integer("count_include_pad", 0)});
  }

  std::vector<std::string> file_names() const override { return {"avg_pool"}; }
};

}  // namespace

const OpDef& avg_pool() {
  static const AvgPool def;
  return def;
}

}  // namespace netadj::ops
