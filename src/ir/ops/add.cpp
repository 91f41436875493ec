#include "ops.h"

namespace netadj::ops {
namespace {

// A residual sum; inputs of other widths are zero-padded or truncated to its own (Padding).
class Add final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kAdd; }
  const char* name() const override { return "add"; }
};

}  // namespace

const OpDef& add() {
  static const Add def;
  return def;
}

}  // namespace netadj::ops
