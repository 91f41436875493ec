#pragma once
// Typed configuration. This is the only place that knows JSON keys: a file plus `--set` overrides turn
// into these structs, or into one ConfigError naming the key path, the bad value and what is allowed.
// Defaults are the paper's CIFAR-100 setting (Sec. 4.1): ResNet-20, 200 epochs, lr 0.15 -> 1e-3 cosine,
// 5,000 validation images, 10 search iterations.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/data/options.h"

namespace netadj {

// Choices that the config spells as strings are parsed once, at load, into these enums; the names
// (and the allowed values in error messages) come from one table per enum in config.cpp.
enum class Padding { kMax, kLocal };                            ///< "max" | "local"
enum class DropType { kBernoulli, kGaussian };                  ///< "bernoulli" | "gaussian"
enum class FurMetric { kLoss, kAccuracy };                      ///< "loss" | "accuracy"
enum class AmpMode { kAuto, kOff, kBf16, kFp16 };               ///< "auto" | "off" | "bf16" | "fp16"
enum class MemoryFormat { kAuto, kChannelsLast, kContiguous };  ///< "auto" | "channels_last" | "contiguous"
enum class RescaleMode { kExact, kReference };                  ///< "exact" | "reference"
enum class Budget { kFlops, kParams, kLatency };                ///< "flops" | "params" | "latency"
enum class FurEqualize { kBudget, kFlops };                     ///< "budget" | "flops"
enum class SelectMode { kArgmax, kRetrain };                    ///< "argmax" | "retrain"
enum class WarmImportance { kBn, kL1 };                         ///< "bn" | "l1"
enum class SearchInit { kScratch, kPretrained };                ///< "scratch" | "pretrained"
enum class ExportFormat { kTorchscript, kOnnx, kBoth };         ///< "torchscript" | "onnx" | "both"

/// The name an enum value has in the config ("bf16"); enum_names<E>() lists them all.
template <class E>
const char* enum_name(E value);
template <class E>
std::vector<std::string> enum_names();

/// runtime.device: "auto", "cpu", "cuda" (the current device) or "cuda:N".
struct DeviceChoice {
  enum class Kind { kAuto, kCpu, kCuda } kind = Kind::kAuto;
  int index = -1;  ///< cuda:N; -1 = the current CUDA device
  /// Parses "auto" / "cpu" / "cuda" / "cuda:N"; nullopt when the text is none of these.
  static std::optional<DeviceChoice> parse(const std::string& text);
  std::string str() const;
};

struct ModelOptions {
  std::string arch = "resnet_cifar";  ///< registry name
  int depth = 20;                     ///< 6n+2 for CIFAR ResNet/Plain/PyramidNet, 18/34 ImageNet ResNet
  double width = 1.0;                 ///< width multiplier applied to the default widths
  int num_classes = 100;
  int in_channels = 3;
  Padding padding = Padding::kMax;  ///< residual width mismatch: zero-pad to the wider, or the branch's
  int resolution = 0;               ///< input height = width; 0 = from the dataset (or arch default)
  std::vector<int64_t> channels;    ///< searchable widths; empty = the architecture's default
  /// arch "graph": the network file (docs/graph-format.md). The config names a file (a path relative to the
  /// working directory or, failing that, to the config file's folder) or holds the document itself; it is
  /// read once, at load, and written back inline, so a run directory's config.json carries its network.
  std::shared_ptr<const nlohmann::json> graph;
  /// Trained weights to start from ("" = none): for arch "graph" the netadj-weights file `netadj import` wrote,
  /// for every architecture a netadj model.pt (train, search). A relative path is looked up from the working
  /// directory and then from the config file's folder; the config holds it absolute. `train` fine-tunes from
  /// them, `search.init = pretrained` measures iteration 0's FUR on them, and their input normalization (the
  /// graph file's `normalize`, a model.pt's record) replaces the one measured on the dataset.
  std::string weights;
};

struct DropOptions {
  double rate = 0.1;  ///< SpatialDropout rate during training (Sec. 3.5)
  DropType type = DropType::kBernoulli;
  bool epoch_ramp = true;  ///< rate * e / E in epoch e of E
  bool layer_ramp = true;  ///< layer i of L gets rate * (i+1) / L
};

struct KdOptions {
  std::string teacher;  ///< checkpoint of a trained teacher; "" = no distillation
  double alpha = 0.9;   ///< weight of the distillation term
  double temperature = 4.0;
};

struct TrainOptions {
  int epochs = 200;
  int batch_size = 128;
  double lr = 0.15;
  double lr_min = 1e-3;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 3e-4;
  bool per_step = false;  ///< anneal the lr every step instead of every epoch
  int warmup_epochs = 0;
  double warmup_lr = 0.0;
  double label_smoothing = 0.0;
  double loss_scale =
      65536.0;  ///< fp16 only: initial dynamic loss scale (halves on overflow, doubles after 2000 clean steps)
  bool eval_test_each_epoch = false;
  bool full_train = true;  ///< `netadj train` trains on train+val (the paper's re-training)
  bool sync_bn = false;    ///< data-parallel: BatchNorm statistics over the global batch (else per rank)
  DropOptions drop;
  KdOptions kd;
};

struct FurOptions {
  double base_drop_rate = 0.05;
  int repeats = 5;
  FurMetric metric = FurMetric::kLoss;  ///< loss increase or accuracy drop per dropped FLOP
  DropType drop_type = DropType::kBernoulli;
  double max_drop_rate = 0.9;
  /// Adaptive precision (in a search): layers whose FUR interval (+- search.gate_z standard errors)
  /// straddles a top/bottom-k boundary get their repeats doubled until separated or at this many;
  /// 0 = repeats (off).
  int max_repeats = 0;
  /// Cap (MB, on the run's device) of the prefix cache: per validation batch, what the network computes
  /// before a layer's drop point, computed once for all of that layer's repeats; 0 = off.
  int cache_mb = 1024;
  /// What the drop rates remove equally from every layer: the expected amount of the search's budget
  /// resource (search.budget: FLOPs, params or predicted latency; "budget") or FLOPs whatever the budget
  /// ("flops", the paper's rule). Under a FLOPs budget the two are the same.
  FurEqualize equalize = FurEqualize::kBudget;
};

struct SearchOptions {
  int iterations = 10;
  int epochs = 0;  ///< training epochs per iteration; 0 = train.epochs
  double update_num = 6;
  double update_num_decay = 0.5;
  double adjust_rate = 0.15;
  double adjust_rate_decay = 0.01;
  int min_channels = 4;
  /// Largest |B - B0| / B0 the rescaling accepts (B = FLOPs or params, as `budget` says).
  double flops_tolerance = 0.005;
  int patience = 0;  ///< stop after this many iterations without improvement; 0 = never
  /// exact: bisection, then one-step greedy corrections until within flops_tolerance; reference: the
  /// authors' bisection only (20 steps, then rounding), which may stop outside the tolerance.
  RescaleMode rescale = RescaleMode::kExact;
  Budget budget = Budget::kFlops;  ///< what the rescaling holds fixed
  /// budget = latency: the latency table (docs/latency-table.md) whose model predicts a vector's latency;
  /// "" = measured at the start of the run on its own device (kept in the run directory).
  std::string latency_table;
  /// The deployment the latency budget is for: batch size and CPU threads (0 = every core of the device);
  /// a table measured for others is refused.
  int latency_batch = 1;
  int latency_threads = 1;
  /// Use a latency table measured for another batch size, thread count or layer shapes (else refused).
  bool latency_force = false;
  int channel_multiple = 1;  ///< every adjusted width is a multiple of this (8 for tensor cores)
  /// Gate the moves by FUR's error bars: a top (bottom) layer moves only when its interval lies above
  /// (below) that of the first layer outside the top (bottom) k; no move at all ends the search.
  bool gate = false;
  double gate_z = 1.0;  ///< interval half-width in standard errors
  /// argmax: the best single-seed validation accuracy (the paper's); retrain: re-train the original and
  /// the select_top best distinct vectors with select_seeds seeds, best mean validation accuracy wins.
  SelectMode select = SelectMode::kArgmax;
  int select_top = 3;
  int select_seeds = 3;
  /// Warm start: iteration t+1 starts from iteration t's weights mapped onto its widths (backends/warm.h) and
  /// trains warm_epochs (0 = ceil(30% of the iteration's epochs)); the first iteration trains fully.
  bool warm_start = false;
  int warm_epochs = 0;
  /// Which channels a narrowed layer keeps: the largest BN |gamma| ("bn"; the L1 norm of the filters where
  /// no BN follows the conv) or the largest filter L1 norm ("l1").
  WarmImportance warm_importance = WarmImportance::kBn;
  /// Relative noise on the split outgoing weights of copied channels; zero-sum over the copies, so the
  /// network's function is kept while the copies' gradients differ.
  double warm_noise = 0.01;
  /// Iteration 0's network: trained from scratch ("scratch", the default), or model.weights ("pretrained"),
  /// fine-tuned for init_epochs (0 = none: FUR is measured on the given network as it is). Algorithm 1 as the
  /// paper states it starts from a pre-trained network.
  SearchInit init = SearchInit::kScratch;
  int init_epochs = 0;
};

struct EvalOptions {
  int batch_size = 256;  ///< batch size of every evaluation (validation, test, FUR probes)
};

/// The export that `netadj train` and `netadj search` write at the end (backends/export.h, backends/onnx.h).
struct ExportOptions {
  bool enabled = true;   ///< write export/model.pt (and/or model.onnx) and export/model.json into the run directory
  bool fold_bn = false;  ///< fold BatchNorm into the convolutions (and pre-activation BN into scale/shift)
  ExportFormat format = ExportFormat::kTorchscript;  ///< TorchScript, ONNX or both
};

/// The "dist" section: data-parallel runs over c10d (RANK/WORLD_SIZE from torchrun, or --nproc).
struct DistOptions {
  double timeout_s = 60;  ///< a collective that waits longer (a rank died or hangs) fails the run
};

struct RuntimeOptions {
  DeviceChoice device;           ///< auto|cpu|cuda|cuda:N
  AmpMode amp = AmpMode::kAuto;  ///< autocast; auto = bf16 on CUDA, off on the CPU
  int threads = 0;               ///< CPU threads; 0 = all cores
  int64_t seed = 0;
  std::string out_dir = "runs";                      ///< parent of run directories
  std::string name;                                  ///< run name; "" = config file stem
  int log_every = 50;                                ///< steps between progress log lines when not on a terminal
  MemoryFormat memory_format = MemoryFormat::kAuto;  ///< see uses_channels_last
  bool cudnn_benchmark = true;
};

struct Config {
  ModelOptions model;
  DataOptions data;
  TrainOptions train;
  FurOptions fur;
  SearchOptions search;
  EvalOptions eval;
  ExportOptions exporting;  ///< the "export" section
  DistOptions dist;
  RuntimeOptions runtime;
};

/// Parses a full config object. Unknown keys, wrong types and out-of-range values throw ConfigError
/// ("<origin>: <key.path> = <value>: <what is allowed>").
Config config_from_json(const nlohmann::json& j, const std::string& origin = "config");
nlohmann::json config_to_json(const Config& c);

/// Applies one "key.path=value" override to a JSON document; the value is JSON when it parses
/// (numbers, true/false, [..], {..}, null) and a plain string otherwise.
void apply_override(nlohmann::json& doc, const std::string& assignment);

/// Loads a file (empty path = defaults), applies overrides in order, parses and validates.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

/// Checks ranges and choices; throws ConfigError. Called by config_from_json.
void validate(const Config& c, const std::string& origin = "config");

}  // namespace netadj
