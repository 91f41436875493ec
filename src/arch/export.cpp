#include "netadj/arch/export.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>
#include <sstream>

#include "netadj/arch/onnx.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/stats.h"

namespace netadj {
using json = nlohmann::json;

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
  switch (a) {
    case Activation::kRelu:
      return fmt::format("torch.relu({})", x);
    case Activation::kRelu6:
      return fmt::format("torch.hardtanh({}, 0.0, 6.0)", x);
    case Activation::kSilu:
      return fmt::format("torch.silu({})", x);
    case Activation::kHardswish:
      return fmt::format("torch.hardswish({})", x);
    case Activation::kHardsigmoid:
      return fmt::format("torch.hardsigmoid({})", x);
    case Activation::kSigmoid:
      return fmt::format("torch.sigmoid({})", x);
    case Activation::kGelu:
      return fmt::format("torch.gelu({})", x);
  }
  return x;
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

namespace {

std::string without_extension(const std::string& file) {
  std::string base = file;
  auto slash = base.find_last_of('/');
  auto dot = base.find_last_of('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) base.resize(dot);
  return base;
}

std::string file_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

}  // namespace

std::string export_card_path(const std::string& model_file) { return without_extension(model_file) + ".json"; }

json export_card(const GraphNetImpl& net, const ExportInfo& info, const std::string& model_file) {
  const ArchSpec& s = net.spec();
  Config c;
  c.model = info.model;
  c.model.channels = s.channels;
  c.model.resolution = s.resolution;
  json preprocess = {{"scale", "divide 8-bit pixel values by 255"},
                     {"mean", info.mean},
                     {"std", info.std},
                     {"normalize", "(x - mean) / std per channel"}};
  if (info.center_crop)
    preprocess["resize"] = fmt::format("shorter side to {} (bilinear), then center crop {}x{}",
                                       s.resolution * 256 / 224, s.resolution, s.resolution);
  const bool ts = info.format != ExportFormat::kOnnx, onnx = info.format != ExportFormat::kTorchscript;
  json files = json::object();
  if (ts) files["torchscript"] = file_name(model_file);
  if (onnx) files["onnx"] = file_name(without_extension(model_file) + ".onnx");
  json card = {
      {"schema_version", 1},
      {"format", enum_name(info.format)},
      {"file", ts ? files["torchscript"] : files["onnx"]},
      {"files", files},
      {"arch", s.arch},
      {"model", config_to_json(c)["model"]},
      {"channels", s.channels},
      {"layers",
       [&] {
         std::vector<std::string> names;
         for (const auto& l : s.layers) names.push_back(l.name);
         return names;
       }()},
      {"input",
       {{"shape", {-1, s.in_channels, s.resolution, s.resolution}},
        {"dtype", "float32"},
        {"layout", "NCHW"},
        {"channel_order", s.in_channels == 3   ? "RGB"
                          : s.in_channels == 1 ? "gray"
                                               : "as in training"}}},
      {"preprocess", preprocess},
      {"num_classes", s.num_classes},
      {"output", "logits [N, num_classes] (apply softmax for probabilities)"},
      {"dataset", info.dataset},
      {"flops", spec_flops(s)},
      {"params", spec_params(s)},
      {"fold_bn", info.fold_bn},
      {"netadj_version", NETADJ_VERSION},
      {"torch_version", fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH)}};
  if (onnx)
    card["onnx"] = {{"opset", kOnnxOpset}, {"input", "input"}, {"output", "logits"}, {"dynamic_axes", {"batch"}}};
  return card;
}

namespace {

// Puts the net on the CPU for the check, and back on its device afterwards (also when the check throws).
class OnCpu {
 public:
  explicit OnCpu(GraphNetImpl& net) : net_(net) {
    auto params = net.parameters();
    dev_ = params.empty() ? torch::Device(torch::kCPU) : params[0].device();
    net_.to(torch::kCPU);
  }
  ~OnCpu() { net_.to(dev_); }
  OnCpu(const OnCpu&) = delete;
  OnCpu& operator=(const OnCpu&) = delete;

 private:
  GraphNetImpl& net_;
  torch::Device dev_{torch::kCPU};
};

}  // namespace

ExportResult export_model(GraphNetImpl& net, const ExportInfo& info, const std::string& out) {
  ExportResult r;
  const bool ts = info.format != ExportFormat::kOnnx, onnx = info.format != ExportFormat::kTorchscript;
  const std::string ts_file = without_extension(out) + ".pt";
  r.model_file = ts ? (onnx ? ts_file : out) : "";
  r.onnx_file = onnx ? without_extension(out) + ".onnx" : "";
  r.card_file = export_card_path(out);
  if (r.card_file == out) throw ConfigError(out + ": the export needs a name that does not end in .json");
  net.eval();
  net.clear_drop();  // the export has no drop points; the check compares the plain network
  torch::NoGradGuard no_grad;
  const ArchSpec& s = net.spec();
  r.card = export_card(net, info, ts ? (onnx ? ts_file : out) : r.onnx_file);
  std::ostringstream bytes;
  to_torchscript(net, info.fold_bn).save(bytes, {{"model.json", r.card.dump(2)}});
  // The bytes as they will be written, loaded back, must compute what netadj computes; only then is any
  // file replaced. Compared on the CPU, where neither side uses TF32 or autotuned kernels.
  std::istringstream in(bytes.str());
  torch::jit::Module back = torch::jit::load(in);
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({2, s.in_channels, s.resolution, s.resolution});
  torch::Tensor want;
  {
    OnCpu guard(net);
    want = net.forward(x);
  }
  torch::Tensor got = back.forward({x}).toTensor();
  double scale = std::max(1.0, want.abs().max().item<double>());
  r.max_abs_diff = (got - want).abs().max().item<double>();
  r.tolerance = (info.fold_bn ? 1e-4 : 1e-5) * scale;
  if (!(r.max_abs_diff <= r.tolerance))
    throw Error(ExitCode::kRuntime, fmt::format("{}: not written: the exported model differs from netadj's by {:.3g} "
                                                "(tolerance {:.3g})",
                                                out, r.max_abs_diff, r.tolerance));
  r.card["check"] = {{"max_abs_diff", r.max_abs_diff}, {"tolerance", r.tolerance}, {"batch", 2}};
  if (onnx) write_file_atomic(r.onnx_file, to_onnx(net, info.fold_bn));
  if (ts) write_file_atomic(r.model_file, bytes.str());
  write_json_atomic(r.card_file, r.card);
  return r;
}

Latency time_forward(const std::function<void()>& forward, const torch::Device& dev, int warmup, int reps) {
  using Clock = std::chrono::steady_clock;
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) forward();
  sync();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    forward();
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  Latency l;
  l.reps = reps;
  if (!ms.empty()) {
    l.median_ms = median(ms);
    l.p90_ms = ms[std::min(ms.size() - 1, size_t(std::ceil(0.9 * double(ms.size())) - 1))];
  }
  return l;
}

