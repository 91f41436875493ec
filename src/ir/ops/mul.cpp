#include "ops.h"

namespace netadj::ops {
namespace {

// An elementwise product (a squeeze-excitation gate times its input).
class Mul final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kMul; }
  const char* name() const override { return "mul"; }
};

}  // namespace

const OpDef& mul() {
  static const Mul def;
  return def;
}

}  // namespace netadj::ops
