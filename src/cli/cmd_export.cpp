// netadj export: a trained network as a TorchScript file (torch.jit.load in Python or LibTorch, without
// netadj) and its model.json (architecture, channels, input and normalization).
#include <fmt/ranges.h>

#include <iostream>

#include "netadj/backends/export.h"
#include "netadj/cli/command.h"
#include "netadj/nets/table.h"
#include "netadj/pipeline/runs.h"
#include "netadj/run/session.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"

namespace netadj::cli {
namespace {

struct ExportArgs {
  ConfigArgs config;
  std::string checkpoint, channels, out = "model.pt", format;
  bool fold_bn = false;
};

int run_export(const ExportArgs& a) {
  if (a.config.config.empty())
    throw ConfigError(
        "export needs --config: the run's config gives the dataset whose normalization goes "
        "into model.json");
  Config cfg = load_config(a.config);
  ModelOptions m;
  GraphNet net = load_model(a.checkpoint, m);  // its own architecture and widths
  if (m.arch != cfg.model.arch)
    throw DataError(a.checkpoint + ": holds a " + m.arch + " network, but the config's model.arch is " +
                    cfg.model.arch);
  if (!a.channels.empty()) {
    std::vector<int64_t> want = read_channel_file(a.channels, m);
    if (want != net->spec().channels)
      throw DataError(fmt::format("{}: its channels [{}] are not those of {} [{}]", a.checkpoint,
                                  fmt::join(net->spec().channels, ","), a.channels, fmt::join(want, ",")));
  }
  cfg.model = m;
  cfg.model.weights = a.checkpoint;  // its recorded normalization, when it has one, else the dataset's
  RunSession session(cfg);           // the model checked against the data
  auto slash = a.out.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_dirs(a.out.substr(0, slash));
  ExportFormat format = cfg.exporting.format;
  const auto names = enum_names<ExportFormat>();  // --format is one of them (checked by the parser)
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == a.format) format = static_cast<ExportFormat>(i);
  ExportResult r = export_model(*net, export_info(session, m, a.fold_bn, format), a.out);
  std::cout << nlohmann::json{{"model", r.model_file},
                              {"onnx", r.onnx_file},
                              {"card", r.card_file},
                              {"arch", m.arch},
                              {"channels", net->spec().channels},
                              {"fold_bn", a.fold_bn},
                              {"max_abs_diff", r.max_abs_diff},
                              {"tolerance", r.tolerance}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace

Command export_command() {
  return {"export", "write a trained network as TorchScript (model.pt) and/or ONNX with its model.json",
          [](CLI::App& app) -> Run {
            auto a = std::make_shared<ExportArgs>();
            add_config_options(app, a->config);
            app.add_option("--checkpoint", a->checkpoint, "model.pt or checkpoint.pt from train/search")->required();
            app.add_option("--channels", a->channels, "channel file the checkpoint must match (optional check)");
            app.add_option("--out,-o", a->out, "file to write (model.pt; model.onnx and model.json go beside it)")
                ->capture_default_str();
            app.add_option("--format", a->format, "torchscript, onnx or both (default: the config's export.format)")
                ->check(CLI::IsMember({"torchscript", "onnx", "both"}));
            app.add_flag("--fold-bn", a->fold_bn, "fold BatchNorm into the convolutions");
            return [a] { return run_export(*a); };
          }};
}

}  // namespace netadj::cli
