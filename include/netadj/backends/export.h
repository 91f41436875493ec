#pragma once
// Export of a trained network: its TorchScript (backends/torchscript.h) and ONNX (backends/onnx.h) files, checked
// against the network before they are written, and the model card beside them.
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netadj/backends/model.h"
#include "netadj/config/config.h"

namespace netadj {

/// What a user needs to feed the exported model: normalization, input shape, classes.
struct ExportInfo {
  ModelOptions model;            ///< options that rebuild the network (channels and resolution are the net's)
  std::vector<float> mean, std;  ///< per-channel normalization of images scaled to [0, 1]
  std::string dataset;           ///< data.dataset the network was trained on
  bool center_crop = false;      ///< evaluation resizes the shorter side to res*256/224 and center-crops
  bool fold_bn = false;
  ExportFormat format = ExportFormat::kTorchscript;  ///< which files: TorchScript, ONNX (backends/onnx.h) or both
};

struct ExportResult {
  std::string model_file, card_file;  ///< the TorchScript file ("" when not written) and model.json
  std::string onnx_file;              ///< the ONNX file ("" when not written)
  double max_abs_diff = 0;            ///< reloaded export against net's forward on random input
  double tolerance = 0;
  nlohmann::json card;
};

/// The model.json written beside an export.
nlohmann::json export_card(const GraphNetImpl& net, const ExportInfo& info, const std::string& model_file);

/// Writes `out` (TorchScript, atomically; model.json embedded as the extra file "model.json") and beside
/// it `<out without .pt>.json`; with info.format onnx or both, `<out without .pt>.onnx` too (onnx alone: no
/// TorchScript file; `out` may then end in .onnx). The serialized TorchScript module, whose parameters the ONNX
/// graph shares, is first loaded back and checked against net's forward on a random batch on the CPU (1e-5, 1e-4
/// with folded BN, times max(1, max |y|)); a larger difference is an error (exit 1) and writes nothing. `net` is
/// left in eval mode with no channel drop. An `out` ending in .json (its card would overwrite it) is a
/// ConfigError.
ExportResult export_model(GraphNetImpl& net, const ExportInfo& info, const std::string& out);

/// The card's path for an export file: `x/model.pt` -> `x/model.json`.
std::string export_card_path(const std::string& model_file);

}  // namespace netadj
