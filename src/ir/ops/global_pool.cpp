#include "ops.h"

namespace netadj::ops {
namespace {

// Global average pooling; bn puts a BatchNorm + ReLU before it (DenseNet's final pre-activation).
class GlobalPool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kGlobalPool; }
  const char* name() const override { return "global_pool"; }
  OpCost cost(const ArchSpec& /*s*/, const Op& op) const override { return {0, op.bn ? 2 * op.out.value : 0}; }
};

}  // namespace

const OpDef& global_pool() {
  static const GlobalPool def;
  return def;
}

}  // namespace netadj::ops
