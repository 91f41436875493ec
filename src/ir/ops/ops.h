#pragma once
// The definitions op_table.cpp lists, one per file in this folder.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "netadj/ir/lower.h"
#include "netadj/ir/op.h"

namespace netadj::ops {

const OpDef& input();
const OpDef& conv();
const OpDef& add();
const OpDef& concat();
const OpDef& avg_pool();
const OpDef& max_pool();
const OpDef& global_pool();
const OpDef& linear();
const OpDef& batch_norm();
const OpDef& activation();
const OpDef& mul();
const OpDef& flatten();
const OpDef& adaptive_pool();
const OpDef& identity();
const OpDef& shuffle();

// Shared by several definitions.

// A network file's op that needs a feature map.
inline void need_map(const Shape& x, const FileSite& site) {
  if (x.is_vector()) site.fail("needs a feature map, got " + to_string(x));
}
// A pooled or convolved side: PyTorch's output size, with ceil_mode's rule that the last window starts inside.
int64_t window_out(int64_t res, int k, int s, int p, int d, bool ceil_mode);
// window_out for a file's op, checked: at least 1 and at most kMaxResolution.
int64_t checked_window_out(const Shape& x, const Op& op, int dilation, bool ceil_mode, const FileSite& site);

// A max or average pool over a window: what the two share (its file attributes, its shape, its channels).
class WindowPool : public OpDef {
 public:
  std::vector<int> tied_inputs(const ArchSpec& s, const Op& op) const override;
  std::vector<std::string> file_keys(const std::string& name) const override;
  void read(const std::string& name, const FileReader& r, Op& op) const override;
  Shape infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const override;
};
// What the latency model times with an op (fused.cpp): its neighbours that a kernel fuses into it.
// The ReLU activation alone reading op i (or the BatchNorm folded into it) or -1.
int fused_relu(const ArchSpec& s, size_t i);
// True when op i reads a ReLU of a BatchNorm, each read by nothing else: a pre-activation.
bool has_preact(const ArchSpec& s, size_t i);
// Squeeze-excitation in plain ops: mul(x, sigmoid(conv(relu(conv(mean(x)))))). se_reduce: for the mul `i`, the
// first 1x1 conv, or -1 when op i is no such gate; in_se: true for either of a gate's convs.
int se_reduce(const ArchSpec& s, size_t i);
bool in_se(const ArchSpec& s, size_t i);

inline std::string pair(int64_t v) { return fmt::format("[{}, {}]", v, v); }
inline const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace netadj::ops
