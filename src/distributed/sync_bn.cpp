// Synchronized BatchNorm: one autograd function whose forward and backward each add per-channel sums over
// the ranks (one all-reduce each way).
#include "netadj/distributed/distributed.h"

namespace netadj::dist {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Sums over the batch and spatial dimensions, per channel, in fp32.
torch::Tensor channel_sum(const torch::Tensor& t) { return t.sum({0, 2, 3}); }

torch::Tensor per_channel(const torch::Tensor& v) { return v.view({1, -1, 1, 1}); }

struct SyncBatchNorm : public torch::autograd::Function<SyncBatchNorm> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, const torch::Tensor& weight,
                               const torch::Tensor& bias, torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps, int64_t world_ptr) {
    const World& w = *reinterpret_cast<const World*>(world_ptr);
    torch::Tensor x = x_in.to(torch::kFloat);
    const int64_t local = x.size(0) * x.size(2) * x.size(3);
    // Per-rank mean and centred sum of squares, combined over the ranks in double (Chan et al.): no
    // cancellation of E[x^2] - E[x]^2, and counts beyond 2^24 stay exact.
    torch::Tensor m_local = x.mean({0, 2, 3}).to(torch::kDouble);
    torch::Tensor m2_local = channel_sum((x - per_channel(m_local.to(torch::kFloat))).square()).to(torch::kDouble);
    const int64_t C = x.size(1);
    torch::Tensor sums = torch::cat({m_local * double(local), torch::full({1}, double(local), m_local.options())});
    w.all_reduce_sum(sums);
    const double count = sums[C].item<double>();
    torch::Tensor mean = sums.narrow(0, 0, C) / count;
    // Sum of squares about the global mean: each rank's m2 plus n_r (m_r - mean)^2.
    torch::Tensor m2 = m2_local + double(local) * (m_local - mean).square();
    w.all_reduce_sum(m2);
    torch::Tensor var = m2 / count;
    torch::Tensor invstd = (var + eps).rsqrt().to(torch::kFloat);
    mean = mean.to(torch::kFloat);
    {
      torch::NoGradGuard ng;
      running_mean.mul_(1 - momentum).add_(mean, momentum);
      running_var.mul_(1 - momentum).add_((var * (count / std::max(count - 1, 1.0))).to(running_var.dtype()), momentum);
    }
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    ctx->saved_data["world"] = world_ptr;
    ctx->saved_data["dtype"] = static_cast<int64_t>(x_in.scalar_type());
    torch::Tensor y = (x - per_channel(mean)) * per_channel(invstd * weight) + per_channel(bias);
    return y.to(x_in.scalar_type());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3];
    const World& w = *reinterpret_cast<const World*>(ctx->saved_data["world"].toInt());
    const double count = ctx->saved_data["count"].toDouble();
    const auto dtype = static_cast<c10::ScalarType>(ctx->saved_data["dtype"].toInt());
    torch::Tensor dy = grads[0].to(torch::kFloat);
    torch::Tensor xhat = (x - per_channel(mean)) * per_channel(invstd);
    torch::Tensor sum_dy = channel_sum(dy), sum_dy_xhat = channel_sum(dy * xhat);
    torch::Tensor grad_weight = sum_dy_xhat, grad_bias = sum_dy;  // this rank's; GradSync averages them
    torch::Tensor total = torch::cat({sum_dy, sum_dy_xhat});
    w.all_reduce_sum(total);
    const int64_t C = x.size(1);
    torch::Tensor mean_dy = total.narrow(0, 0, C) / count, mean_dy_xhat = total.narrow(0, C, C) / count;
    torch::Tensor dx = (dy - per_channel(mean_dy) - xhat * per_channel(mean_dy_xhat)) * per_channel(invstd * weight);
    return {dx.to(dtype),    grad_weight,     grad_bias,       torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const World& world) {
  const auto& o = bn.options;
  if (!world.distributed() || !o.affine() || !o.track_running_stats()) return bn.forward(x);
  bn.num_batches_tracked.add_(1);
  // momentum = None: the cumulative average, as BatchNorm's own forward.
  const double momentum =
      o.momentum() ? *o.momentum() : 1.0 / static_cast<double>(bn.num_batches_tracked.item<int64_t>());
  return SyncBatchNorm::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, momentum, o.eps(),
                              reinterpret_cast<int64_t>(&world));
}

}  // namespace netadj::dist
