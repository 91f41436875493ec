#pragma once
// The one source of truth for an architecture: a spec is plain data, a list of operations, each naming
// where its inputs come from, its output width (as an affine function of the searchable widths), kernel,
// stride and output resolution. The module builder (model.h), the FLOPs/params/gradient functions and
// the human table all read it, so the network and its FLOPs count cannot drift apart.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "netadj/config/config.h"

namespace netadj {

/// A width and its partial derivatives with respect to the searchable widths c_l.
struct Width {
  int64_t value = 0;
  std::vector<std::pair<int, int64_t>> terms;  ///< (slot, d value / d c_slot), zero terms omitted

  static Width constant(int64_t v) { return Width{v, {}}; }
  static Width slot(int s, int64_t v) { return Width{v, {{s, 1}}}; }
};

enum class OpKind {
  kInput,
  kConv,
  kAdd,
  kConcat,
  kAvgPool,
  kMaxPool,
  kGlobalPool,
  kLinear,
  kSqueezeExcite,
  // The ops a network file adds (arch/graph.h): each is one op there, where a family's conv carries its BN
  // and ReLU.
  kBatchNorm,
  kActivation,
  kMul,
  kFlatten,
  kAdaptivePool,
  kIdentity,  ///< dropout and stochastic depth in training (rate `p`); identity in eval
  kShuffle,
};

enum class Activation { kRelu, kRelu6, kSilu, kHardswish, kHardsigmoid, kSigmoid, kGelu };

struct Op {
  OpKind kind = OpKind::kInput;
  std::string name;
  std::vector<int> inputs;  ///< indices of earlier ops
  Width out;                ///< output channels (features for linear)
  int res = 0;              ///< output height = width
  // convolution / pooling
  int kernel = 1;
  int stride = 1;
  int pad = 0;
  bool depthwise = false;  ///< groups = channels (in = out)
  bool bias = false;
  bool bn = false;      ///< BatchNorm after the conv
  bool relu = false;    ///< ReLU after the BN (or after the add)
  bool preact = false;  ///< BN + ReLU on the input before the conv (DenseNet)
  int slot = -1;        ///< searchable layer whose width is `out`; it gets a channel-drop point
  // add
  Padding padding = Padding::kMax;
  // squeeze-excitation
  int64_t se_width = 0;  ///< reduced width (fixed, not searched)
  // network-file ops
  int64_t groups = 1;  ///< conv groups (a depthwise conv: its width, set by `depthwise`); channel shuffle groups
  int dilation = 1;
  bool ceil = false;    ///< pools: ceil mode (a family's average pool uses it)
  bool keepdim = true;  ///< global pool: keeps the 1x1 map (false: a vector)
  int output_size = 1;  ///< adaptive average pool
  Activation act = Activation::kRelu;
  double p = 0.0;           ///< kIdentity: dropout or stochastic-depth rate in training
  bool per_sample = false;  ///< kIdentity: stochastic depth (whole samples), else dropout
  double eps = 1e-5;        ///< BatchNorm
  /// Channel-drop points on the inputs (a network file's slots): in_slot[k] >= 0 when input k carries slot
  /// in_slot[k]'s channels into an op outside that slot. One mask per slot and forward pass serves all its
  /// points, so a dropped channel is gone from the whole group, as if the slot were narrower.
  std::vector<int> in_slot;
};

struct LayerInfo {
  std::string name;
  int op = -1;  ///< index of the op that produces this slot's width
  int stage = 0;
  int64_t multiple = 1;  ///< the slot's width must stay a multiple of this (grouped convs)
  int64_t min = 1;       ///< and at least this
};

struct ArchSpec {
  std::string arch;
  int in_channels = 3;
  int resolution = 32;
  int num_classes = 100;
  std::vector<int64_t> channels;  ///< searchable widths (the vector c)
  std::vector<LayerInfo> layers;  ///< one per slot, same order as channels
  std::vector<Op> ops;
};

/// FLOPs = multiply-accumulates of every conv and linear layer (BN, ReLU, pooling, additions: 0).
struct OpCost {
  int64_t flops = 0;
  int64_t params = 0;
};
OpCost op_cost(const ArchSpec& s, const Op& op);
int64_t spec_flops(const ArchSpec& s);
int64_t spec_params(const ArchSpec& s);
/// Exact dFLOPs/dc_l for every slot (the FLOPs polynomial's partial derivatives; see Width).
std::vector<int64_t> spec_dflops(const ArchSpec& s);

/// Registry entry of an architecture family.
struct ArchInfo {
  std::string name;
  std::string summary;
  int default_resolution = 32;
  int typical_depth = 20;  ///< a valid model.depth for this family (examples and registry-driven tests)
  /// Builds the spec for a channel vector (empty: the family's default widths, declared slot by slot in
  /// the same walk). Throws ConfigError when depth/options or the vector's length do not fit the family.
  std::function<ArchSpec(const ModelOptions&, const std::vector<int64_t>&, int resolution)> build;
  /// The resolution the network is designed for when the options decide it (a network file's input); empty:
  /// default_resolution.
  std::function<int(const ModelOptions&)> design_resolution = nullptr;
};

const std::vector<ArchInfo>& arch_registry();
const ArchInfo& find_arch(const std::string& name);  ///< "unknown model 'x'; known: ..."

/// The resolution an architecture is designed for: the family's, or a network file's input resolution.
int design_resolution(const ModelOptions& m);
/// Resolution the spec is built for: model.resolution, else `data_resolution` if > 0, else the family's.
int resolve_resolution(const ModelOptions& m, int data_resolution = 0);
/// True when `resolution` is under half or over twice the family's design resolution (an ImageNet
/// network counted at 32x32 has ~1/50 of its FLOPs); warn_if_far_from_design logs a warning then.
bool far_from_design(const ModelOptions& m, int resolution);
void warn_if_far_from_design(const ModelOptions& m, int resolution);
/// Builds the spec for model.channels (or the defaults), validating the vector's length and entries.
/// Bounds that keep a spec in memory and every count in 64 bits; build_spec and validation refuse more.
constexpr int64_t kMaxChannels = 1 << 16;
constexpr int kMaxDepth = 2000;
constexpr int kMaxResolution = 8192;
/// ConfigError naming model.depth or model.resolution when it is beyond those bounds (the families check
/// the rest of the depth: 6n+2 and so on).
void check_model_size(const ModelOptions& m, int resolution);
ArchSpec build_spec(const ModelOptions& m, int resolution);
/// Same options, another channel vector (used by the search: thousands of calls).
ArchSpec build_spec(const ModelOptions& m, int resolution, const std::vector<int64_t>& channels);
std::vector<int64_t> default_channels(const ModelOptions& m);

}  // namespace netadj
