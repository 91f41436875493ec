#include "netadj/backends/torchscript.h"

#include <fmt/format.h>
#include <torch/script.h>

#include <cctype>

namespace netadj {

namespace {

// Writes each op's parameters into the TorchScript module and its lines into forward()'s source.
class Emit final : public ScriptEmit {
 public:
  Emit(torch::jit::Module& m, const GraphNetImpl& net, size_t i, bool fold_bn, std::string& src)
      : ScriptEmit(net.spec(), i, net.node(i), fold_bn), m_(m), net_(net), src_(src) {}
  void line(const std::string& l) override { src_ += "    " + l + "\n"; }
  void param(const std::string& role, const torch::Tensor& t) override {
    m_.register_parameter(fmt::format("a{}_{}", index, role), t.detach().to(torch::kCPU).contiguous().clone(), false);
  }
  void eps(const std::string& prefix, double e) override {
    m_.register_attribute(fmt::format("a{}_{}eps_", index, prefix), c10::FloatType::get(), e);
  }
  const OpModules& node(size_t j) const override { return net_.node(j); }

 private:
  torch::jit::Module& m_;
  const GraphNetImpl& net_;
  std::string& src_;
};

std::string tensor_module_name(const std::string& arch) {
  std::string n = arch;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return "__torch__.netadj." + n;
}

}  // namespace

torch::jit::Module to_torchscript(GraphNetImpl& net, bool fold_bn) {
  torch::NoGradGuard no_grad;
  const ArchSpec& spec = net.spec();
  torch::jit::Module m(tensor_module_name(spec.arch));
  std::string src = "def forward(self, x: Tensor) -> Tensor:\n";
  for (size_t i = 0; i < spec.ops.size(); ++i) {
    Emit e(m, net, i, fold_bn, src);
    op_def(spec.ops[i].kind).script(e);
  }
  src += "    return v" + std::to_string(spec.ops.size() - 1) + "\n";
  m.define(src);
  m.eval();
  return m;
}

}  // namespace netadj
