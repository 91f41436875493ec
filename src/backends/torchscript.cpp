#include "netadj/backends/torchscript.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>

#include "netadj/ir/activation.h"
#include "netadj/util/error.h"

namespace netadj {

namespace {

std::string attr(size_t i, const char* role) { return fmt::format("self.a{}_{}", i, role); }
std::string var(size_t i) { return fmt::format("v{}", i); }
std::string pair(int v) { return fmt::format("[{}, {}]", v, v); }

// BatchNorm in eval mode, or its folded scale/shift (pre-activation BN cannot move into the next conv:
// a ReLU sits between them).
std::string batch_norm(const std::string& x, size_t i, const char* prefix, bool fold_bn) {
  if (fold_bn)
    return fmt::format("{} * {} + {}", x, attr(i, (prefix + std::string("s")).c_str()),
                       attr(i, (prefix + std::string("t")).c_str()));
  auto a = [&](const char* r) { return attr(i, (prefix + std::string(r)).c_str()); };
  return fmt::format("torch.batch_norm({}, {}, {}, {}, {}, False, 0.0, {}, True)", x, a("w"), a("b"), a("rm"), a("rv"),
                     a("eps_"));
}

}  // namespace

std::string fit_channels_source(const std::string& x, int64_t have, int64_t want) {
  if (have == want) return x;
  if (have > want) return fmt::format("{}.narrow(1, 0, {})", x, want);
  return fmt::format("torch.constant_pad_nd({}, [0, 0, 0, 0, {}, 0], 0.0)", x, want - have);
}

namespace {

std::string conv_call(const std::string& x, size_t i, const Op& op, int64_t groups, bool has_bias) {
  return fmt::format("torch.conv2d({}, {}, {}, {}, {}, {}, {})", x, attr(i, "w"), has_bias ? attr(i, "b") : "None",
                     pair(op.stride), pair(op.pad), pair(op.dilation), groups);
}

const char* py_bool(bool b) { return b ? "True" : "False"; }

// A network file's BatchNorm op folds into the conv before it when it is that conv's only reader.
int folds_into(const ArchSpec& spec, size_t bn) {
  const Op& op = spec.ops[bn];
  if (op.kind != OpKind::kBatchNorm || spec.ops[size_t(op.inputs[0])].kind != OpKind::kConv) return -1;
  for (size_t j = 0; j < spec.ops.size(); ++j)
    if (j != bn && std::count(spec.ops[j].inputs.begin(), spec.ops[j].inputs.end(), op.inputs[0]) > 0) return -1;
  return op.inputs[0];
}

// The BatchNorm op that folds into conv `conv`, or -1.
int folded_bn_of(const ArchSpec& spec, size_t conv) {
  for (size_t j = conv + 1; j < spec.ops.size(); ++j)
    if (spec.ops[j].kind == OpKind::kBatchNorm && spec.ops[j].inputs[0] == int(conv))
      return folds_into(spec, j) == int(conv) ? int(j) : -1;
  return -1;
}

std::vector<std::string> conv_lines(const ArchSpec& spec, size_t i, bool fold_bn) {
  const Op& op = spec.ops[i];
  const std::string v = var(i), in = var(size_t(op.inputs[0]));
  const int64_t in_w = spec.ops[size_t(op.inputs[0])].out.value;
  std::vector<std::string> out;
  std::string x = in;
  if (op.preact) {
    out.push_back(fmt::format("{} = torch.relu({})", v, batch_norm(in, i, "pre_", fold_bn)));
    x = v;
  }
  out.push_back(fmt::format("{} = {}", v,
                            conv_call(x, i, op, op.depthwise ? in_w : op.groups,
                                      op.bias || (fold_bn && (op.bn || folded_bn_of(spec, i) >= 0)))));
  if (op.bn && !fold_bn) out.push_back(fmt::format("{} = {}", v, batch_norm(v, i, "bn_", false)));
  if (op.relu) out.push_back(fmt::format("{} = torch.relu({})", v, v));
  return out;
}

std::vector<std::string> add_lines(const ArchSpec& spec, size_t i) {
  const Op& op = spec.ops[i];
  const std::string v = var(i);
  const size_t a = size_t(op.inputs[0]), b = size_t(op.inputs[1]);
  std::string sum = fmt::format("{} + {}", fit_channels_source(var(a), spec.ops[a].out.value, op.out.value),
                                fit_channels_source(var(b), spec.ops[b].out.value, op.out.value));
  for (size_t k = 2; k < op.inputs.size(); ++k) sum += " + " + var(size_t(op.inputs[k]));
  std::vector<std::string> out{fmt::format("{} = {}", v, sum)};
  if (op.relu) out.push_back(fmt::format("{} = torch.relu({})", v, v));
  return out;
}

std::string activation_expr(Activation a, const std::string& x) {
  return fmt::format(fmt::runtime(activation_def(a).torchscript), x);
}

// A network file's op (eval mode: dropout and stochastic depth are the identity).
std::string file_op_expr(const ArchSpec& spec, size_t i, bool fold_bn) {
  const Op& op = spec.ops[i];
  const std::string in = var(size_t(op.inputs[0]));
  switch (op.kind) {
    case OpKind::kBatchNorm:
      return fold_bn && folds_into(spec, i) >= 0 ? in : batch_norm(in, i, "pre_", fold_bn);
    case OpKind::kActivation:
      return activation_expr(op.act, in);
    case OpKind::kMul:
      return fmt::format("{} * {}", in, var(size_t(op.inputs[1])));
    case OpKind::kFlatten:
      return fmt::format("{}.flatten(1)", in);
    case OpKind::kAdaptivePool:
      return fmt::format("torch.adaptive_avg_pool2d({}, {})", in, pair(op.output_size));
    case OpKind::kShuffle:
      return fmt::format("torch.channel_shuffle({}, {})", in, op.groups);
    default:
      return in;
  }
}

// The lines that compute op i into v<i> (the same walk as GraphNetImpl::apply).
std::vector<std::string> op_lines(const ArchSpec& spec, size_t i, bool fold_bn) {
  const Op& op = spec.ops[i];
  const std::string v = var(i);
  const std::string in = op.inputs.empty() ? "x" : var(size_t(op.inputs[0]));
  switch (op.kind) {
    case OpKind::kInput:
      return {v + " = x"};
    case OpKind::kConv:
      return conv_lines(spec, i, fold_bn);
    case OpKind::kAdd:
      return add_lines(spec, i);
    case OpKind::kConcat: {
      std::vector<std::string> parts;
      for (int j : op.inputs) parts.push_back(var(size_t(j)));
      return {fmt::format("{} = torch.cat([{}], 1)", v, fmt::join(parts, ", "))};
    }
    case OpKind::kAvgPool:
      return {fmt::format("{} = torch.avg_pool2d({}, {}, {}, {}, {}, True)", v, in, pair(op.kernel), pair(op.stride),
                          pair(op.pad), py_bool(op.ceil))};
    case OpKind::kMaxPool:
      return {fmt::format("{} = torch.max_pool2d({}, {}, {}, {}, [1, 1], {})", v, in, pair(op.kernel), pair(op.stride),
                          pair(op.pad), py_bool(op.ceil))};
    case OpKind::kGlobalPool: {
      std::string x = op.bn ? fmt::format("torch.relu({})", batch_norm(in, i, "pre_", fold_bn)) : in;
      return {fmt::format("{} = {}.mean([2, 3], {})", v, x, py_bool(op.keepdim))};
    }
    case OpKind::kLinear:
      return {fmt::format("{} = torch.linear({}.flatten(1), {}, {})", v, in, attr(i, "w"),
                          op.bias ? attr(i, "b") : "None")};
    case OpKind::kSqueezeExcite:
      return {fmt::format("{}_s = torch.relu(torch.conv2d({}.mean([2, 3], True), {}, {}))", v, in, attr(i, "se_rw"),
                          attr(i, "se_rb")),
              fmt::format("{} = {} * torch.sigmoid(torch.conv2d({}_s, {}, {}))", v, in, v, attr(i, "se_ew"),
                          attr(i, "se_eb"))};
    default:
      return {fmt::format("{} = {}", v, file_op_expr(spec, i, fold_bn))};
  }
  return {};
}

struct Folded {
  torch::Tensor scale, shift;  ///< per channel: bn(x) = x * scale + shift in eval mode
};
Folded fold(const torch::nn::BatchNorm2d& bn) {
  torch::Tensor scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
  return {scale, bn->bias - bn->running_mean * scale};
}

class Registrar {
 public:
  Registrar(torch::jit::Module& m, size_t i) : m_(m), i_(i) {}
  void tensor(const char* role, const torch::Tensor& t) {
    m_.register_parameter(fmt::format("a{}_{}", i_, role), t.detach().to(torch::kCPU).contiguous().clone(), false);
  }
  void eps(const char* prefix, double e) {
    m_.register_attribute(fmt::format("a{}_{}eps_", i_, prefix), c10::FloatType::get(), e);
  }
  // Pre-activation BN: kept as a BN, or folded into a [1, C, 1, 1] scale and shift.
  void pre_bn(const torch::nn::BatchNorm2d& bn, bool fold_bn) {
    if (fold_bn) {
      Folded f = fold(bn);
      tensor("pre_s", f.scale.view({1, -1, 1, 1}));
      tensor("pre_t", f.shift.view({1, -1, 1, 1}));
      return;
    }
    plain_bn("pre_", bn);
  }
  void plain_bn(const std::string& prefix, const torch::nn::BatchNorm2d& bn) {
    tensor((prefix + "w").c_str(), bn->weight);
    tensor((prefix + "b").c_str(), bn->bias);
    tensor((prefix + "rm").c_str(), bn->running_mean);
    tensor((prefix + "rv").c_str(), bn->running_var);
    eps(prefix.c_str(), bn->options.eps());
  }

