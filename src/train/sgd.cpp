#include "netadj/train/sgd.h"

#include <torch/version.h>

#include <string>

#include "netadj/util/error.h"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NETADJ_HAVE_FUSED_SGD 1
#else
#define NETADJ_HAVE_FUSED_SGD 0
#endif

namespace netadj {

bool fused_sgd_available() { return NETADJ_HAVE_FUSED_SGD != 0; }

Sgd::Sgd(std::vector<torch::Tensor> params, SgdOptions options, bool fused)
    : params_(std::move(params)), options_(options), fused_(fused && fused_sgd_available()) {
  TORCH_CHECK(options_.momentum >= 0 && options_.weight_decay >= 0, "Sgd: negative momentum or weight decay");
  TORCH_CHECK(!options_.nesterov || options_.momentum > 0, "Sgd: Nesterov needs a positive momentum");
  if (options_.momentum == 0) return;  // plain SGD keeps no state
  buffers_.reserve(params_.size());
  torch::NoGradGuard no_grad;
  for (const auto& p : params_) buffers_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
}

void Sgd::zero_grad() {
  for (auto& p : params_) p.mutable_grad().reset();
}

void Sgd::step(double lr, const std::optional<torch::Tensor>& found_inf) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> ps, gs, bs;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& g = params_[i].grad();
    if (!g.defined()) continue;
    ps.push_back(params_[i]);
    gs.push_back(g);
    if (buffers_.empty()) continue;
    // CUDA's fused kernel refuses mismatched layouts, the CPU kernel silently walks them as if equal.
    TORCH_CHECK(buffers_[i].strides() == params_[i].strides(), "Sgd: parameter ", i,
                " changed its memory layout after the optimizer was built (set the layout first)");
    bs.push_back(buffers_[i]);
  }
  if (ps.empty()) return;
  const double m = options_.momentum, wd = options_.weight_decay;
#if NETADJ_HAVE_FUSED_SGD
  if (fused_) {
    at::_fused_sgd_(ps, gs, bs, wd, m, lr, /*dampening=*/0.0, options_.nesterov, /*maximize=*/false,
                    /*is_first_step=*/false, /*grad_scale=*/std::nullopt, found_inf);
    return;
  }
#endif
  // The same update as ATen's kernel, in _foreach_ ops: d = g + wd*p; b = m*b + d; d = nesterov ? d + m*b : b;
  // p -= lr*d.
  if (found_inf && found_inf->item<float>() != 0.0f) return;
  std::vector<torch::Tensor> d = wd != 0 ? at::_foreach_add(gs, ps, wd) : gs;
  if (m > 0) {
    at::_foreach_mul_(bs, m);
    at::_foreach_add_(bs, d, 1.0);
    d = options_.nesterov ? at::_foreach_add(d, bs, m) : bs;
  }
  at::_foreach_add_(ps, d, -lr);
}

void Sgd::save(torch::serialize::OutputArchive& archive) const {
  archive.write("count", torch::tensor(static_cast<int64_t>(buffers_.size())), /*is_buffer=*/true);
  for (size_t i = 0; i < buffers_.size(); ++i)
    archive.write("momentum." + std::to_string(i), buffers_[i], /*is_buffer=*/true);
}

void Sgd::load(torch::serialize::InputArchive& archive) {
  torch::Tensor count;
  archive.read("count", count, /*is_buffer=*/true);
  if (count.item<int64_t>() != static_cast<int64_t>(buffers_.size()))
    throw DataError("optimizer state holds " + std::to_string(count.item<int64_t>()) +
                    " momentum buffers, this run needs " + std::to_string(buffers_.size()));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < buffers_.size(); ++i) {
    torch::Tensor t;
    archive.read("momentum." + std::to_string(i), t, /*is_buffer=*/true);
    if (!t.sizes().equals(buffers_[i].sizes()))
      throw DataError("optimizer state: momentum buffer " + std::to_string(i) + " has shape " + c10::str(t.sizes()) +
                      ", its parameter " + c10::str(buffers_[i].sizes()));
    buffers_[i].copy_(t);
  }
}

GradScaler::GradScaler(torch::Device device, double init_scale, double growth_factor, double backoff_factor,
                       int64_t growth_interval)
    : growth_factor_(growth_factor), backoff_factor_(backoff_factor), growth_interval_(growth_interval) {
  auto f = torch::TensorOptions().dtype(torch::kFloat).device(device);
  scale_ = torch::full({1}, init_scale, f);
  growth_tracker_ = torch::zeros({1}, f.dtype(torch::kInt));
  found_inf_ = torch::zeros({1}, f);
}

const torch::Tensor& GradScaler::unscale(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  found_inf_.zero_();
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
  return found_inf_;
}

void GradScaler::update() {
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, growth_factor_, backoff_factor_, growth_interval_);
}

void GradScaler::save(torch::serialize::OutputArchive& archive) const {
  archive.write("scale", scale_, /*is_buffer=*/true);
  archive.write("growth_tracker", growth_tracker_, /*is_buffer=*/true);
}

void GradScaler::load(torch::serialize::InputArchive& archive) {
  torch::Tensor s, g;
  archive.read("scale", s, /*is_buffer=*/true);
  archive.read("growth_tracker", g, /*is_buffer=*/true);
  scale_.copy_(s);
  growth_tracker_.copy_(g);
}

}  // namespace netadj
