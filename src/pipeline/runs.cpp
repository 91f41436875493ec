// The runs that commands start: a training into a run directory and the TorchScript export of its model.
#include "netadj/pipeline/runs.h"

#include <fmt/ranges.h>

#include "netadj/backends/onnx.h"
#include "netadj/distributed/distributed.h"
#include "netadj/nets/table.h"
#include "netadj/train/pretrained.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {

namespace {

TrainPlan train_plan(const Config& cfg, const RunDir& dir) {
  TrainPlan plan;
  plan.epochs = cfg.train.epochs;
  plan.train_split = cfg.train.full_train ? Split::kTrainFull : Split::kTrain;
  // Re-training on train+val leaves no validation split: the test set is evaluated at the end (and each
  // epoch only with train.eval_test_each_epoch); it is never used to select anything.
  plan.eval_split = cfg.train.full_train ? std::nullopt : std::optional<Split>(Split::kVal);
  plan.seed = derive_seed(uint64_t(cfg.runtime.seed), "train", 0);
  plan.checkpoint = dir.file("checkpoint.pt");
  plan.metrics_file = dir.file("metrics.jsonl");
  if (dir.writes()) plan.events_dir = dir.path();
  return plan;
}

}  // namespace

TrainRecord train_run(const RunSession& session, const RunDir& dir) {
  const Config& cfg = session.config();
  ArchSpec spec = session.spec();
  logger()->info("train {} channels {} FLOPs {} params {} on {}", cfg.model.arch, fmt::join(spec.channels, ","),
                 spec_flops(spec), spec_params(spec), session.device().str());
  torch::manual_seed(derive_seed(uint64_t(cfg.runtime.seed), "init", 0));
  GraphNet net(spec);
  pin_weights(session.weights(), dir);
  if (!cfg.model.weights.empty()) {  // fine-tuning (a checkpoint of this run replaces these weights)
    load_pretrained(cfg.model, net);
    logger()->info("starting from the weights in {}", cfg.model.weights);
  }
  Trainer trainer(trainer_options(cfg), session.data(), session.device());
  TrainPlan plan = train_plan(cfg, dir);
  plan.world = &session.world();
  TrainResult r = trainer.run(net, plan);
  if (dir.writes()) save_model(net, cfg.model, dir.file("model.pt"), session.data().normalization());
  TrainRecord rec{cfg.model.arch,
                  spec.channels,
                  spec_flops(spec),
                  spec_params(spec),
                  plan.epochs,
                  split_name(plan.train_split),
                  r.final_eval,
                  r.test,
                  r.seconds,
                  session.world().size(),
                  session.world().backend()};
  dir.write_record("result.json", rec);
  export_run_model(session, *net, cfg.model, dir);  // after the record: a failed export loses no training
  logger()->info("test top1 {:.2f}% top5 {:.2f}% | FLOPs {} | params {} | {}", 100 * r.test->top1, 100 * r.test->top5,
                 human_count(double(rec.flops)), human_count(double(rec.params)), dir.file("result.json"));
  return rec;
}

ExportInfo export_info(const RunSession& session, const ModelOptions& m, bool fold_bn, ExportFormat format) {
  const Config& cfg = session.config();
  ExportInfo info;
  info.model = m;
  info.mean = session.data().mean();
  info.std = session.data().std();
  info.dataset = cfg.data.dataset;
  info.center_crop = cfg.data.dataset == "imagefolder";
  info.fold_bn = fold_bn;
  info.format = format;
  return info;
}

void export_run_model(const RunSession& session, GraphNetImpl& net, const ModelOptions& m, const RunDir& dir) {
  const ExportOptions& o = session.config().exporting;
  if (!o.enabled || !dir.writes()) return;
  dir.make_dirs("export");
  ExportResult r = export_model(net, export_info(session, m, o.fold_bn, o.format), dir.file("export/model.pt"));
  if (!r.model_file.empty())
    logger()->info("exported TorchScript {} (max |diff| {:.2g} against netadj's forward)", r.model_file,
                   r.max_abs_diff);
  if (!r.onnx_file.empty()) logger()->info("exported ONNX {} (opset {}, dynamic batch)", r.onnx_file, kOnnxOpset);
  logger()->info("model card {}", r.card_file);
}

}  // namespace netadj
