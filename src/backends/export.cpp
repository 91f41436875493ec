#include "netadj/backends/export.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/version.h>

#include <sstream>

#include "netadj/backends/onnx.h"
#include "netadj/backends/torchscript.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using json = nlohmann::json;

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

}  // namespace netadj
