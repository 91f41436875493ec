#pragma once
// Export of a trained network to TorchScript, loadable with torch.jit.load in Python and LibTorch without
// netadj. The module's forward is generated from the ArchSpec (one line per op, the same walk as
// GraphNet::forward), so every registered architecture exports with no code of its own.
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netadj/arch/model.h"
#include "netadj/config/config.h"

namespace torch::jit {
struct Module;
}

namespace netadj {

/// TorchScript source of the eval-mode forward of `spec` (no channel drop). Parameters are read as
/// attributes named `a<op>_<role>` (roles: w, b; bn_w, bn_b, bn_rm, bn_rv; pre_*; pre_s, pre_t once folded;
/// se_rw, se_rb, se_ew, se_eb), which to_torchscript registers.
std::string torchscript_source(const ArchSpec& spec, bool fold_bn);

/// A TorchScript module computing `net`'s eval-mode output (weights copied to the CPU). fold_bn folds every
/// BatchNorm that follows a convolution into its weight and bias, and turns pre-activation BatchNorm
/// (DenseNet, the pre-pool BN) into a per-channel scale and shift.
torch::jit::Module to_torchscript(GraphNetImpl& net, bool fold_bn);

/// What a user needs to feed the exported model: normalization, input shape, classes.
struct ExportInfo {
  ModelOptions model;            ///< options that rebuild the network (channels and resolution are the net's)
  std::vector<float> mean, std;  ///< per-channel normalization of images scaled to [0, 1]
  std::string dataset;           ///< data.dataset the network was trained on
  bool center_crop = false;      ///< evaluation resizes the shorter side to res*256/224 and center-crops
  bool fold_bn = false;
  ExportFormat format = ExportFormat::kTorchscript;  ///< which files: TorchScript, ONNX (arch/onnx.h) or both
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

/// Forward latency: median and p90 over `reps` timed calls after `warmup` untimed ones (eval mode, no grad).
struct Latency {
  double median_ms = 0, p90_ms = 0;
  int batch = 1, reps = 0;
};
/// Times `forward` (which runs one batch on `dev`; CUDA is synchronized around each call).
Latency time_forward(const std::function<void()>& forward, const torch::Device& dev, int warmup, int reps);
/// The latency of a freshly initialized network of `spec` at `batch` on `dev`.
Latency measure_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps);
/// The same for the TorchScript export of that network (BatchNorm folded when fold_bn); with `instances` > 1,
/// the median over that many separately allocated modules of each one's median (and likewise p90).
Latency measure_export_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps,
                               bool fold_bn, int instances = 1);

/// TorchScript source that fits `x` (a tensor of `have` channels) to `want` channels as GraphNet's sums do: itself,
/// its first `want` channels, or zero channels appended.
std::string fit_channels_source(const std::string& x, int64_t have, int64_t want);
/// Separately allocated instances a whole network is timed over (the table's rest, a search's measured latency,
/// the benches' interleaved timings): one instance's median depends on where its weights landed in memory.
constexpr int kLatencyInstances = 5;
/// Medians of each spec's export (folded BatchNorm) at `batch`, timed interleaved over `reps` rounds (each timed
/// call right after an untimed one of the same network, which warms the cache as repeated deployment calls do),
/// split over kLatencyInstances allocations of every network: the median of their medians.
std::vector<double> interleaved_latency(const std::vector<ArchSpec>& specs, const torch::Device& dev, int batch,
                                        int warmup, int reps, uint64_t seed = 1);

/// Lets oneDNN keep the compiled kernels of many networks (16384 primitives instead of its 1024) unless
/// ONEDNN_PRIMITIVE_CACHE_CAPACITY is set: timing dozens of networks in one process (latency tables, interleaved
/// benchmarks) otherwise evicts each network's kernels before its next timed call, which then recompiles them (15 to
/// 25% slower than the network runs alone, as deployed). Called before any op runs.
void keep_onednn_kernels();

/// The card's path for an export file: `x/model.pt` -> `x/model.json`.
std::string export_card_path(const std::string& model_file);

}  // namespace netadj
