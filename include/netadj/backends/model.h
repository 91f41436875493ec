#pragma once
// A LibTorch module built from an ArchSpec: it walks the spec's ops in order, so the network is exactly
// what the FLOPs function counts. Every searchable layer has a channel-drop point (SpatialDropout) after
// its BN (and ReLU where one follows) whose probability is module state set by the trainer or the FUR
// estimator; at probability 0 it costs nothing.
#include <torch/torch.h>

#include <vector>

#include "netadj/ir/lower.h"
#include "netadj/nets/spec.h"

namespace netadj {

/// SpatialDropout: one multiplier per (sample, channel); bernoulli keeps a channel with 1-p and scales it
/// by 1/(1-p), gaussian multiplies by N(1, p/(1-p)). Both keep the expectation. p = 0 returns x.
torch::Tensor channel_drop(const torch::Tensor& x, double p, DropType type);

/// What one conv/linear layer did in a traced forward pass (for independent FLOPs counting).
struct TraceRecord {
  std::string name;
  int64_t macs_per_sample = 0;
};

namespace dist {
class World;
}

class GraphNetImpl : public torch::nn::Module {
 public:
  explicit GraphNetImpl(ArchSpec spec);

  torch::Tensor forward(torch::Tensor x);

  /// The first op where slot `slot`'s channels are dropped: the first op that reads them from outside the slot's
  /// ops (on that input, Op::in_slot); -1 when none.
  int drop_op(int slot) const;
  /// forward() split at op `op` (a drop_op): forward_prefix runs the ops before `op` and returns what the rest
  /// needs (the outputs still used later; the others are undefined);
  /// forward_suffix applies the drops and runs the rest. forward_suffix(forward_prefix(x, op), op)
  /// equals forward(x), random draws included (ops before a drop point draw nothing). FUR runs the prefix
  /// once per batch and the suffix once per repeat. The prefix's tensors are never modified.
  std::vector<torch::Tensor> forward_prefix(torch::Tensor x, int op);
  torch::Tensor forward_suffix(std::vector<torch::Tensor> val, int op);

  const ArchSpec& spec() const { return spec_; }
  int num_slots() const { return static_cast<int>(spec_.channels.size()); }

  /// Per-slot drop probabilities (size num_slots, each in [0, 1)); applied in train and eval mode alike.
  void set_drop(const std::vector<double>& p, DropType type);
  /// Drop only at `slot` with probability p (FUR probing).
  void set_drop_at(int slot, double p, DropType type);
  void clear_drop();
  const std::vector<double>& drop() const { return drop_p_; }

  /// Puts 4-D weights in channels-last layout; forward() then converts its input to match (faster
  /// convolutions with cuDNN and with oneDNN on the CPU).
  void use_channels_last();
  bool channels_last() const { return channels_last_; }

  /// The modules of one op (null where the op has none), as its definition built them (ir/lower.h).
  using Node = OpModules;
  const Node& node(size_t op) const { return nodes_.at(op); }

  /// train.sync_bn: in training mode every BatchNorm normalizes with the statistics of the whole global
  /// batch, summed over `ranks` (null: each rank's own batch, as DDP does by default).
  void set_sync_bn(const dist::World* ranks) { sync_bn_ = ranks; }

  /// When set, forward() appends one record per conv/linear it runs.
  void set_trace(std::vector<TraceRecord>* sink) { trace_ = sink; }

 private:
  class Run;
  /// Output of op `i` from its inputs' values (channel drops on them already applied).
  torch::Tensor apply(size_t i, const std::vector<torch::Tensor>& in);
  /// x with slot `slot`'s channel drop: one mask per slot and forward pass, drawn at its first point.
  torch::Tensor slot_drop(const torch::Tensor& x, int slot);
  /// Runs ops [from, to) into `val`, freeing each value after its last consumer.
  void run_ops(std::vector<torch::Tensor>& val, size_t from, size_t to);
  torch::Tensor input(const torch::Tensor& x) const;
  void record(const std::string& name, const torch::Tensor& w, const torch::Tensor& out) const;

  ArchSpec spec_;
  std::vector<Node> nodes_;
  std::vector<int> last_use_;
  std::vector<double> drop_p_;
  std::vector<torch::Tensor> masks_;  ///< this forward pass's mask per slot ([N, C]; undefined until drawn)
  DropType drop_type_ = DropType::kBernoulli;
  const dist::World* sync_bn_ = nullptr;
  std::vector<TraceRecord>* trace_ = nullptr;
  bool channels_last_ = false;
};
TORCH_MODULE(GraphNet);

/// Number of trainable parameters of a module.
int64_t count_parameters(torch::nn::Module& m);

}  // namespace netadj
