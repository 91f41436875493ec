// ONNX export (see onnx.h): each op writes its nodes (OpDef::onnx, ir/lower.h) from the parameters its TorchScript
// form registered.
#include "netadj/backends/onnx.h"

#include <fmt/format.h>
#include <torch/script.h>

#include <cctype>
#include <map>
#include <optional>

#include "netadj/backends/torchscript.h"
#include "netadj/util/error.h"
#include "netadj/util/protobuf.h"

namespace netadj {

namespace {

// onnx.proto field numbers and enums.
enum : int { kFloat = 1, kInt64 = 7 };  // TensorProto.DataType
constexpr int kIrVersion = 8;           // ONNX 1.10+, for opset 17

using Attr = OnnxAttr;

ProtoWriter attribute(const Attr& a) {
  ProtoWriter p;
  p.bytes(1, a.name);
  if (a.type == Attr::kFloat) p.float32(2, a.f);
  if (a.type == Attr::kInt) p.varint(3, a.i);
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
  OnnxWriter(const ArchSpec& spec, const torch::jit::Module& m) : s_(spec), m_(m) {
    for (const auto& p : m.named_parameters(/*recurse=*/false)) params_[p.name] = p.value;
  }
  std::string run() {
    for (size_t i = 0; i < s_.ops.size(); ++i) {
      Emit e(*this, i);
      op_def(s_.ops[i].kind).onnx(e);
      names_.push_back(e.out);
    }
    const std::string out = g_.node("Identity", {names_.back()}, "logits");
    return g_.serialize(s_, out);
  }

 private:
  class Emit final : public OnnxEmit {
   public:
    Emit(OnnxWriter& w, size_t i) : OnnxEmit(w.s_, i), w_(w), g_(w.g_) {}
    std::string in(size_t k) const override { return w_.names_[size_t(op.inputs.at(k))]; }
    std::string node(const std::string& type, const std::vector<std::string>& inputs, const std::string& name,
                     const std::vector<OnnxAttr>& attrs) override {
      return g_.node(type, inputs, name, attrs);
    }
    std::string tensor(const std::string& name, const torch::Tensor& t) override { return g_.tensor(name, t); }
    std::string ints(const std::string& base, const std::vector<int64_t>& v) override { return g_.ints(base, v); }
    std::string scalar(const std::string& base, float v) override { return g_.scalar(base, v); }
    std::optional<torch::Tensor> param(const std::string& role) const override {
      auto it = w_.params_.find(fmt::format("a{}_{}", index, role));
      return it == w_.params_.end() ? std::nullopt : std::optional<torch::Tensor>(it->second);
    }
    std::string weight(const std::string& role) override {
      auto t = param(role);
      if (!t) throw Error(ExitCode::kRuntime, fmt::format("ONNX export: op {} has no parameter {}", index, role));
      return g_.tensor(fmt::format("a{}_{}", index, role), *t);
    }
    // BatchNorm in eval mode (prefix "bn_" or "pre_"), or its folded per-channel scale and shift.
    std::string batch_norm(const std::string& x, const std::string& prefix) override {
      if (param(prefix + "s"))
        return node("Add", {node("Mul", {x, weight(prefix + "s")}, v() + "_s", {}), weight(prefix + "t")}, v() + "_t",
                    {});
      const double eps = w_.m_.attr(fmt::format("a{}_{}eps_", index, prefix)).toDouble();
      return node("BatchNormalization",
                  {x, weight(prefix + "w"), weight(prefix + "b"), weight(prefix + "rm"), weight(prefix + "rv")},
                  v() + "_bn", {Attr::real("epsilon", float(eps))});
    }

   private:
    OnnxWriter& w_;
    Graph& g_;
  };

  const ArchSpec& s_;
  const torch::jit::Module& m_;
  std::map<std::string, torch::Tensor> params_;
  std::vector<std::string> names_;  ///< per op, the value holding its output
  Graph g_;
};

}  // namespace

std::string to_onnx(GraphNetImpl& net, bool fold_bn) {
  torch::NoGradGuard no_grad;
  const torch::jit::Module m = to_torchscript(net, fold_bn);
  std::string model = OnnxWriter(net.spec(), m).run();
  // Protobuf messages stop at 2 GiB; larger models need ONNX's external data files, which this writer has not.
  if (model.size() >= (size_t(1) << 31))
    throw ConfigError(
        fmt::format("ONNX export: the model is {:.2f} GiB, over protobuf's 2 GiB limit for one file "
                    "(external data is not written); export TorchScript instead",
                    double(model.size()) / double(size_t(1) << 30)));
  return model;
}

}  // namespace netadj
