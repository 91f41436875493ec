#include "ops.h"

namespace netadj::ops {
namespace {

// Dropout or stochastic depth in training (rate p); the identity in eval.
class Identity final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kIdentity; }
  const char* name() const override { return "identity"; }
};

}  // namespace

const OpDef& identity() {
  static const Identity def;
  return def;
}

}  // namespace netadj::ops
