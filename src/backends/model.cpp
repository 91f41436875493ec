#include "netadj/backends/model.h"

#include "netadj/distributed/distributed.h"
#include "netadj/ir/activation.h"
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
        int64_t groups = op.depthwise ? in_w : op.groups;
        TORCH_CHECK(in_w > 0 && op.out.value > 0, "layer ", op.name, " has zero width");
        if (op.preact) n.pre_bn = register_module(name + "_prebn", nn::BatchNorm2d(in_w));
        n.conv = register_module(name, nn::Conv2d(nn::Conv2dOptions(in_w, op.out.value, op.kernel)
                                                      .stride(op.stride)
                                                      .padding(op.pad)
                                                      .dilation(op.dilation)
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
        n.fc = register_module(name, nn::Linear(nn::LinearOptions(in_w, op.out.value).bias(op.bias)));
        break;
      case OpKind::kBatchNorm:
        n.bn = register_module(name, nn::BatchNorm2d(nn::BatchNorm2dOptions(op.out.value).eps(op.eps)));
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

// A family's conv drops its own output's channels; a network file's slot drops where it flows out.
static bool drops_output(const Op& op) { return op.kind == OpKind::kConv && op.slot >= 0; }

int GraphNetImpl::drop_op(int slot) const {
  for (size_t i = 0; i < spec_.ops.size(); ++i) {
    const Op& op = spec_.ops[i];
    if ((drops_output(op) && op.slot == slot) || std::count(op.in_slot.begin(), op.in_slot.end(), slot) > 0)
      return static_cast<int>(i);
  }
  return -1;
}

std::vector<torch::Tensor> GraphNetImpl::forward_prefix(torch::Tensor x, int op) {
  TORCH_CHECK(op > 0 && size_t(op) < spec_.ops.size(), "forward_prefix: no op ", op);
  std::vector<torch::Tensor> val(spec_.ops.size());
  val[0] = input(x);
  masks_.assign(drop_p_.size(), torch::Tensor());
  run_ops(val, 1, size_t(op));
  const Op& o = spec_.ops[size_t(op)];
  if (!drops_output(o)) return val;  // the drop is on op's inputs: the suffix starts at op
  val[size_t(op)] = apply_conv(o, nodes_[size_t(op)], val[size_t(o.inputs[0])], /*with_drop=*/false);
  for (int j : o.inputs)
    if (last_use_[size_t(j)] == op) val[size_t(j)] = torch::Tensor();
  return val;
}

torch::Tensor GraphNetImpl::forward_suffix(std::vector<torch::Tensor> val, int op) {
  const Op& o = spec_.ops.at(size_t(op));
  TORCH_CHECK(val.size() == spec_.ops.size() && (!drops_output(o) || val[size_t(op)].defined()),
              "forward_suffix: not a prefix of op ", op);
  masks_.assign(drop_p_.size(), torch::Tensor());
  if (!drops_output(o)) {
    run_ops(val, size_t(op), val.size());
    return val.back();
  }
  val[size_t(op)] = channel_drop(val[size_t(op)], drop_p_[size_t(o.slot)], drop_type_);
  run_ops(val, size_t(op) + 1, val.size());
  return val.back();
}

// Dropout, or stochastic depth (whole samples, torchvision's "row" mode), in training; identity in eval.
torch::Tensor GraphNetImpl::train_only_drop(const Op& op, const torch::Tensor& x) const {
  if (!is_training() || op.p <= 0.0) return x;
  if (!op.per_sample) return torch::dropout(x, op.p, true);
  if (op.p >= 1.0) return x * 0;
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape[0] = x.size(0);
  return x * torch::empty(shape, x.options()).bernoulli_(1.0 - op.p).div_(1.0 - op.p);
}

torch::Tensor GraphNetImpl::apply(size_t i, const std::vector<torch::Tensor>& in) {
  const Op& op = spec_.ops[i];
  Node& n = nodes_[i];
  switch (op.kind) {
    case OpKind::kConv:
      return apply_conv(op, n, in[0]);
    case OpKind::kAdd: {
      torch::Tensor y = fit_channels(in[0], op.out.value);
      for (size_t k = 1; k < in.size(); ++k) y = y + fit_channels(in[k], op.out.value);
      return op.relu ? torch::relu_(y) : y;
    }
    case OpKind::kConcat:
      return torch::cat(in, 1);
    case OpKind::kAvgPool:
      return torch::avg_pool2d(in[0], op.kernel, op.stride, op.pad, op.ceil);
    case OpKind::kMaxPool:
      return torch::max_pool2d(in[0], op.kernel, op.stride, op.pad, 1, op.ceil);
    case OpKind::kGlobalPool:
      return (n.pre_bn ? batch_norm(n.pre_bn, in[0]).relu_() : in[0]).mean({2, 3}, op.keepdim);
    case OpKind::kLinear: {
      torch::Tensor y = n.fc(in[0].flatten(1));
      record(op.name, n.fc->weight, y);
      return y;
    }
    case OpKind::kSqueezeExcite:
      return apply_squeeze_excite(op, n, in[0]);
    default:
      return apply_file_op(op, n, in);
  }
}

torch::Tensor GraphNetImpl::apply_file_op(const Op& op, Node& n, const std::vector<torch::Tensor>& in) {
  switch (op.kind) {
    case OpKind::kBatchNorm:
      return batch_norm(n.bn, in[0]);
    case OpKind::kActivation:
      return activation_def(op.act).apply(in[0]);
    case OpKind::kMul:
      return in[0] * in[1];
    case OpKind::kFlatten:
      return in[0].flatten(1);
    case OpKind::kAdaptivePool:
      return torch::adaptive_avg_pool2d(in[0], {op.output_size, op.output_size});
    case OpKind::kIdentity:
      return train_only_drop(op, in[0]);
    case OpKind::kShuffle:
      return torch::channel_shuffle(in[0], op.groups);
    default:
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
