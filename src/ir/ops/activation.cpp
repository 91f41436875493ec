#include "ops.h"

namespace netadj::ops {
namespace {

// An activation function (ir/activation.h), elementwise.
class Activate final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kActivation; }
  const char* name() const override { return "activation"; }
};

}  // namespace

const OpDef& activation() {
  static const Activate def;
  return def;
}

}  // namespace netadj::ops
