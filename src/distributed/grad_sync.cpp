#include "netadj/distributed/distributed.h"

namespace netadj::dist {

GradSync::GradSync(const World& world, std::vector<torch::Tensor> params, double bucket_mb)
    : world_(world), params_(std::move(params)) {
  if (!world_.distributed()) return;
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(bucket_mb * double(1 << 20)));
  slots_.resize(params_.size());
  int64_t bytes = 0, count = 0;
  // A bucket: its parameters' gradients, then one "has a gradient" element per parameter.
  auto close_bucket = [&] {
    if (count == 0) return;
    auto& b = buckets_.back();
    for (size_t j = 0; j < b.params.size(); ++j) slots_[b.params[j]].flag = count + int64_t(j);
    b.flat = torch::zeros({count + int64_t(b.params.size())}, params_[b.params.front()].options());
    bytes = count = 0;
  };
  for (size_t k = params_.size(); k-- > 0;) {  // backward produces the last layers' gradients first
    const auto& p = params_[k];
    const int64_t pb = p.numel() * int64_t(p.element_size());
    if (count > 0 && (bytes + pb > cap || p.scalar_type() != params_[buckets_.back().params.front()].scalar_type()))
      close_bucket();
    if (count == 0) buckets_.emplace_back();
    slots_[k] = {buckets_.size() - 1, count, 0, false};
    buckets_.back().params.push_back(k);
    bytes += pb;
    count += p.numel();
  }
  close_bucket();
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].register_hook([this, i](const torch::Tensor& g) { on_grad(i, g); }));
}

GradSync::~GradSync() {
  for (size_t i = 0; i < hooks_.size(); ++i) params_[i].remove_hook(hooks_[i]);
  for (auto& b : buckets_) {
    try {
      b.pending.wait();
    } catch (...) {  // a failed reduction was (or will be) reported by finish()
    }
  }
}

void GradSync::begin() {
  if (!world_.distributed()) return;
  for (auto& s : slots_) s.ready = false;
  for (auto& b : buckets_) b.ready = 0;
  next_ = 0;
  active_ = true;
}

void GradSync::on_grad(size_t i, const torch::Tensor& g) {
  if (!active_) return;
  Slot& s = slots_[i];
  if (s.ready) return;
  Bucket& b = buckets_[s.bucket];
  torch::NoGradGuard ng;
  b.flat.narrow(0, s.offset, g.numel()).copy_(g.reshape(-1));
  b.flat.narrow(0, s.flag, 1).fill_(1);
  s.ready = true;
  ++b.ready;
  // A bucket starts once it and every bucket before it are complete: all ranks issue the same sequence.
  while (next_ < buckets_.size() && buckets_[next_].ready == buckets_[next_].params.size()) launch(buckets_[next_++]);
}

void GradSync::launch(Bucket& b) { b.pending = world_.all_reduce_sum_async(b.flat); }

void GradSync::finish() {
  if (!world_.distributed()) return;
  active_ = false;
  torch::NoGradGuard ng;
  for (; next_ < buckets_.size(); ++next_) {
    Bucket& b = buckets_[next_];
    for (size_t k : b.params)
      if (!slots_[k].ready) {
        b.flat.narrow(0, slots_[k].offset, params_[k].numel()).zero_();
        b.flat.narrow(0, slots_[k].flag, 1).zero_();
      }
    b.ready = b.params.size();
    launch(b);
  }
  const double inv = 1.0 / double(world_.size());
  // Per bucket, on the host: how many ranks had each parameter's gradient, and where those flags start.
  std::vector<torch::Tensor> had;
  std::vector<int64_t> flags_at;
  for (auto& b : buckets_) {
    b.pending.wait();
    b.flat.mul_(inv);
    const int64_t n = int64_t(b.params.size());
    flags_at.push_back(b.flat.numel() - n);
    had.push_back(b.flat.narrow(0, flags_at.back(), n).cpu());
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    auto& p = params_[k];
    const Slot& s = slots_[k];
    const Bucket& b = buckets_[s.bucket];
    if (had[s.bucket][s.flag - flags_at[s.bucket]].item<double>() == 0) continue;
    auto mean = b.flat.narrow(0, s.offset, p.numel()).view(p.sizes());
    if (p.grad().defined())
      p.mutable_grad().copy_(mean);
    else
      p.mutable_grad() = mean.clone(at::MemoryFormat::Preserve);
  }
}

namespace {

// `tensors` overwritten with rank 0's: one flat tensor per dtype, a handful of collectives instead of one per
// tensor.
void broadcast_tensors(const World& world, const std::vector<torch::Tensor>& tensors) {
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  torch::NoGradGuard ng;
  for (auto& [type, ts] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (auto& t : ts) flat_parts.push_back(t.detach().reshape(-1));
    std::vector<torch::Tensor> flat = {torch::cat(flat_parts)};
    world.broadcast(flat);
    int64_t off = 0;
    for (auto& t : ts) {
      t.copy_(flat[0].narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

}  // namespace

void broadcast_state(const World& world, torch::nn::Module& module) {
  if (!world.distributed()) return;
  std::vector<torch::Tensor> all = module.parameters();
  for (auto& b : module.buffers()) all.push_back(b);
  broadcast_tensors(world, all);
}

void broadcast_buffers(const World& world, torch::nn::Module& module) {
  if (!world.distributed()) return;
  broadcast_tensors(world, module.buffers());
}

}  // namespace netadj::dist
