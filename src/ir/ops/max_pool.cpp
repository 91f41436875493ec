#include "ops.h"

namespace netadj::ops {
namespace {

// Max pooling (kernel, stride, padding, ceil mode).
class MaxPool final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kMaxPool; }
  const char* name() const override { return "max_pool"; }
};

}  // namespace

const OpDef& max_pool() {
  static const MaxPool def;
  return def;
}

}  // namespace netadj::ops