Latency measure_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps) {
  torch::manual_seed(0);
  GraphNet net(spec);
  net->to(dev);
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({batch, spec.in_channels, spec.resolution, spec.resolution}, torch::TensorOptions(dev));
  Latency l = time_forward([&] { net->forward(x); }, dev, warmup, reps);
  l.batch = batch;
  return l;
}

namespace {

// A freshly allocated export of `spec` (seeded weights) on `dev` and a random input batch for it, to be timed.
struct TimedExport {
  torch::jit::Module module;
  std::vector<torch::jit::IValue> input;
};
TimedExport timed_export(const ArchSpec& spec, const torch::Device& dev, int batch, bool fold_bn) {
  torch::manual_seed(0);
  GraphNet net(spec);
  net->eval();
  TimedExport e{to_torchscript(*net, fold_bn), {}};
  e.module.to(dev);
  e.input.emplace_back(
      torch::randn({batch, spec.in_channels, spec.resolution, spec.resolution}, torch::TensorOptions(dev)));
  return e;
}

}  // namespace

// Each instance is a module of its own (its weights allocated anew): on a CPU the same network's median moves by
// up to a third from one allocation to the next (where its weights land in memory), so one instance says more
// about its allocation than about the widths.
Latency measure_export_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps,
                               bool fold_bn, int instances) {
  torch::NoGradGuard no_grad;
  std::vector<double> medians, p90s;
  for (int k = 0; k < std::max(1, instances); ++k) {
    TimedExport e = timed_export(spec, dev, batch, fold_bn);
    const Latency one = time_forward([&] { e.module.forward(e.input); }, dev, warmup, reps);
    medians.push_back(one.median_ms);
    p90s.push_back(one.p90_ms);
  }
  std::sort(medians.begin(), medians.end());
  std::sort(p90s.begin(), p90s.end());
  Latency l;
  l.median_ms = medians[medians.size() / 2];
  l.p90_ms = p90s[p90s.size() / 2];
  l.reps = reps * std::max(1, instances);
  l.batch = batch;
  return l;
}

namespace {

// One round of interleaved timings: every spec's export built anew (a fresh allocation), each spec's median.
std::vector<double> interleaved_round(const std::vector<ArchSpec>& specs, const torch::Device& dev, int batch,
                                      int warmup, int reps, std::mt19937_64& rng) {
  std::vector<TimedExport> nets;
  for (const ArchSpec& s : specs) nets.push_back(timed_export(s, dev, batch, true));
  for (TimedExport& n : nets)
    for (int i = 0; i < warmup; ++i) n.module.forward(n.input);
  std::vector<std::vector<double>> ms(specs.size());
  std::vector<size_t> order(specs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  for (int r = 0; r < reps; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    // Two untimed calls first, then three timed ones: they find the network's weights in cache and the CPU in the
    // state a deployment calling one network over and over leaves it (not as the previous network left them).
    for (size_t k : order) {
      const Latency l = time_forward([&] { nets[k].module.forward(nets[k].input); }, dev, 2, 3);
      ms[k].push_back(l.median_ms);
    }
  }
  std::vector<double> out;
  for (const auto& v : ms) out.push_back(median(v));
  return out;
}

}  // namespace

// Over kLatencyInstances rounds, each with every network allocated anew: a spec's latency is the median of its
// rounds' medians, so where one allocation's weights landed does not decide it.
std::vector<double> interleaved_latency(const std::vector<ArchSpec>& specs, const torch::Device& dev, int batch,
                                        int warmup, int reps, uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> rounds(specs.size());
  const int per_round = std::max(1, (reps + kLatencyInstances - 1) / kLatencyInstances);
  for (int i = 0; i < kLatencyInstances; ++i) {
    const std::vector<double> ms = interleaved_round(specs, dev, batch, warmup, per_round, rng);
    for (size_t k = 0; k < specs.size(); ++k) rounds[k].push_back(ms[k]);
  }
  std::vector<double> out;
  for (const auto& v : rounds) out.push_back(median(v));
  return out;
}

void keep_onednn_kernels() {
  if (!std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")) setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384", 0);
}

}  // namespace netadj
