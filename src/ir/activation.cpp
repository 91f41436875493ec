#include "netadj/ir/activation.h"

#include <cmath>
#include <stdexcept>

#include "netadj/ir/lower.h"

namespace netadj {

namespace {
torch::Tensor relu(const torch::Tensor& x) { return torch::relu(x); }
torch::Tensor relu6(const torch::Tensor& x) { return torch::hardtanh(x, 0.0, 6.0); }
torch::Tensor silu(const torch::Tensor& x) { return torch::silu(x); }
torch::Tensor hardswish(const torch::Tensor& x) { return torch::hardswish(x); }
torch::Tensor hardsigmoid(const torch::Tensor& x) { return torch::hardsigmoid(x); }
torch::Tensor sigmoid(const torch::Tensor& x) { return torch::sigmoid(x); }
torch::Tensor gelu(const torch::Tensor& x) { return torch::gelu(x); }  // exact (erf), as nn.GELU()

using Attr = OnnxAttr;
std::string relu_onnx(OnnxEmit& e, const std::string& x, const std::string& o) { return e.node("Relu", {x}, o); }
std::string relu6_onnx(OnnxEmit& e, const std::string& x, const std::string& o) {
  return e.node("Clip", {x, e.scalar("zero_f", 0), e.scalar("six_f", 6)}, o);
}
std::string silu_onnx(OnnxEmit& e, const std::string& x, const std::string& o) {
  return e.node("Mul", {x, e.node("Sigmoid", {x}, o + "_sig")}, o);
}
std::string hardswish_onnx(OnnxEmit& e, const std::string& x, const std::string& o) {
  return e.node("HardSwish", {x}, o);
}
std::string hardsigmoid_onnx(OnnxEmit& e, const std::string& x, const std::string& o) {
  return e.node("HardSigmoid", {x}, o, {Attr::real("alpha", 1.0f / 6), Attr::real("beta", 0.5f)});
}
std::string sigmoid_onnx(OnnxEmit& e, const std::string& x, const std::string& o) { return e.node("Sigmoid", {x}, o); }
// Exact (erf) GELU: 0.5 x (1 + erf(x / sqrt 2)).
std::string gelu_onnx(OnnxEmit& e, const std::string& x, const std::string& o) {
  std::string t = e.node("Erf", {e.node("Div", {x, e.scalar("sqrt2_f", float(std::sqrt(2.0)))}, o + "_d")}, o + "_erf");
  t = e.node("Add", {t, e.scalar("one_f", 1)}, o + "_1p");
  return e.node("Mul", {e.node("Mul", {x, t}, o + "_xe"), e.scalar("half_f", 0.5f)}, o);
}
}  // namespace

const std::vector<ActivationDef>& activation_table() {
  static const std::vector<ActivationDef> table = [] {
    std::vector<ActivationDef> t = {
        {Activation::kRelu, "relu", relu, "torch.relu({})", relu_onnx},
        {Activation::kRelu6, "relu6", relu6, "torch.hardtanh({}, 0.0, 6.0)", relu6_onnx},
        {Activation::kSilu, "silu", silu, "torch.silu({})", silu_onnx},
        {Activation::kHardswish, "hardswish", hardswish, "torch.hardswish({})", hardswish_onnx},
        {Activation::kHardsigmoid, "hardsigmoid", hardsigmoid, "torch.hardsigmoid({})", hardsigmoid_onnx},
        {Activation::kSigmoid, "sigmoid", sigmoid, "torch.sigmoid({})", sigmoid_onnx},
        {Activation::kGelu, "gelu", gelu, "torch.gelu({})", gelu_onnx},
    };
    for (size_t i = 0; i < t.size(); ++i)
      if (static_cast<size_t>(t[i].kind) != i) throw std::logic_error("activation table: out of Activation order");
    return t;
  }();
  return table;
}

const ActivationDef& activation_def(Activation a) { return activation_table().at(static_cast<size_t>(a)); }

const ActivationDef* find_activation(const std::string& name) {
  for (const ActivationDef& d : activation_table())
    if (name == d.name) return &d;
  return nullptr;
}

}  // namespace netadj
