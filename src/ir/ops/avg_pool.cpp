#include "ops.h"

namespace netadj::ops {
namespace {

// Average pooling (kernel, stride, padding, ceil mode).
class AvgPool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kAvgPool; }
  const char* name() const override { return "avg_pool"; }
};

}  // namespace

const OpDef& avg_pool() {
  static const AvgPool def;
  return def;
}

}  // namespace netadj::ops
