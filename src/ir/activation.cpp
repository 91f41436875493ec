#include "netadj/ir/activation.h"

#include <stdexcept>

namespace netadj {

namespace {
torch::Tensor relu(const torch::Tensor& x) { return torch::relu(x); }
torch::Tensor relu6(const torch::Tensor& x) { return torch::hardtanh(x, 0.0, 6.0); }
torch::Tensor silu(const torch::Tensor& x) { return torch::silu(x); }
torch::Tensor hardswish(const torch::Tensor& x) { return torch::hardswish(x); }
torch::Tensor hardsigmoid(const torch::Tensor& x) { return torch::hardsigmoid(x); }
torch::Tensor sigmoid(const torch::Tensor& x) { return torch::sigmoid(x); }
torch::Tensor gelu(const torch::Tensor& x) { return torch::gelu(x); }  // exact (erf), as nn.GELU()
}  // namespace

const std::vector<ActivationDef>& activation_table() {
  static const std::vector<ActivationDef> table = [] {
    std::vector<ActivationDef> t = {
        {Activation::kRelu, "relu", relu, "torch.relu({})"},
        {Activation::kRelu6, "relu6", relu6, "torch.hardtanh({}, 0.0, 6.0)"},
        {Activation::kSilu, "silu", silu, "torch.silu({})"},
        {Activation::kHardswish, "hardswish", hardswish, "torch.hardswish({})"},
        {Activation::kHardsigmoid, "hardsigmoid", hardsigmoid, "torch.hardsigmoid({})"},
        {Activation::kSigmoid, "sigmoid", sigmoid, "torch.sigmoid({})"},
        {Activation::kGelu, "gelu", gelu, "torch.gelu({})"},
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
