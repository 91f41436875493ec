// ONNX export (see onnx.h): one graph node or a few per spec op, the walk of torchscript_source.
#include "netadj/backends/onnx.h"

#include <fmt/format.h>
#include <torch/script.h>

#include <cmath>
#include <map>
#include <optional>

#include "netadj/backends/torchscript.h"
#include "netadj/util/error.h"
#include "netadj/util/protobuf.h"

namespace netadj {

namespace {

// onnx.proto field numbers and enums.
enum : int { kFloat = 1, kInt64 = 7 };                       // TensorProto.DataType
enum : int { kAttrFloat = 1, kAttrInt = 2, kAttrInts = 7 };  // AttributeProto.AttributeType
constexpr int kIrVersion = 8;                                // ONNX 1.10+, for opset 17

struct Attr {
  std::string name;
  int type = kAttrInt;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
};
Attr attr_i(const std::string& n, int64_t v) { return {n, kAttrInt, v, 0, {}}; }
Attr attr_f(const std::string& n, float v) { return {n, kAttrFloat, 0, v, {}}; }
Attr attr_ints(const std::string& n, std::vector<int64_t> v) { return {n, kAttrInts, 0, 0, std::move(v)}; }

ProtoWriter attribute(const Attr& a) {
  ProtoWriter p;
  p.bytes(1, a.name);
  if (a.type == kAttrFloat) p.float32(2, a.f);
  if (a.type == kAttrInt) p.varint(3, a.i);
  for (int64_t v : a.ints) p.varint(8, v);  // repeated int64, unpacked as proto2 writes it
  return p.varint(20, a.type);
}

ProtoWriter value_info(const std::string& name, const std::vector<std::string>& dims) {
  ProtoWriter shape;
  for (const std::string& d : dims) {
    ProtoWriter dim;
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim.varint(1, std::stoll(d));
    else
      dim.bytes(2, d);
    shape.message(1, dim);
  }
  ProtoWriter tensor_type;
  tensor_type.varint(1, kFloat).message(2, shape);
  ProtoWriter type;
  type.message(1, tensor_type);
  return ProtoWriter().bytes(1, name).message(2, type);
}

class Graph {
 public:
  // A node with one output, named after `out` (made unique); returns the output's name.
  std::string node(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& out,
                   const std::vector<Attr>& attrs = {}) {
    const std::string name = fresh(out);
    ProtoWriter n;
    for (const std::string& in : inputs) n.bytes(1, in);
    n.bytes(2, name).bytes(3, name).bytes(4, op_type);
    for (const Attr& a : attrs) n.message(5, attribute(a));
    nodes_.message(1, n);
    return name;
  }
  std::string tensor(const std::string& name, const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    ProtoWriter p;
    for (int64_t d : c.sizes()) p.varint(1, d);
    p.varint(2, kFloat).bytes(8, name);
    p.bytes(9, std::string(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * sizeof(float)));
    inits_.message(5, p);
    return name;
  }
  std::string ints(const std::string& base, const std::vector<int64_t>& v) {
    const std::string name = fresh(base);
    ProtoWriter p;
    p.varint(1, int64_t(v.size())).varint(2, kInt64).bytes(8, name);
    p.bytes(9, std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
    inits_.message(5, p);
    return name;
  }
  std::string scalar(const std::string& base, float v) { return tensor(fresh(base), torch::tensor(v)); }
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12; ModelProto: ir_version = 1,
  // producer_name = 2, producer_version = 3, graph = 7, opset_import = 8.
  std::string serialize(const ArchSpec& s, const std::string& output) const {
    ProtoWriter io;
    io.bytes(2, "netadj_" + s.arch);
    io.message(11, value_info("input", {"N", std::to_string(s.in_channels), std::to_string(s.resolution),
                                        std::to_string(s.resolution)}));
    io.message(12, value_info(output, {"N", std::to_string(s.num_classes)}));
    const std::string graph = nodes_.str() + inits_.str() + io.str();
    ProtoWriter opset;
    opset.bytes(1, "").varint(2, kOnnxOpset);
    ProtoWriter model;
    model.varint(1, kIrVersion).bytes(2, "netadj").bytes(3, NETADJ_VERSION).bytes(7, graph).message(8, opset);
    return model.str();
  }

 private:
  std::string fresh(const std::string& base) {
    const int n = used_[base]++;
    return n == 0 ? base : fmt::format("{}_{}", base, n);
  }
  ProtoWriter nodes_, inits_;
  std::map<std::string, int> used_;
};

// The nodes of each op, reading the parameters that to_torchscript registered (a<op>_<role>).
class OnnxWriter {
 public:
  OnnxWriter(const ArchSpec& spec, const torch::jit::Module& m, bool fold_bn) : s_(spec), m_(m), fold_(fold_bn) {
    for (const auto& p : m.named_parameters(/*recurse=*/false)) params_[p.name] = p.value;
  }
  std::string run() {
    for (size_t i = 0; i < s_.ops.size(); ++i) names_.push_back(op(i));
    const std::string out = g_.node("Identity", {names_.back()}, "logits");
    return g_.serialize(s_, out);
  }

