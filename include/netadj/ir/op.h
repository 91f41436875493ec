#pragma once
// The op table: one definition per op kind, each in its own file (src/ir/ops/<op>.cpp), holding what differs
// from op to op. A pass walks a spec and asks op_def(op.kind); it needs no case of its own for an op it does
// not care about (the defaults: no weights, no MACs). Adding an op kind = an OpKind value, one file, one row
// in op_table.cpp and a row in the op tests.
#include <cstdint>
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
};

/// The definition of `kind` (every OpKind has exactly one).
const OpDef& op_def(OpKind kind);
/// Every definition, in OpKind order.
const std::vector<const OpDef*>& op_table();

/// The width of op's k-th input.
const Width& input_width(const ArchSpec& s, const Op& op, size_t k = 0);

}  // namespace netadj
