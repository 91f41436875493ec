#include "ops.h"

namespace netadj::ops {
namespace {

// Flattens a feature map to a vector.
class Flatten final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kFlatten; }
  const char* name() const override { return "flatten"; }
};

}  // namespace

const OpDef& flatten() {
  static const Flatten def;
  return def;
}

}  // namespace netadj::ops