 private:
  std::optional<torch::Tensor> param(size_t i, const std::string& role) const {
    auto it = params_.find(fmt::format("a{}_{}", i, role));
    return it == params_.end() ? std::nullopt : std::optional<torch::Tensor>(it->second);
  }
  std::string weight(size_t i, const std::string& role) {
    auto t = param(i, role);
    if (!t) throw Error(ExitCode::kRuntime, fmt::format("ONNX export: op {} has no parameter {}", i, role));
    return g_.tensor(fmt::format("a{}_{}", i, role), *t);
  }
  std::string in(size_t i, size_t k = 0) const { return names_[size_t(s_.ops[i].inputs[k])]; }
  std::string v(size_t i) const { return "v" + std::to_string(i); }

  // BatchNorm in eval mode (prefix "bn_" or "pre_"), or its folded per-channel scale and shift.
  std::string batch_norm(const std::string& x, size_t i, const std::string& prefix) {
    if (param(i, prefix + "s"))
      return g_.node("Add", {g_.node("Mul", {x, weight(i, prefix + "s")}, v(i) + "_s"), weight(i, prefix + "t")},
                     v(i) + "_t");
    const double eps = m_.attr(fmt::format("a{}_{}eps_", i, prefix)).toDouble();
    return g_.node(
        "BatchNormalization",
        {x, weight(i, prefix + "w"), weight(i, prefix + "b"), weight(i, prefix + "rm"), weight(i, prefix + "rv")},
        v(i) + "_bn", {attr_f("epsilon", float(eps))});
  }
  std::string conv(size_t i) {
    const Op& op = s_.ops[i];
    std::string x = in(i);
    if (op.preact) x = g_.node("Relu", {batch_norm(x, i, "pre_")}, v(i) + "_pre");
    const int64_t groups = op.depthwise ? s_.ops[size_t(op.inputs[0])].out.value : op.groups;
    std::vector<std::string> inputs{x, weight(i, "w")};
    if (param(i, "b")) inputs.push_back(weight(i, "b"));
    const auto w = param(i, "w")->sizes();
    x = g_.node("Conv", inputs, v(i) + "_conv",
                {attr_ints("kernel_shape", {w[2], w[3]}), attr_ints("strides", {op.stride, op.stride}),
                 attr_ints("pads", {op.pad, op.pad, op.pad, op.pad}),
                 attr_ints("dilations", {op.dilation, op.dilation}), attr_i("group", groups)});
    if (op.bn && !fold_) x = batch_norm(x, i, "bn_");
    return op.relu ? g_.node("Relu", {x}, v(i)) : x;
  }
  // GraphNet::fit_channels: zero channels appended in front, or the first `want` kept.
  std::string fit(const std::string& x, int64_t have, int64_t want) {
    if (have == want) return x;
    if (have > want)
      return g_.node("Slice", {x, g_.ints("zero", {0}), g_.ints("want", {want}), g_.ints("axis1", {1})}, x + "_fit");
    return g_.node("Pad", {x, g_.ints("pads", {0, want - have, 0, 0, 0, 0, 0, 0})}, x + "_fit");
  }
  std::string add(size_t i) {
    const Op& op = s_.ops[i];
    std::string sum = fit(in(i, 0), s_.ops[size_t(op.inputs[0])].out.value, op.out.value);
    for (size_t k = 1; k < op.inputs.size(); ++k) {
      std::string b = in(i, k);
      if (k == 1) b = fit(b, s_.ops[size_t(op.inputs[1])].out.value, op.out.value);
      sum = g_.node("Add", {sum, b}, v(i) + "_add");
    }
    return op.relu ? g_.node("Relu", {sum}, v(i)) : sum;
  }
  std::string pool(size_t i, const char* type) {
    const Op& op = s_.ops[i];
    std::vector<Attr> a{attr_ints("kernel_shape", {op.kernel, op.kernel}), attr_ints("strides", {op.stride, op.stride}),
                        attr_i("ceil_mode", op.ceil)};
    if (std::string(type) == "MaxPool") {
      a.push_back(attr_ints("pads", {op.pad, op.pad, op.pad, op.pad}));
      return g_.node(type, {in(i)}, v(i), a);
    }
    // torch's average divides by the window's elements inside the zero-padded input (padding counted, what a
    // ceil-mode window runs past it not): the padding made explicit, then ONNX's count of real elements.
    std::string x = in(i);
    if (op.pad > 0)
      x = g_.node("Pad", {x, g_.ints("pads", {0, 0, op.pad, op.pad, 0, 0, op.pad, op.pad})}, v(i) + "_pad");
    a.push_back(attr_i("count_include_pad", 0));
    return g_.node(type, {x}, v(i), a);
  }
  std::string global_pool(size_t i) {
    const Op& op = s_.ops[i];
    std::string x = in(i);
    if (op.bn) x = g_.node("Relu", {batch_norm(x, i, "pre_")}, v(i) + "_pre");
    x = g_.node("GlobalAveragePool", {x}, op.keepdim ? v(i) : v(i) + "_gap");
    return op.keepdim ? x : g_.node("Flatten", {x}, v(i), {attr_i("axis", 1)});
  }
  std::string linear(size_t i) {
    std::string x = g_.node("Flatten", {in(i)}, v(i) + "_flat", {attr_i("axis", 1)});
    std::vector<std::string> inputs{x, weight(i, "w")};
    if (param(i, "b")) inputs.push_back(weight(i, "b"));
    return g_.node("Gemm", inputs, v(i), {attr_i("transB", 1)});
  }
  std::string squeeze_excite(size_t i) {
    const std::string x = in(i);
    std::string s = g_.node("GlobalAveragePool", {x}, v(i) + "_gap");
    s = g_.node("Relu", {g_.node("Conv", {s, weight(i, "se_rw"), weight(i, "se_rb")}, v(i) + "_r")}, v(i) + "_rr");
    s = g_.node("Sigmoid", {g_.node("Conv", {s, weight(i, "se_ew"), weight(i, "se_eb")}, v(i) + "_e")}, v(i) + "_g");
    return g_.node("Mul", {x, s}, v(i));
  }
  std::string activation(size_t i) {
    const std::string x = in(i), o = v(i);
    switch (s_.ops[i].act) {
      case Activation::kRelu:
        return g_.node("Relu", {x}, o);
      case Activation::kRelu6:
        return g_.node("Clip", {x, g_.scalar("zero_f", 0), g_.scalar("six_f", 6)}, o);
      case Activation::kSilu:
        return g_.node("Mul", {x, g_.node("Sigmoid", {x}, o + "_sig")}, o);
      case Activation::kHardswish:
        return g_.node("HardSwish", {x}, o);
      case Activation::kHardsigmoid:
        return g_.node("HardSigmoid", {x}, o, {attr_f("alpha", 1.0f / 6), attr_f("beta", 0.5f)});
      case Activation::kSigmoid:
        return g_.node("Sigmoid", {x}, o);
      case Activation::kGelu: {  // exact (erf) GELU: 0.5 x (1 + erf(x / sqrt 2))
        std::string e =
            g_.node("Erf", {g_.node("Div", {x, g_.scalar("sqrt2_f", float(std::sqrt(2.0)))}, o + "_d")}, o + "_erf");
        e = g_.node("Add", {e, g_.scalar("one_f", 1)}, o + "_1p");
        return g_.node("Mul", {g_.node("Mul", {x, e}, o + "_xe"), g_.scalar("half_f", 0.5f)}, o);
      }
    }
    return x;
  }
  // adaptive_avg_pool2d: output bin k averages rows [floor(k r / s), ceil((k + 1) r / s)); a multiple is an
  // AveragePool, any other size two MatMuls with that averaging matrix (A x A^T over the last two axes).
  std::string adaptive_pool(size_t i) {
    const Op& op = s_.ops[i];
    const int64_t r = s_.ops[size_t(op.inputs[0])].res, o = op.output_size;
    if (o == 1) return g_.node("GlobalAveragePool", {in(i)}, v(i));
    if (r % o == 0)
      return g_.node("AveragePool", {in(i)}, v(i),
                     {attr_ints("kernel_shape", {r / o, r / o}), attr_ints("strides", {r / o, r / o})});
    torch::Tensor a = torch::zeros({o, r});
    for (int64_t k = 0; k < o; ++k) {
      const int64_t lo = k * r / o, hi = ((k + 1) * r + o - 1) / o;
      a.index_put_({k, torch::indexing::Slice(lo, hi)}, 1.0 / double(hi - lo));
    }
    const std::string rows = g_.node("MatMul", {g_.tensor(v(i) + "_a", a), in(i)}, v(i) + "_rows");
    return g_.node("MatMul", {rows, g_.tensor(v(i) + "_at", a.t().contiguous())}, v(i));
  }
  // torch.channel_shuffle: [N, g, C/g, HW] -> [N, C/g, g, HW] -> [N, C, H, W].
  std::string shuffle(size_t i) {
    const Op& op = s_.ops[i];
    const int64_t c = op.out.value, g = op.groups, r = op.res;
    std::string x = g_.node("Reshape", {in(i), g_.ints("shape", {0, g, c / g, -1})}, v(i) + "_r");
    x = g_.node("Transpose", {x}, v(i) + "_t", {attr_ints("perm", {0, 2, 1, 3})});
    return g_.node("Reshape", {x, g_.ints("shape", {0, c, r, r})}, v(i));
  }
  std::string op(size_t i) {
    const Op& op = s_.ops[i];
    switch (op.kind) {
      case OpKind::kInput:
        return "input";
      case OpKind::kConv:
        return conv(i);
      case OpKind::kAdd:
        return add(i);
      case OpKind::kConcat: {
        std::vector<std::string> parts;
        for (size_t k = 0; k < op.inputs.size(); ++k) parts.push_back(in(i, k));
        return g_.node("Concat", parts, v(i), {attr_i("axis", 1)});
      }
      case OpKind::kAvgPool:
        return pool(i, "AveragePool");
      case OpKind::kMaxPool:
        return pool(i, "MaxPool");
      case OpKind::kGlobalPool:
        return global_pool(i);
      case OpKind::kLinear:
        return linear(i);
      case OpKind::kSqueezeExcite:
        return squeeze_excite(i);
      case OpKind::kBatchNorm:
        return param(i, "pre_s") || param(i, "pre_w") ? batch_norm(in(i), i, "pre_") : in(i);  // folded: gone
      case OpKind::kActivation:
        return activation(i);
      case OpKind::kMul:
        return g_.node("Mul", {in(i, 0), in(i, 1)}, v(i));
      case OpKind::kFlatten:
        return g_.node("Flatten", {in(i)}, v(i), {attr_i("axis", 1)});
      case OpKind::kAdaptivePool:
        return adaptive_pool(i);
      case OpKind::kShuffle:
        return shuffle(i);
      case OpKind::kIdentity:
        return in(i);
    }
    return in(i);
  }

  const ArchSpec& s_;
  const torch::jit::Module& m_;
  const bool fold_;
  std::map<std::string, torch::Tensor> params_;
  std::vector<std::string> names_;  ///< per op, the value holding its output
  Graph g_;
};

}  // namespace

std::string to_onnx(GraphNetImpl& net, bool fold_bn) {
  torch::NoGradGuard no_grad;
  const torch::jit::Module m = to_torchscript(net, fold_bn);
  std::string model = OnnxWriter(net.spec(), m, fold_bn).run();
  // Protobuf messages stop at 2 GiB; larger models need ONNX's external data files, which this writer has not.
  if (model.size() >= (size_t(1) << 31))
    throw ConfigError(
        fmt::format("ONNX export: the model is {:.2f} GiB, over protobuf's 2 GiB limit for one file "
                    "(external data is not written); export TorchScript instead",
                    double(model.size()) / double(size_t(1) << 30)));
  return model;
}

}  // namespace netadj
