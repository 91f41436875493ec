#include "netadj/backends/model.h"

#include "netadj/distributed/distributed.h"
#include "netadj/ir/lower.h"
#include "netadj/util/error.h"

namespace netadj {

GraphNetImpl::GraphNetImpl(ArchSpec spec) : spec_(std::move(spec)) {
  const auto& ops = spec_.ops;
  nodes_.resize(ops.size());
  last_use_.assign(ops.size(), -1);
  for (size_t i = 0; i < ops.size(); ++i) {
    for (int in : ops[i].inputs) last_use_[static_cast<size_t>(in)] = static_cast<int>(i);
    ModuleBuild b(*this, spec_, i, nodes_[i]);
    op_def(ops[i].kind).build(b);
  }
  drop_p_.assign(spec_.channels.size(), 0.0);
}

void GraphNetImpl::set_drop(const std::vector<double>& p, DropType type) {
  TORCH_CHECK(p.size() == drop_p_.size(), "set_drop: got ", p.size(), " rates for ", drop_p_.size(), " layers");
  for (double v : p) TORCH_CHECK(v >= 0.0 && v < 1.0, "drop probability ", v, " is not in [0, 1)");
  drop_p_ = p;
  drop_type_ = type;
}

void GraphNetImpl::set_drop_at(int slot, double p, DropType type) {
  std::vector<double> v(drop_p_.size(), 0.0);
  v.at(static_cast<size_t>(slot)) = p;
  set_drop(v, type);
}

void GraphNetImpl::use_channels_last() {
  torch::NoGradGuard ng;
  for (auto& p : parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  channels_last_ = true;
}

void GraphNetImpl::clear_drop() { std::fill(drop_p_.begin(), drop_p_.end(), 0.0); }

// One multiplier per (sample, channel): SpatialDropout (Tompson et al.), kept channels rescaled so the
// expectation is unchanged (Sec. 3.5). [N, C], in float.
static torch::Tensor drop_mask(const torch::Tensor& x, double p, DropType type) {
  auto opts = x.options().dtype(torch::kFloat);
  if (type == DropType::kBernoulli) return torch::empty({x.size(0), x.size(1)}, opts).bernoulli_(1.0 - p).div_(1.0 - p);
  return torch::randn({x.size(0), x.size(1)}, opts).mul_(std::sqrt(p / (1.0 - p))).add_(1.0);
}

// x times a [N, C] mask, broadcast over x's other dimensions.
static torch::Tensor masked(const torch::Tensor& x, const torch::Tensor& mask) {
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape[0] = mask.size(0);
  shape[1] = mask.size(1);
  return x * mask.view(shape).to(x.scalar_type());
}

torch::Tensor channel_drop(const torch::Tensor& x, double p, DropType type) {
  if (p <= 0.0) return x;
  return masked(x, drop_mask(x, p, type));
}

torch::Tensor GraphNetImpl::slot_drop(const torch::Tensor& x, int slot) {
  const double p = drop_p_[size_t(slot)];
  if (p <= 0.0) return x;
  torch::Tensor& m = masks_[size_t(slot)];
  if (!m.defined()) m = drop_mask(x, p, drop_type_);
  TORCH_CHECK(m.size(0) == x.size(0) && m.size(1) == x.size(1), "slot ", slot, ": its drop points disagree on width");
  return masked(x, m);
}

void GraphNetImpl::record(const std::string& name, const torch::Tensor& w, const torch::Tensor& out) const {
  if (!trace_) return;
  // MACs per sample from the tensors themselves: every output element costs (weight numel / out channels).
  int64_t per_output = w.numel() / w.size(0);
  int64_t outputs = out.numel() / out.size(0);
  trace_->push_back({name, per_output * outputs});
}

torch::Tensor GraphNetImpl::input(const torch::Tensor& x) const {
  return channels_last_ ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

void GraphNetImpl::run_ops(std::vector<torch::Tensor>& val, size_t from, size_t to) {
  const auto& ops = spec_.ops;
  for (size_t i = from; i < to; ++i) {
    std::vector<torch::Tensor> in;
    for (size_t k = 0; k < ops[i].inputs.size(); ++k) {
      const torch::Tensor& x = val[size_t(ops[i].inputs[k])];
      in.push_back(k < ops[i].in_slot.size() && ops[i].in_slot[k] >= 0 ? slot_drop(x, ops[i].in_slot[k]) : x);
    }
    val[i] = apply(i, in);
    // Free intermediate results as soon as their last consumer ran.
    for (int j : ops[i].inputs)
      if (last_use_[static_cast<size_t>(j)] == static_cast<int>(i)) val[static_cast<size_t>(j)] = torch::Tensor();
  }
}

torch::Tensor GraphNetImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> val(spec_.ops.size());
  val[0] = input(x);
  masks_.assign(drop_p_.size(), torch::Tensor());
  run_ops(val, 1, val.size());
  return val.back();
}

// A slot's channels are dropped where they flow out of the slot's ops, on the reading ops' inputs (ir/drops.h).
int GraphNetImpl::drop_op(int slot) const {
  for (size_t i = 0; i < spec_.ops.size(); ++i)
    if (std::count(spec_.ops[i].in_slot.begin(), spec_.ops[i].in_slot.end(), slot) > 0) return static_cast<int>(i);
  return -1;
}

std::vector<torch::Tensor> GraphNetImpl::forward_prefix(torch::Tensor x, int op) {
  TORCH_CHECK(op > 0 && size_t(op) < spec_.ops.size(), "forward_prefix: no op ", op);
  std::vector<torch::Tensor> val(spec_.ops.size());
  val[0] = input(x);
  masks_.assign(drop_p_.size(), torch::Tensor());
  run_ops(val, 1, size_t(op));
  return val;  // the drop is on op's inputs: the suffix starts at op
}

torch::Tensor GraphNetImpl::forward_suffix(std::vector<torch::Tensor> val, int op) {
  TORCH_CHECK(val.size() == spec_.ops.size() && op > 0 && size_t(op) < val.size(),
              "forward_suffix: not a prefix of op ", op);
  masks_.assign(drop_p_.size(), torch::Tensor());
  run_ops(val, size_t(op), val.size());
  return val.back();
}

// What a forward pass provides to the op it runs.
class GraphNetImpl::Run final : public OpRun {
 public:
  Run(GraphNetImpl& net, const Op& op, OpModules& m, const std::vector<torch::Tensor>& in)
      : OpRun(op, m, in), net_(net) {}
  bool training() const override { return net_.is_training(); }
  torch::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x) override {
    return net_.sync_bn_ && net_.is_training() ? dist::sync_batch_norm(*bn, x, *net_.sync_bn_) : bn(x);
  }
  void record(const std::string& name, const torch::Tensor& w, const torch::Tensor& y) override {
    net_.record(name, w, y);
  }

 private:
  GraphNetImpl& net_;
};

torch::Tensor GraphNetImpl::apply(size_t i, const std::vector<torch::Tensor>& in) {
  const Op& op = spec_.ops[i];
  Run r(*this, op, nodes_[i], in);
  op_def(op.kind).forward(r);
  return r.out;
}

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace netadj
