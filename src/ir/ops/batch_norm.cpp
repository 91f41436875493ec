#include "ops.h"

namespace netadj::ops {
namespace {

// BatchNorm over the channels: a weight and a bias per channel (running statistics are buffers).
class BatchNorm final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kBatchNorm; }
  const char* name() const override { return "batch_norm"; }
  OpCost cost(const ArchSpec& /*s*/, const Op& op) const override {
    return {0, count_fit(2 * WideCount(op.out.value))};
  }
};

}  // namespace

const OpDef& batch_norm() {
  static const BatchNorm def;
  return def;
}

}  // namespace netadj::ops
