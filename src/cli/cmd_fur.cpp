// netadj fur: the per-layer FLOPs utilization ratio of a trained network, on the validation split.
#include <fmt/format.h>

#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/distributed/distributed.h"
#include "netadj/run/session.h"
#include "netadj/search/search.h"

namespace netadj::cli {
namespace {

struct FurArgs {
  ConfigArgs config;
  std::string checkpoint;
  bool json = false;
};

void print_fur_table(const FurResult& r, const ArchSpec& s, FurMetric metric) {
  std::cout << fmt::format("base ({}): loss {:.4f} top1 {:.2f}% on {} images; metric {}\n", "val", r.base.loss,
                           100 * r.base.top1, r.base.n, enum_name(metric));
  std::cout << fmt::format("{:<4} {:<18} {:>6} {:>8} {:>11} {:>10} {:>5}\n", "l", "layer", "c", "p", "FUR", "stderr",
                           "rank");
  for (size_t l = 0; l < s.channels.size(); ++l)
    std::cout << fmt::format("{:<4} {:<18} {:>6} {:>8.4f} {:>11.5f} {:>10.5f} {:>5}\n", l, s.layers[l].name,
                             s.channels[l], r.plan.p[l], r.fur[l], r.stderr_[l], r.rank[l]);
}

int run_fur(const FurArgs& a) {
  Config cfg = load_config(a.config);
  GraphNet net = load_model(a.checkpoint, cfg.model);  // the checkpoint's architecture and widths
  cfg.model.weights = a.checkpoint;                    // and its recorded normalization
  RunSession session(cfg);
  net->to(session.device());
  auto val = session.eval_loader(Split::kVal);
  FurResult r =
      estimate_fur(net, *val, cfg.fur, session.device(), session.amp(),
                   derive_seed(uint64_t(cfg.runtime.seed), "fur-iter", 0), {}, nullptr, std::nullopt, session.world());
  if (!session.world().root()) return 0;  // rank 0 prints the table
  if (a.json)
    std::cout << nlohmann::json(fur_record(r, net->spec())).dump() << "\n";
  else
    print_fur_table(r, net->spec(), cfg.fur.metric);
  return 0;
}

}  // namespace

Command fur_command() {
  return {"fur", "per-layer FLOPs utilization ratio of a trained network", [](CLI::App& app) -> Run {
            auto a = std::make_shared<FurArgs>();
            add_config_options(app, a->config);
            app.add_option("--checkpoint", a->checkpoint, "model.pt or checkpoint.pt from train/search")->required();
            app.add_flag("--json", a->json, "JSON output");
            add_nproc_option(app);
            return [a] { return run_fur(*a); };
          }};
}

}  // namespace netadj::cli
