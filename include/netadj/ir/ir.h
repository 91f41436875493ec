#pragma once
// The network IR: a spec is plain data, a list of operations, each naming where its inputs come from, its
// output width (as an affine function of the searchable widths), kernel, stride and output resolution. What
// each op kind costs and is called is defined once, in the op table (ir/op.h), which the cost functions
// (nets/spec.h), the module (backends/model.h), the exporters and the latency model ask. Families and network
// files write the same plain ops: a conv, its BatchNorm and its ReLU are three ops.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "netadj/config/config.h"

namespace netadj {

/// Bounds that keep a spec in memory and every count in 64 bits: build_spec, validation and network files
/// refuse more.
constexpr int64_t kMaxChannels = 1 << 16;
constexpr int kMaxResolution = 8192;

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
  int slot = -1;  ///< searchable layer whose width is `out`
  // add
  Padding padding = Padding::kMax;
  bool fit = false;    ///< an add of two widths, padded per `padding` (a family's residual sum; a file's "fit")
  int64_t groups = 1;  ///< conv groups (a depthwise conv: its width, set by `depthwise`); channel shuffle groups
  int dilation = 1;
  bool ceil = false;    ///< pools: ceil mode (a family's average pool uses it)
  bool keepdim = true;  ///< global pool: keeps the 1x1 map (false: a vector)
  int output_size = 1;  ///< adaptive average pool
  Activation act = Activation::kRelu;
  double p = 0.0;           ///< kIdentity: dropout or stochastic-depth rate in training
  bool per_sample = false;  ///< kIdentity: stochastic depth (whole samples), else dropout
  double eps = 1e-5;        ///< BatchNorm
  /// Channel-drop points on the inputs (set by place_drops, ir/drops.h): in_slot[k] >= 0 when input k carries slot
  /// in_slot[k]'s channels out of the slot's ops. One mask per slot and forward pass serves all its points, so a
  /// dropped channel is gone from the whole slot, as if it were narrower.
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
}  // namespace netadj
