#include "ops.h"

namespace netadj::ops {
namespace {

// The network's input.
class Input final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kInput; }
  const char* name() const override { return "input"; }
};

}  // namespace

const OpDef& input() {
  static const Input def;
  return def;
}

}  // namespace netadj::ops
