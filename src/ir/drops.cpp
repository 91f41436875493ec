#include "netadj/ir/drops.h"

#include <stdexcept>

#include "netadj/ir/op.h"
#include "netadj/util/dsu.h"

namespace netadj {

void place_drops(ArchSpec& s) {
  Dsu tied(s.ops.size());
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const Op& op = s.ops[i];
    if (op.inputs.empty()) continue;
    const WidthRule rule = op_def(op.kind).width_rule(op);
    if (rule == WidthRule::kSame) tied.unite(int(i), op.inputs[0]);
    if (rule == WidthRule::kTied)
      for (int j : op.inputs) tied.unite(j, int(i));
  }
  std::vector<int> slot_of_group(s.ops.size(), -1);
  for (size_t l = 0; l < s.layers.size(); ++l) {
    int& slot = slot_of_group[size_t(tied.find(s.layers[l].op))];
    if (slot >= 0 && slot != int(l))
      throw std::logic_error(s.arch + ": slots " + std::to_string(slot) + " and " + std::to_string(l) +
                             " are tied together");
    slot = int(l);
  }
  for (size_t i = 0; i < s.ops.size(); ++i) {
    Op& op = s.ops[i];
    const int own = slot_of_group[size_t(tied.find(int(i)))];
    op.in_slot.assign(op.inputs.size(), -1);
    bool drops = false;
    for (size_t k = 0; k < op.inputs.size(); ++k) {
      const int from = slot_of_group[size_t(tied.find(op.inputs[k]))];
      if (from >= 0 && from != own) op.in_slot[k] = from;
      drops = drops || op.in_slot[k] >= 0;
    }
    if (!drops) op.in_slot.clear();
  }
}

}  // namespace netadj
