#include "ops.h"

namespace netadj::ops {
namespace {

// Adaptive average pooling to output_size x output_size.
class AdaptivePool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kAdaptivePool; }
  const char* name() const override { return "adaptive_avg_pool"; }

  std::vector<int> tied_inputs(const ArchSpec& /*s*/, const Op& op) const override { return {op.inputs[0]}; }
  void forward(OpRun& r) const override {
    r.out = torch::adaptive_avg_pool2d(r.in[0], {r.op.output_size, r.op.output_size});
  }
  void script(ScriptEmit& e) const override {
    e.set(fmt::format("torch.adaptive_avg_pool2d({}, {})", e.in(), pair(e.op.output_size)));
  }
  // Output bin k averages rows [floor(k r / s), ceil((k + 1) r / s)); a multiple is an AveragePool, any other
  // size two MatMuls with that averaging matrix (A x A^T over the last two axes).
  void onnx(OnnxEmit& e) const override {
    const Op& op = e.op;
    const int64_t r = e.spec.ops[size_t(op.inputs[0])].res, o = op.output_size;
    if (o == 1) {
      e.out = e.node("GlobalAveragePool", {e.in()}, e.v());
      return;
    }
    if (r % o == 0) {
      e.out = e.node("AveragePool", {e.in()}, e.v(),
                     {OnnxAttr::list("kernel_shape", {r / o, r / o}), OnnxAttr::list("strides", {r / o, r / o})});
      return;
    }
    torch::Tensor a = torch::zeros({o, r});
    for (int64_t k = 0; k < o; ++k) {
      const int64_t lo = k * r / o, hi = ((k + 1) * r + o - 1) / o;
      a.index_put_({k, torch::indexing::Slice(lo, hi)}, 1.0 / double(hi - lo));
    }
    const std::string rows = e.node("MatMul", {e.tensor(e.v() + "_a", a), e.in()}, e.v() + "_rows");
    e.out = e.node("MatMul", {rows, e.tensor(e.v() + "_at", a.t().contiguous())}, e.v());
  }

  std::vector<std::string> file_names() const override { return {"adaptive_avg_pool"}; }
  std::vector<std::string> file_keys(const std::string& /*name*/) const override { return {"output_size"}; }
  void read(const std::string& /*name*/, const FileReader& r, Op& op) const override {
    op.output_size = int(r.integer("output_size", 1, 64, 1));
  }
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override {
    need_map(in[0], site);
    return {in[0].channels, op.output_size};
  }
};

}  // namespace

const OpDef& adaptive_pool() {
  static const AdaptivePool def;
  return def;
}

}  // namespace netadj::ops
