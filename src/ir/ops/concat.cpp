#include "ops.h"

namespace netadj::ops {
namespace {

// Concatenation along the channels.
class Concat final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kConcat; }
  const char* name() const override { return "concat"; }
};

}  // namespace

const OpDef& concat() {
  static const Concat def;
  return def;
}

}  // namespace netadj::ops
