#pragma once
// The training engine: the paper's recipe (SGD + momentum, cosine lr, SpatialDropout ramps, optional KD
// and label smoothing), AMP on CUDA, atomic per-epoch checkpoints and exact resume. Knows nothing about
// searching.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "netadj/backends/model.h"
#include "netadj/config/config.h"
#include "netadj/data/data.h"
#include "netadj/records/records.h"
#include "netadj/train/sgd.h"

namespace netadj {

/// Picks the device from runtime.device (auto = CUDA when available); applies thread and cuDNN settings.
torch::Device setup_device(const RuntimeOptions& r, int local_rank = 0, int local_world = 1);
/// kOff, kBf16 or kFp16 for this device (auto = bf16 on CUDA, off on CPU); never kAuto.
AmpMode resolve_amp(const RuntimeOptions& r, const torch::Device& d);

/// Whether to train in channels-last layout. "auto": always on CUDA (cuDNN); on the CPU only when every
/// searchable width is a multiple of 8: oneDNN's blocked kernels gain then, while widths like 17 or 83, which
/// the search produces, run slower than contiguous (docs/performance.md has the figures).
bool uses_channels_last(const RuntimeOptions& r, const torch::Device& d, const std::vector<int64_t>& widths);

/// Each rank's share of train.batch_size, which is the global batch: ConfigError naming the key when it does
/// not divide among `ranks`. The run context checks it before a run directory exists; the trainer uses it.
int rank_batch_size(const TrainOptions& t, int ranks);

/// The optimizer settings of the train section (momentum, weight decay, Nesterov).
SgdOptions sgd_options(const TrainOptions& t);

/// Learning rate at `step` (0-based, of steps_per_epoch per epoch): linear warmup from warmup_lr, then
/// cosine annealing from lr to lr_min over the remaining epochs (per epoch, or per step if per_step).
double lr_at(const TrainOptions& t, int epochs, int64_t step, int64_t steps_per_epoch);
/// Per-layer SpatialDropout rates in epoch `epoch` (0-based) of `epochs` for `layers` layers.
std::vector<double> drop_rates(const DropOptions& d, int epoch, int epochs, int layers);

namespace dist {
class World;
}

/// Evaluates with the model in eval mode (BN running stats) and whatever drop rates are set on it. With
/// `shards`, `src` holds this rank's share of the split and the sums are added over the ranks.
EvalResult evaluate(GraphNet& net, BatchSource& src, const torch::Device& dev, AmpMode amp,
                    const dist::World* shards = nullptr);
/// What evaluate() sums over batches (loss, top-1, top-5, count), on the device, for callers that compute
/// the logits themselves (FUR's prefix cache).
class EvalSums {
 public:
  explicit EvalSums(const torch::Device& dev);
  void add(const torch::Tensor& logits, const torch::Tensor& labels);
  EvalResult result(const dist::World* shards = nullptr) const;

 private:
  torch::Tensor loss_, top1_, top5_;
  int64_t n_ = 0;
};

struct TrainPlan {
  int epochs = 1;
  Split train_split = Split::kTrain;
  std::optional<Split> eval_split = Split::kVal;  ///< evaluated every epoch
  bool test_at_end = true;
  uint64_t seed = 0;                   ///< derives shuffling, augmentation and dropout streams
  std::string checkpoint;              ///< "" = no checkpoints; else written each epoch and resumed from
  std::string metrics_file;            ///< "" = none; else one JSON line per epoch
  std::string events_dir;              ///< "" = none; else this folder's TensorBoard events, a step per epoch
  std::string label;                   ///< shown in progress lines ("iter 3")
  int64_t max_steps = -1;              ///< stop after this many steps in total (benchmarks); -1 = all
  const dist::World* world = nullptr;  ///< the data-parallel ranks; null = a world of one
};

struct TrainResult {
  std::vector<EpochRecord> history;
  EvalResult final_eval;  ///< last epoch's eval split (the test result when there is none)
  std::optional<EvalResult> test;
  double seconds = 0;
  bool resumed = false;
};

/// What the trainer reads of a config: the recipe (train), the runtime (AMP, layout, logging), the
/// evaluation batch, and the model options each checkpoint records so that it rebuilds its network.
struct TrainerOptions {
  TrainOptions train;
  RuntimeOptions runtime;
  int eval_batch_size = 256;
  ModelOptions model;
};
TrainerOptions trainer_options(const Config& cfg);

class Trainer {
 public:
  Trainer(TrainerOptions options, const DataModule& data, torch::Device device);
  /// Trains `net` (freshly initialized by the caller) per `plan`; continues from plan.checkpoint when one
  /// exists (written at the end of each epoch, and mid-epoch on SIGINT/SIGTERM, after which it throws
  /// Interrupted). Throws NumericError on a non-finite loss (naming epoch and step).
  TrainResult run(GraphNet& net, const TrainPlan& plan);
  /// No training: `net` (trained weights, taken as they are) placed on the device as run() places it, and
  /// evaluated on plan.eval_split and, with test_at_end, the test split. Nothing is written.
  TrainResult evaluate_as_is(GraphNet& net, const TrainPlan& plan) const;

  AmpMode amp() const { return amp_; }
  const TrainerOptions& options() const { return options_; }
  const DataModule& data() const { return data_; }
  const torch::Device& device() const { return device_; }

 private:
  TrainerOptions options_;
  const DataModule& data_;
  torch::Device device_;
  AmpMode amp_;
};

/// Saves a model with its spec options so it can be rebuilt (teacher for KD, `netadj fur`, model.weights), and
/// the input normalization it was trained with (when given), which travels with its weights.
void save_model(GraphNet& net, const ModelOptions& m, const std::string& path, const Normalization& norm = {});
/// Loads a model saved by save_model or a training checkpoint; `m` receives the model options and `norm`
/// (when given) the recorded normalization (empty when the file has none).
GraphNet load_model(const std::string& path, ModelOptions& m, Normalization* norm = nullptr);

}  // namespace netadj
