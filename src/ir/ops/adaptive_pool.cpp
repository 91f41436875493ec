#include "ops.h"

namespace netadj::ops {
namespace {

// Adaptive average pooling to output_size x output_size.
class AdaptivePool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kAdaptivePool; }
  const char* name() const override { return "adaptive_avg_pool"; }
};

}  // namespace

const OpDef& adaptive_pool() {
  static const AdaptivePool def;
  return def;
}

}  // namespace netadj::ops
