#pragma once
// What an op becomes: the contexts the op table's definitions (ir/op.h) lower into. Each op says, in its own
// file, which modules it builds, how it runs, and its TorchScript and ONNX forms; the backends
// (backends/model.cpp, torchscript.cpp, onnx.cpp) walk the spec and implement these contexts. The TorchScript
// module's parameters are named a<op>_<role> (script() registers them); the ONNX writer reads them back by role
// through OnnxEmit::param, so an op's two exports agree in one file.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "netadj/ir/op.h"

namespace netadj {

/// The LibTorch modules of one op (null where the op has none). Warm start and imported weights read them.
struct OpModules {
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

/// Building op `index`'s modules on the network `owner`, registered as op<index>_<op name> plus a suffix
/// (checkpoints hold these names).
class ModuleBuild {
 public:
  ModuleBuild(torch::nn::Module& owner, const ArchSpec& spec, size_t index, OpModules& m);
  const ArchSpec& spec;
  const size_t index;
  const Op& op;
  OpModules& m;
  /// The width of the op's k-th input.
  int64_t in_width(size_t k = 0) const { return input_width(spec, op, k).value; }
  template <class Holder>
  Holder add(const std::string& suffix, Holder h) {
    owner_.register_module(name_ + suffix, h);
    return h;
  }

 private:
  torch::nn::Module& owner_;
  std::string name_;
};

/// Running one op in a forward pass: its inputs (the channel drops on them applied) and what the network
/// provides. The op sets `out`.
class OpRun {
 public:
  OpRun(const Op& op, OpModules& m, const std::vector<torch::Tensor>& in) : op(op), m(m), in(in) {}
  virtual ~OpRun() = default;
  const Op& op;
  OpModules& m;
  const std::vector<torch::Tensor>& in;
  torch::Tensor out;

  virtual bool training() const = 0;
  /// BatchNorm `bn` on x: in training synchronised across ranks where the network is set so (train.sync_bn).
  virtual torch::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x) = 0;
  /// A conv or linear ran: the MACs of its output `y` from its weight `w` go to a traced forward's count.
  virtual void record(const std::string& name, const torch::Tensor& w, const torch::Tensor& y) = 0;
};

/// x with `want` channels: zero channels in front when it has fewer, its first `want` when more (the
/// reference code's zero-padded shortcut).
torch::Tensor fit_channels(const torch::Tensor& x, int64_t want);
/// The same as a TorchScript expression of `x` (which has `have` channels).
std::string fit_channels_source(const std::string& x, int64_t have, int64_t want);

/// Per channel, bn(x) = x * scale + shift in eval mode.
struct FoldedBn {
  torch::Tensor scale, shift;
};
FoldedBn fold(const torch::nn::BatchNorm2d& bn);

/// Writing one op into the TorchScript module: parameters a<index>_<role>, lines of forward() (in eval mode;
/// with fold_bn a BatchNorm that can fold is gone into its conv).
class ScriptEmit {
 public:
  ScriptEmit(const ArchSpec& spec, size_t index, const OpModules& m, bool fold_bn)
      : spec(spec), index(index), op(spec.ops.at(index)), m(m), fold_bn(fold_bn) {}
  virtual ~ScriptEmit() = default;
  const ArchSpec& spec;
  const size_t index;
  const Op& op;
  const OpModules& m;
  const bool fold_bn;

  std::string v() const { return "v" + std::to_string(index); }
  /// The variable holding the op's k-th input.
  std::string in(size_t k = 0) const { return "v" + std::to_string(op.inputs.at(k)); }
  /// The expression naming parameter `role` ("self.a<index>_<role>").
  std::string attr(const std::string& role) const { return "self.a" + std::to_string(index) + "_" + role; }
  /// Appends `v<index> = expr`.
  void set(const std::string& expr) { line(v() + " = " + expr); }

  virtual void line(const std::string& l) = 0;
  virtual void param(const std::string& role, const torch::Tensor& t) = 0;
  virtual void eps(const std::string& prefix, double e) = 0;
  /// The modules of op j (a BatchNorm op that folds into this one).
  virtual const OpModules& node(size_t j) const = 0;

  /// `bn` on x registered under `prefix` (w, b, rm, rv, eps_), or with `folded` as x * s + t: the expression.
  std::string batch_norm(const std::string& x, const std::string& prefix, const torch::nn::BatchNorm2d& bn,
                         bool folded);
};

/// One ONNX attribute.
struct OnnxAttr {
  enum Type { kFloat = 1, kInt = 2, kInts = 7 };  // AttributeProto.AttributeType
  std::string name;
  Type type = kInt;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  static OnnxAttr integer(const std::string& n, int64_t v) { return {n, kInt, v, 0, {}}; }
  static OnnxAttr real(const std::string& n, float v) { return {n, kFloat, 0, v, {}}; }
  static OnnxAttr list(const std::string& n, std::vector<int64_t> v) { return {n, kInts, 0, 0, std::move(v)}; }
};

/// Writing one op into the ONNX graph (opset 17), from the parameters its script() registered.
class OnnxEmit {
 public:
  OnnxEmit(const ArchSpec& spec, size_t index) : spec(spec), index(index), op(spec.ops.at(index)) {}
  virtual ~OnnxEmit() = default;
  const ArchSpec& spec;
  const size_t index;
  const Op& op;
  std::string out;  ///< set by the op: the value holding its output

  std::string v() const { return "v" + std::to_string(index); }
  /// The value holding the op's k-th input.
  virtual std::string in(size_t k = 0) const = 0;
  /// A node with one output named after `name` (made unique): the output's name.
  virtual std::string node(const std::string& type, const std::vector<std::string>& inputs, const std::string& name,
                           const std::vector<OnnxAttr>& attrs = {}) = 0;
  /// Initializers: a float tensor (named `name`), an int64 vector and a float scalar (named after `base`).
  virtual std::string tensor(const std::string& name, const torch::Tensor& t) = 0;
  virtual std::string ints(const std::string& base, const std::vector<int64_t>& v) = 0;
  virtual std::string scalar(const std::string& base, float v) = 0;
  /// The op's TorchScript parameter `role`, if registered.
  virtual std::optional<torch::Tensor> param(const std::string& role) const = 0;
  /// A registered parameter as an initializer (an error when the op has none of that role).
  virtual std::string weight(const std::string& role) = 0;
  /// The BatchNorm registered under `prefix` (plain, or folded to a scale and shift) on x.
  virtual std::string batch_norm(const std::string& x, const std::string& prefix) = 0;
  /// fit_channels: zero channels in front, or the first `want`.
  std::string fit(const std::string& x, int64_t have, int64_t want);
};

}  // namespace netadj
