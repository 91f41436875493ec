#include "ops.h"

namespace netadj::ops {

int64_t window_out(int64_t res, int k, int s, int p, int d, bool ceil_mode) {
  const int64_t span = res + 2 * int64_t(p) - int64_t(d) * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= res + p) --out;
  return out;
}

int64_t checked_window_out(const Shape& x, const Op& op, int dilation, bool ceil_mode, const FileSite& site) {
  const int64_t r = window_out(x.res, op.kernel, op.stride, op.pad, dilation, ceil_mode);
  if (r < 1) site.fail(fmt::format("kernel {} does not fit its {} input", op.kernel, to_string(x)));
  if (r > kMaxResolution)
    site.fail(fmt::format("its padding grows the map past {}x{}", kMaxResolution, kMaxResolution));
  return r;
}

std::vector<int> WindowPool::tied_inputs(const ArchSpec& /*s*/, const Op& op) const { return {op.inputs[0]}; }

std::vector<std::string> WindowPool::file_keys(const std::string& /*name*/) const {
  return {"kernel", "stride", "padding", "ceil_mode"};
}

void WindowPool::read(const std::string& /*name*/, const FileReader& r, Op& op) const {
  op.kernel = int(r.integer("kernel", 1, 64, std::nullopt));
  op.stride = int(r.integer("stride", 1, 64, op.kernel));
  op.pad = int(r.integer("padding", 0, op.kernel / 2, 0));  // PyTorch: at most half the kernel
  op.ceil = r.boolean("ceil_mode", false);
}

Shape WindowPool::infer(const Op& op, const std::vector<Shape>& in, const FileSite& site) const {
  need_map(in[0], site);
  return {in[0].channels, checked_window_out(in[0], op, 1, op.ceil, site)};
}

}  // namespace netadj::ops
