#pragma once
// The op table: one definition per op kind, each in its own file (src/ir/ops/<op>.cpp), holding what differs
// from op to op: its cost and width derivative, its channel rule (warm start), the modules it builds and how it
// runs, its TorchScript and ONNX forms (the contexts of ir/lower.h). A pass walks a spec and asks
// op_def(op.kind); it needs no case of its own for an op it does not care about (the defaults: no weights, no
// MACs, the input's channels). Adding an op kind = an OpKind value, one file, one row in op_table.cpp and a row
// in the op tests.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
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

/// An op's output in a network file: a C x R x R feature map, or a vector of C features (res 0).
struct Shape {
  int64_t channels = 0;
  int64_t res = 0;
  bool is_vector() const { return res == 0; }
};
std::string to_string(const Shape& s);  ///< "8x16x16", "10 features"

/// Where a network file's op is ("net.json: op 'conv1' (conv2d)"), for its one-line errors.
class FileSite {
 public:
  explicit FileSite(std::string at) : at_(std::move(at)) {}
  /// ConfigError "<at>: <what>".
  [[noreturn]] void fail(const std::string& what) const;
  const std::string& at() const { return at_; }

 private:
  std::string at_;
};

/// A network file op's attributes, read with their ranges; each failure names the node and the attribute.
class FileReader : public FileSite {
 public:
  FileReader(const nlohmann::json& j, std::string at) : FileSite(std::move(at)), j_(j) {}
  /// An integer in lo..hi, or `dflt` when absent (none: required).
  int64_t integer(const char* key, int64_t lo, int64_t hi, std::optional<int64_t> dflt) const;
  bool boolean(const char* key, bool dflt) const;
  /// A number in [lo, hi], or `dflt` when absent.
  double real(const char* key, double lo, double hi, double dflt) const;
  /// One of `choices`, or nothing when absent.
  std::optional<std::string> choice(const char* key, const std::vector<std::string>& choices) const;

 private:
  const nlohmann::json& j_;
};

/// How a network file's op ties its output's width to its inputs' (the slot finder, nets/graph.cpp).
enum class WidthRule {
  kSame,     ///< its first input's (BatchNorm, activations, pools, a depthwise conv)
  kNew,      ///< a width of its own (a conv, a linear): a slot's, unless fixed
  kTied,     ///< one width for all its inputs and itself (an add, a multiply)
  kDerived,  ///< follows its inputs' (a concatenation, a flatten, a shuffle, a fitted add): not searched
};

/// A network file may not go beyond these (a flattened map or a linear layer's width).
inline constexpr int64_t kMaxFeatures = int64_t(1) << 31;

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

  // ---- network files (docs/graph-format.md; nets/graph.h parses them into these ops) ----
  /// The names a file gives this op ("conv2d"; an activation each its own); none for an op only families emit.
  virtual std::vector<std::string> file_names() const { return {}; }
  /// The attributes a file may give the op it names `file_name`, besides name, op and inputs; any other is refused.
  virtual std::vector<std::string> file_keys(const std::string& /*file_name*/) const { return {}; }
  /// How many inputs it takes: {least, most}.
  virtual std::pair<size_t, size_t> arity() const { return {1, 1}; }
  /// Reads its attributes into `op`; `file_name` is the name the file gave (one of file_names()).
  virtual void read(const std::string& file_name, const FileReader& r, Op& op) const;
  /// Its output shape from its inputs', which it checks (failures at `site`). Default: its input's.
  virtual Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const;
  /// Settles what the file's widths decide once and new widths keep (a conv that is depthwise stays so).
  virtual void settle(Op& /*op*/, const std::vector<Shape>& /*in*/) const {}
  /// How its width follows its inputs' (the slot finder). Default: its first input's.
  virtual WidthRule width_rule(const Op& /*op*/) const { return WidthRule::kSame; }
  /// The groups its input's width is split into (a grouped conv, a channel shuffle): that width, and a new width
  /// of its own, must stay multiples of it.
  virtual int64_t input_groups(const Op& /*op*/) const { return 1; }
  /// Gives an op of a slot the slot's width `c` (a conv's or linear's "out"; a depthwise conv's groups too).
  virtual void set_width(Op& /*op*/, int64_t /*c*/) const {}
  /// Writes what set_width changed back into the op's file entry.
  virtual void write_width(const Op& /*op*/, nlohmann::json& /*j*/) const {}
  /// Its width as an affine function of the slots when it is no slot's: its inputs' widths in `s` (the spec so
  /// far; op's inputs index it), `channels` its width at the file's vector. Default: its first input's.
  virtual Width width(const ArchSpec& s, const Op& op, int64_t channels) const;
};

/// The definition of `kind` (every OpKind has exactly one).
const OpDef& op_def(OpKind kind);
/// The definition a network file names `file_name` by, or null.
const OpDef* file_op_def(const std::string& file_name);
/// Every name a network file may use, in op-table order.
const std::vector<std::string>& file_op_names();
/// Every definition, in OpKind order.
const std::vector<const OpDef*>& op_table();

/// The width of op's k-th input.
const Width& input_width(const ArchSpec& s, const Op& op, size_t k = 0);

/// The op that alone reads op `i`'s output (once), or -1 (none, or several).
int only_reader(const ArchSpec& s, size_t i);

/// The one BN-fold rule (the exports fold, the latency model times the folded conv): a BatchNorm op folds into
/// the op it reads when that op absorbs_bn and the BatchNorm is its only reader. bn_fold_target: the op that
/// BatchNorm op `bn` folds into, or -1; folded_bn: the BatchNorm op that folds into op `i`, or -1.
int bn_fold_target(const ArchSpec& s, size_t bn);
int folded_bn(const ArchSpec& s, size_t i);

}  // namespace netadj