 private:
  torch::jit::Module& m_;
  size_t i_;
};

// `next_bn`: a network file's BatchNorm op that folds into this conv (null: none).
void register_conv(Registrar& r, const Op& op, const GraphNetImpl::Node& n, bool fold_bn,
                   const torch::nn::BatchNorm2d& next_bn) {
  if (op.preact) r.pre_bn(n.pre_bn, fold_bn);
  torch::Tensor w = n.conv->weight, b = op.bias ? n.conv->bias : torch::Tensor();
  if (next_bn && fold_bn) {
    Folded f = fold(next_bn);
    b = (b.defined() ? b * f.scale : torch::zeros_like(f.shift)) + f.shift;
    w = w * f.scale.view({-1, 1, 1, 1});
  } else if (op.bn && fold_bn) {
    Folded f = fold(n.bn);
    b = (b.defined() ? b * f.scale : torch::zeros_like(f.shift)) + f.shift;
    w = w * f.scale.view({-1, 1, 1, 1});
  } else if (op.bn) {
    r.plain_bn("bn_", n.bn);
  }
  r.tensor("w", w);
  if (b.defined()) r.tensor("b", b);
}

void register_op(torch::jit::Module& m, const GraphNetImpl& net, size_t i, bool fold_bn) {
  const Op& op = net.spec().ops[i];
  const GraphNetImpl::Node& n = net.node(i);
  Registrar r(m, i);
  switch (op.kind) {
    case OpKind::kConv:
      register_conv(r, op, n, fold_bn,
                    folded_bn_of(net.spec(), i) >= 0 ? net.node(size_t(folded_bn_of(net.spec(), i))).bn : nullptr);
      break;
    case OpKind::kGlobalPool:
      if (op.bn) r.pre_bn(n.pre_bn, fold_bn);
      break;
    case OpKind::kLinear:
      r.tensor("w", n.fc->weight);
      if (op.bias) r.tensor("b", n.fc->bias);
      break;
    case OpKind::kBatchNorm:
      if (!fold_bn || folds_into(net.spec(), i) < 0) r.pre_bn(n.bn, fold_bn);
      break;
    case OpKind::kSqueezeExcite:
      r.tensor("se_rw", n.se_reduce->weight);
      r.tensor("se_rb", n.se_reduce->bias);
      r.tensor("se_ew", n.se_expand->weight);
      r.tensor("se_eb", n.se_expand->bias);
      break;
    default:
      break;
  }
}

std::string tensor_module_name(const std::string& arch) {
  std::string n = arch;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return "__torch__.netadj." + n;
}

}  // namespace

std::string torchscript_source(const ArchSpec& spec, bool fold_bn) {
  std::string src = "def forward(self, x: Tensor) -> Tensor:\n";
  for (size_t i = 0; i < spec.ops.size(); ++i)
    for (const std::string& line : op_lines(spec, i, fold_bn)) src += "    " + line + "\n";
  src += "    return " + var(spec.ops.size() - 1) + "\n";
  return src;
}

torch::jit::Module to_torchscript(GraphNetImpl& net, bool fold_bn) {
  torch::NoGradGuard no_grad;
  const ArchSpec& spec = net.spec();
  torch::jit::Module m(tensor_module_name(spec.arch));
  for (size_t i = 0; i < spec.ops.size(); ++i) register_op(m, net, i, fold_bn);
  m.define(torchscript_source(spec, fold_bn));
  m.eval();
  return m;
}

}  // namespace netadj
