#pragma once
// RunSession: what every command that trains or evaluates sets up once, in one place: the validated
// config, the device, the dataset (loaded and split once) and the input resolution.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "netadj/config/config.h"
#include "netadj/data/data.h"
#include "netadj/distributed/distributed.h"
#include "netadj/nets/spec.h"
#include "netadj/records/records.h"

namespace netadj {
class RunSession {
 public:
  /// Joins the data-parallel job the environment describes (join_world), unless `world` is given (a
  /// command that makes several sessions shares one world); picks this rank's device, loads the dataset,
  /// checks the model against it (channels, classes) and fixes model.resolution; warns when an
  /// architecture meets a resolution far from its design. With model.weights, reads them once (checksum,
  /// format) and gives the dataset their input normalization.
  explicit RunSession(Config cfg, std::shared_ptr<const dist::World> world = nullptr);

  const Config& config() const { return cfg_; }
  const torch::Device& device() const { return device_; }
  const DataModule& data() const { return *data_; }
  AmpMode amp() const { return amp_; }
  int resolution() const { return cfg_.model.resolution; }

  /// The spec of the config's model (its channels or the defaults), or of another channel vector.
  ArchSpec spec() const;
  ArchSpec spec(const std::vector<int64_t>& channels) const;
  /// Evaluation batches of a split (eval.batch_size, no augmentation).
  std::unique_ptr<BatchSource> eval_loader(Split s) const;
  /// The data-parallel ranks this process belongs to (a world of one without RANK in the environment).
  const dist::World& world() const { return *world_; }
  std::shared_ptr<const dist::World> shared_world() const { return world_; }
  /// The checks of a command that trains: train.batch_size (the global batch) divides among the ranks.
  /// ConfigError naming the key otherwise.
  void check_trainable() const;
  /// model.weights as read when the session began (path empty without them): pin_weights records it.
  const WeightsRecord& weights() const { return weights_; }

 private:
  Config cfg_;
  std::shared_ptr<const dist::World> world_;
  torch::Device device_;
  std::unique_ptr<DataModule> data_;
  AmpMode amp_;
  WeightsRecord weights_;
};

/// The run context's view of the environment, the one place netadj reads torchrun's variables (RANK,
/// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT): joins the job they describe (this
/// rank's device, the process group: Gloo on the CPU, NCCL on CUDA; on ranks other than 0 no writing and
/// warnings-only logging), or returns a world of one when RANK is not set. Call it once per command; the
/// process group ends with the last copy of the pointer.
std::shared_ptr<const dist::World> join_world(const Config& cfg);
/// WORLD_SIZE when this process was started as a rank of a job (RANK set), else 0.
int started_ranks();

}  // namespace netadj
