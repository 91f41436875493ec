#pragma once
// The activation functions, listed once: the name network files and the importer give each, how the module
// computes it and how the TorchScript and ONNX exports write it.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "netadj/ir/ir.h"

namespace netadj {

class OnnxEmit;

struct ActivationDef {
  Activation kind;
  const char* name;                                ///< in network files and the importer: "relu", "relu6", ...
  torch::Tensor (*apply)(const torch::Tensor& x);  ///< out of place
  const char* torchscript;                         ///< a TorchScript expression of `{}` (the input)
  /// Writes the ONNX nodes of the activation of `x` (the last one named after `out`): their output.
  std::string (*onnx)(OnnxEmit& e, const std::string& x, const std::string& out);
};

/// Every activation, in Activation order.
const std::vector<ActivationDef>& activation_table();
const ActivationDef& activation_def(Activation a);
/// nullptr when no activation has that name.
const ActivationDef* find_activation(const std::string& name);

}  // namespace netadj
