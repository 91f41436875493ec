#include "netadj/arch/model.h"

#include "netadj/distributed/distributed.h"
#include "netadj/util/error.h"

namespace netadj {
namespace nn = torch::nn;

static std::string module_name(size_t i, const std::string& op_name) {
  std::string n = "op" + std::to_string(i) + "_" + op_name;
  for (char& ch : n)
    if (ch == '.') ch = '_';
  return n;
}

GraphNetImpl::GraphNetImpl(ArchSpec spec) : spec_(std::move(spec)) {
  const auto& ops = spec_.ops;
  nodes_.resize(ops.size());
  last_use_.assign(ops.size(), -1);
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    for (int in : op.inputs) last_use_[static_cast<size_t>(in)] = static_cast<int>(i);
    Node& n = nodes_[i];
    std::string name = module_name(i, op.name);
    int64_t in_w = op.inputs.empty() ? 0 : ops[static_cast<size_t>(op.inputs[0])].out.value;
    switch (op.kind) {
      case OpKind::kConv: {
        int64_t groups = op.depthwise ? in_w : 1;
        TORCH_CHECK(in_w > 0 && op.out.value > 0, "layer ", op.name, " has zero width");
        if (op.preact) n.pre_bn = register_module(name + "_prebn", nn::BatchNorm2d(in_w));
        n.conv = register_module(name, nn::Conv2d(nn::Conv2dOptions(in_w, op.out.value, op.kernel)
                                                      .stride(op.stride)
                                                      .padding(op.pad)
                                                      .groups(groups)
                                                      .bias(op.bias)));
        nn::init::kaiming_normal_(n.conv->weight, 0.0, torch::kFanOut, torch::kReLU);
        if (op.bn) n.bn = register_module(name + "_bn", nn::BatchNorm2d(op.out.value));
        break;
      }
      case OpKind::kGlobalPool:
        if (op.bn) n.pre_bn = register_module(name + "_bn", nn::BatchNorm2d(op.out.value));
        break;
      case OpKind::kLinear:
        n.fc = register_module(name, nn::Linear(in_w, op.out.value));
        break;
      case OpKind::kSqueezeExcite:
        n.se_reduce = register_module(name + "_reduce", nn::Conv2d(nn::Conv2dOptions(in_w, op.se_width, 1).bias(true)));
        n.se_expand = register_module(name + "_expand", nn::Conv2d(nn::Conv2dOptions(op.se_width, in_w, 1).bias(true)));
        break;
      default:
        break;
    }
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

torch::Tensor channel_drop(const torch::Tensor& x, double p, DropType type) {
  if (p <= 0.0) return x;
  // One multiplier per (sample, channel): SpatialDropout (Tompson et al.), kept channels rescaled so the
  // expectation is unchanged (Sec. 3.5).
  auto opts = x.options().dtype(torch::kFloat);
  torch::Tensor m;
  if (type == DropType::kBernoulli) {
    m = torch::empty({x.size(0), x.size(1), 1, 1}, opts).bernoulli_(1.0 - p).div_(1.0 - p);
  } else {
    m = torch::randn({x.size(0), x.size(1), 1, 1}, opts).mul_(std::sqrt(p / (1.0 - p))).add_(1.0);
  }
  return x * m.to(x.scalar_type());
}

// Zero channels go in front (prepended) and truncation keeps the first channels, as the reference code.
torch::Tensor GraphNetImpl::fit_channels(const torch::Tensor& x, int64_t c) const {
  int64_t have = x.size(1);
  if (have == c) return x;
  if (have > c) return x.narrow(1, 0, c);
  return torch::constant_pad_nd(x, {0, 0, 0, 0, c - have, 0});
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
    val[i] = apply(i, val);
    // Free intermediate results as soon as their last consumer ran.
    for (int j : ops[i].inputs)
      if (last_use_[static_cast<size_t>(j)] == static_cast<int>(i)) val[static_cast<size_t>(j)] = torch::Tensor();
  }
}

torch::Tensor GraphNetImpl::forward(torch::Tensor x) {
  std::vector<torch::Tensor> val(spec_.ops.size());
  val[0] = input(x);
  run_ops(val, 1, val.size());
  return val.back();
}

int GraphNetImpl::drop_op(int slot) const {
  for (size_t i = 0; i < spec_.ops.size(); ++i)
    if (spec_.ops[i].kind == OpKind::kConv && spec_.ops[i].slot == slot) return static_cast<int>(i);
  return -1;
}

std::vector<torch::Tensor> GraphNetImpl::forward_prefix(torch::Tensor x, int op) {
  TORCH_CHECK(op > 0 && size_t(op) < spec_.ops.size() && spec_.ops[size_t(op)].kind == OpKind::kConv,
              "forward_prefix: op ", op, " is not a convolution");
  std::vector<torch::Tensor> val(spec_.ops.size());
  val[0] = input(x);
  run_ops(val, 1, size_t(op));
  const Op& o = spec_.ops[size_t(op)];
  val[size_t(op)] = apply_conv(o, nodes_[size_t(op)], val[size_t(o.inputs[0])], /*with_drop=*/false);
  for (int j : o.inputs)
    if (last_use_[size_t(j)] == op) val[size_t(j)] = torch::Tensor();
  return val;
}

torch::Tensor GraphNetImpl::forward_suffix(std::vector<torch::Tensor> val, int op) {
  const Op& o = spec_.ops.at(size_t(op));
  TORCH_CHECK(val.size() == spec_.ops.size() && val[size_t(op)].defined(), "forward_suffix: not a prefix of op ", op);
  if (o.slot >= 0) val[size_t(op)] = channel_drop(val[size_t(op)], drop_p_[size_t(o.slot)], drop_type_);
  run_ops(val, size_t(op) + 1, val.size());
  return val.back();
}

torch::Tensor GraphNetImpl::apply(size_t i, const std::vector<torch::Tensor>& val) {
  const Op& op = spec_.ops[i];
  Node& n = nodes_[i];
  const torch::Tensor& in = val[static_cast<size_t>(op.inputs[0])];
  switch (op.kind) {
    case OpKind::kConv:
      return apply_conv(op, n, in);
    case OpKind::kAdd: {
      const torch::Tensor& b = val[static_cast<size_t>(op.inputs[1])];
      torch::Tensor y = fit_channels(in, op.out.value) + fit_channels(b, op.out.value);
      return op.relu ? torch::relu_(y) : y;
    }
    case OpKind::kConcat: {
      std::vector<torch::Tensor> parts;
      for (int j : op.inputs) parts.push_back(val[static_cast<size_t>(j)]);
      return torch::cat(parts, 1);
    }
    case OpKind::kAvgPool:
      return torch::avg_pool2d(in, op.kernel, op.stride, 0, /*ceil_mode=*/true);
    case OpKind::kMaxPool:
      return torch::max_pool2d(in, op.kernel, op.stride, op.pad);
    case OpKind::kGlobalPool:
      return (n.pre_bn ? batch_norm(n.pre_bn, in).relu_() : in).mean({2, 3}, /*keepdim=*/true);
    case OpKind::kLinear: {
      torch::Tensor y = n.fc(in.flatten(1));
      record(op.name, n.fc->weight, y);
      return y;
    }
    case OpKind::kSqueezeExcite:
      return apply_squeeze_excite(op, n, in);
    case OpKind::kInput:
      break;
  }
  return torch::Tensor();
}

torch::Tensor GraphNetImpl::batch_norm(torch::nn::BatchNorm2d& m, const torch::Tensor& x) {
  return sync_bn_ && is_training() ? dist::sync_batch_norm(*m, x, *sync_bn_) : m(x);
}

torch::Tensor GraphNetImpl::apply_conv(const Op& op, Node& n, const torch::Tensor& in, bool with_drop) {
  torch::Tensor y = in;
  if (n.pre_bn) y = batch_norm(n.pre_bn, y).relu_();
  y = n.conv(y);
  record(op.name, n.conv->weight, y);
  if (n.bn) y = batch_norm(n.bn, y);
  if (op.relu) y = torch::relu_(y);  // in place: y is the BN output, not needed by its backward
  if (with_drop && op.slot >= 0) y = channel_drop(y, drop_p_[static_cast<size_t>(op.slot)], drop_type_);
  return y;
}

torch::Tensor GraphNetImpl::apply_squeeze_excite(const Op& op, Node& n, const torch::Tensor& in) {
  torch::Tensor s = in.mean({2, 3}, true);
  s = n.se_reduce(s);
  record(op.name + ".reduce", n.se_reduce->weight, s);
  s = torch::relu(s);
  torch::Tensor e = n.se_expand(s);
  record(op.name + ".expand", n.se_expand->weight, e);
  return in * torch::sigmoid(e);
}

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace netadj
