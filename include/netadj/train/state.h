#pragma once
// TrainState: what a training carries from step to step, and the one place that saves, loads and
// broadcasts it. A checkpoint is this state: the network's weights and buffers, the optimizer, the fp16 loss
// scaler, the epochs done (their metrics) and, written inside an epoch, the position in it and the random
// generators' states. A new piece of state (an EMA of the weights, a loss term's buffer) is one edit here:
// a member, and a line in save(), load() and broadcast().
#include <torch/torch.h>

#include <string>
#include <vector>

#include "netadj/backends/model.h"
#include "netadj/records/records.h"
#include "netadj/train/sgd.h"

namespace netadj {
namespace dist {
class World;
}

class TrainState {
 public:
  /// `scaler` is null unless training in fp16; `device` is where the network trains.
  TrainState(GraphNet& net, Sgd& opt, GradScaler* scaler, torch::Device device);

  /// The epochs done, each with its metrics.
  std::vector<EpochRecord> history;
  /// The epoch in progress (or next) and, when step > 0, its running sums over all ranks.
  EpochPosition position;

  /// Writes the state to checkpoint `path` (save_archive, keep_previous as there), with `model` recorded so
  /// that load_model rebuilds the network. Inside an epoch (position.step > 0) the random generators' states
  /// go along. IoError when the write fails.
  void save(const std::string& path, bool keep_previous, const ModelOptions& model) const;

  /// What load() could not restore.
  struct Loaded {
    bool generators = true;  ///< false: written on another kind of device (its device_type), new masks follow
    std::string written_on;  ///< the checkpoint's device type
  };
  /// Replaces the state with checkpoint `path`: DamagedFile when it is truncated or corrupted (the caller may
  /// fall back to previous_checkpoint), DataError (exit 3) naming the file when it is another kind of file or
  /// its record is malformed, ConfigError for a record of another schema_version.
  Loaded load(const std::string& path);

  /// Every rank takes rank 0's weights and buffers, and the ranks check that they stand at the same epoch
  /// and step (they read the same checkpoint): DistError naming both positions otherwise. `where` prefixes
  /// the message ("iter 3: ").
  void broadcast(const dist::World& world, const std::string& where) const;

 private:
  GraphNet& net_;
  Sgd& opt_;
  GradScaler* scaler_;
  torch::Device device_;
};

}  // namespace netadj
