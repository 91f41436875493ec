#include "ops.h"

namespace netadj::ops {
namespace {

// Channel shuffle over `groups` groups.
class Shuffle final : public OpDef {
 public:
  OpKind kind() const override { return OpKind::kShuffle; }
  const char* name() const override { return "channel_shuffle"; }
};

}  // namespace

const OpDef& shuffle() {
  static const Shuffle def;
  return def;
}

}  // namespace netadj::ops
