#pragma once
// The op table: one definition per op kind, each in its own file (src/ir/ops/<op>.cpp), holding what differs
// from op to op: its cost and width derivative, its channel rule (warm start), the modules it builds and how it
// runs, its TorchScript and ONNX forms (the contexts of ir/lower.h). A pass walks a spec and asks
// op_def(op.kind); it needs no case of its own for an op it does not care about (the defaults: no weights, no
// MACs, the input's channels). Adding an op kind = an OpKind value, one file, one row in op_table.cpp and a row
// in the op tests.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netadj/ir/ir.h"

namespace netadj {

/// Counts are formed in 128 bits (build_spec bounds every factor, so no product overflows there) and must fit
/// in 64: count_fit returns the value, or throws a ConfigError for a network too large to count.
using WideCount = __int128;
int64_t count_fit(WideCount v);

/// d MACs / d c_l summed over ops, one entry per searchable slot.
class FlopsGradient {
 public:
  explicit FlopsGradient(size_t slots) : g_(slots, 0) {}
  /// Adds factor * d w / d c_l for every slot term of `w`.
  void add(const Width& w, WideCount factor);
  std::vector<int64_t> values() const;

 private:
  std::vector<WideCount> g_;
};

/// Per output channel of an op, the channel of the same op in another width vector it takes its values from,
/// or -1 (a new channel): warm start's maps (backends/warm.h).
using ChannelMap = std::vector<int64_t>;
/// 0, 1, ..., n - 1: every channel from itself.
ChannelMap identity_map(int64_t n);

/// How the latency model times an op (cost/latency.h): the shape of its table entry, and the ops whose widths
/// are the entry's axes.
struct LatencyKey {
  std::string kind;  ///< the entry's kind: "conv", "dwconv", "linear", "se" or "add"
  int kernel = 1, stride = 1, pad = 0, dilation = 1;
  int64_t groups = 1;
  int res_in = 1, res_out = 1;
  bool bias = false, relu = false, preact = false;
  int64_t se_width = 0;
  std::string padding;  ///< a sum's: "max" or "local"
  int in_axis = -1;     ///< the op whose width is the input axis; -1: one axis, the output's
  int out_axis = -1;    ///< the op whose width is the output axis
  int64_t step = 1;     ///< the grid's widths are multiples of this
};

// The contexts an op lowers into (ir/lower.h).
class ModuleBuild;
class OpRun;
class ScriptEmit;
class OnnxEmit;

class OpDef {
 public:
  virtual ~OpDef() = default;
  virtual OpKind kind() const = 0;
  /// The op's name in tables and messages ("conv", "batch_norm", ...), unique in the table.
  virtual const char* name() const = 0;
  /// True for ops whose weights count MACs (a row of the layer table: `netadj flops`).
  virtual bool has_macs() const { return false; }
  /// MACs and trainable parameters of `op` in `s` for one image.
  virtual OpCost cost(const ArchSpec& s, const Op& op) const;
  /// Adds op's d MACs / d c to `g`: the partial derivatives of cost().flops, a polynomial in the widths.
  virtual void add_dflops(const ArchSpec& s, const Op& op, FlopsGradient& g) const;

  // ---- channels: where an op's output channels come from (warm start's spaces) ----
  /// The inputs whose channel k is op's output channel k (a pool, a BatchNorm, a depthwise conv, a residual add):
  /// op shares their channel space. Default: none.
  virtual std::vector<int> tied_inputs(const ArchSpec& s, const Op& op) const;
  /// True for an op whose output channels are new, each made from all of its input's (a conv, a linear): the
  /// roots of a channel space, whose importance picks the channels kept.
  virtual bool makes_channels(const Op& /*op*/) const { return false; }
  /// True for an op whose channels come neither from its space's roots nor from one tied input (the network
  /// input, a concatenation): a space holding one is mapped by position.
  virtual bool brings_channels() const { return false; }
  /// op `i`'s map in `to` from its inputs' `maps` (`from`: the same architecture at the old widths) for an op
  /// that does not make channels. Default: its first input's.
  virtual ChannelMap derived_map(const ArchSpec& from, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                                 size_t i) const;

  // ---- backends: the LibTorch module, TorchScript, ONNX (contexts in ir/lower.h) ----
  /// Registers op's modules (weights, BN statistics). Default: none.
  virtual void build(ModuleBuild& b) const;
  /// Computes op's output from its inputs in a forward pass (sets r.out).
  virtual void forward(OpRun& r) const = 0;
  /// True when a slot's channel drop (FUR, SpatialDropout) is on op's own output (a family's conv carrying a
  /// slot); otherwise a slot drops where its channels leave it, on the reading op's input.
  virtual bool drops_output(const Op& /*op*/) const { return false; }
  /// Registers op's parameters on the TorchScript module and writes its lines of forward().
  virtual void script(ScriptEmit& e) const = 0;
  /// Writes op's ONNX nodes, reading the parameters script() registered.
  virtual void onnx(OnnxEmit& e) const = 0;
  /// True for an op a BatchNorm reading only it can fold into (a conv: scaled filters and a bias).
  virtual bool absorbs_bn(const Op& /*op*/) const { return false; }
  /// True for a BatchNorm op: in eval mode a per-channel scale and shift, foldable into the op before it.
  virtual bool is_batch_norm() const { return false; }
  /// Op `i`'s entry in a latency table, or nothing for an op timed with the rest (its time does not grow with
  /// its widths). An op that has one has it at every width vector.
  virtual std::optional<LatencyKey> latency_key(const ArchSpec& /*s*/, size_t /*i*/) const { return std::nullopt; }
};

/// The definition of `kind` (every OpKind has exactly one).
const OpDef& op_def(OpKind kind);
/// Every definition, in OpKind order.
const std::vector<const OpDef*>& op_table();

/// The width of op's k-th input.
const Width& input_width(const ArchSpec& s, const Op& op, size_t k = 0);

/// The one BN-fold rule (the exports fold, the latency model times the folded conv): a BatchNorm op folds into
/// the op it reads when that op absorbs_bn and the BatchNorm is its only reader. bn_fold_target: the op that
/// BatchNorm op `bn` folds into, or -1; folded_bn: the BatchNorm op that folds into op `i`, or -1.
int bn_fold_target(const ArchSpec& s, size_t bn);
int folded_bn(const ArchSpec& s, size_t i);

}  // namespace netadj
