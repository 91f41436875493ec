#pragma once
// Data parallelism on PyTorch's c10d: the process group (Gloo on the CPU, NCCL on CUDA) joined through a
// TCPStore at MASTER_ADDR:MASTER_PORT, as torchrun sets it up. A process started without those
// variables is a world of one, and every collective below is then a no-op.
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netadj/util/error.h"

namespace c10d {
class Store;
}

namespace netadj::dist {

/// A collective failed: another rank stopped, the network broke, or it waited past dist.timeout_s.
struct DistError : Error {
  explicit DistError(const std::string& msg) : Error(ExitCode::kRuntime, msg) {}
};

/// What torchrun (or `--nproc`) tells a process about its place in the job.
struct Env {
  bool present = false;  ///< false: no RANK in the environment (a single process)
  int rank = 0, world = 1, local_rank = 0, local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};
/// Reads RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Throws ConfigError
/// naming the variable that is missing or out of range once RANK is set. Only the run context calls it
/// (run/session.h: join_world, started_ranks); everything else is given its World.
Env read_env();

class World {
 public:
  /// A world of one process.
  World() = default;
  /// Joins the job described by `env` (even a job of one): Gloo for a CPU device, NCCL for CUDA (one
  /// device per local rank).
  /// Rank 0 hosts the TCPStore. Throws DistError when the rendezvous fails within the timeout.
  static World connect(const Env& env, const torch::Device& device, std::chrono::milliseconds timeout);
  /// Ranks of one process over a shared store (tests): Gloo, CPU tensors.
  static World over_store(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                          std::chrono::milliseconds timeout);

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool root() const { return rank_ == 0; }
  /// Whether a process group exists (also for a job of one rank started as one, e.g. torchrun --nproc 1).
  bool distributed() const { return impl_ != nullptr; }
  /// "gloo", "nccl", or "" for a single process.
  const std::string& backend() const { return backend_; }

  /// Sums each tensor over the ranks, in place (moved to the backend's device and back when needed).
  void all_reduce_sum(std::vector<torch::Tensor>& tensors) const;
  void all_reduce_sum(torch::Tensor& t) const;
  /// Starts an all-reduce (sum) of one tensor already on the backend's device; wait() finishes it.
  class Pending {
   public:
    void wait() {
      if (finish_) std::exchange(finish_, nullptr)();
    }
    bool active() const { return static_cast<bool>(finish_); }

   private:
    friend class World;
    std::function<void()> finish_;
  };
  Pending all_reduce_sum_async(torch::Tensor& t) const;
  /// Whether `mine` is true on any rank (one all-reduce; `mine` itself in a world of one).
  bool any(bool mine) const;
  /// Overwrites each tensor with rank 0's (in place).
  void broadcast(std::vector<torch::Tensor>& tensors) const;
  /// Rank 0's `value` on every rank (through the store); the others wait up to `wait` (0: dist.timeout_s).
  std::string share(const std::string& key, const std::string& value,
                    std::chrono::milliseconds wait = std::chrono::milliseconds(0)) const;
  void barrier() const;

 private:
  [[noreturn]] void fail(const std::string& what, const std::exception& e) const;
  struct Impl;
  std::shared_ptr<Impl> impl_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string backend_;
};

/// Averages gradients over the ranks, as DDP's reducer: the parameters (in reverse order, as backward
/// produces them) are packed into flat buckets of about `bucket_mb`; a bucket's all-reduce starts from an
/// autograd hook as soon as its last gradient is computed, so communication overlaps the rest of the
/// backward pass. A world of one installs nothing.
class GradSync {
 public:
  GradSync(const World& world, std::vector<torch::Tensor> params, double bucket_mb = 4.0);
  ~GradSync();
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;
  /// Before backward(): gradients computed from now on are reduced.
  void begin();
  /// After backward(): starts the buckets not yet started (a parameter without a gradient on this rank
  /// counts as zero), waits for all, and sets every parameter's gradient to the ranks' mean. A parameter
  /// that got no gradient on any rank keeps none, as in one process (the optimizer passes over it).
  void finish();
  size_t buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> params;
    size_t ready = 0;
    World::Pending pending;
  };
  struct Slot {
    size_t bucket = 0;
    int64_t offset = 0;  ///< of its gradient in the bucket
    int64_t flag = 0;    ///< of its "has a gradient" element (1 or 0; summed over the ranks)
    bool ready = false;
  };
  void on_grad(size_t i, const torch::Tensor& g);
  void launch(Bucket& b);
  const World& world_;
  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  size_t next_ = 0;  ///< buckets start in index order on every rank (collectives must match across ranks)
  bool active_ = false;
};

/// BatchNorm in training mode over the ranks' whole batch (train.sync_bn), as torch.nn.SyncBatchNorm: the
/// forward pass normalizes with the per-channel sums over all ranks and updates `bn`'s running statistics
/// with them; the backward pass sums the gradient terms over the ranks too. Weight and bias gradients stay
/// local (GradSync averages them).
torch::Tensor sync_batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, const World& world);

/// Overwrites the module's parameters and buffers with rank 0's.
void broadcast_state(const World& world, torch::nn::Module& module);
/// Overwrites the module's buffers (BatchNorm's running statistics) with rank 0's, as DDP's broadcast_buffers
/// does: every rank then evaluates the network rank 0 saves, so a run resumed from that checkpoint evaluates as
/// the uninterrupted one did.
void broadcast_buffers(const World& world, torch::nn::Module& module);

/// Throws Interrupted("<what>: interrupted by SIGINT") when this process got SIGINT/SIGTERM, or, in a
/// distributed world, when any rank got one: the ranks agree (one collective), so all stop at the same point.
/// The one interrupt check outside the trainer; a world of one (single_process()) asks only this process.
void throw_if_interrupted(const World& world, const std::string& what);

/// A world of one process (a constant): what components use when they are given no world.
const World& single_process();

/// Whether this build has the NCCL backend (a CUDA LibTorch with nccl.h at build time).
bool has_nccl();

/// `--nproc N`: starts N copies of this program (the same arguments) with RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT; forwards SIGINT/SIGTERM to them; when
/// one fails, the others get SIGTERM after `grace`. Returns 0 when all succeed, else the first failure's
/// exit code (1 for a rank killed by a signal, 130 when interrupted).
int launch_local(int argc, char** argv, int nproc, std::chrono::seconds grace = std::chrono::seconds(90));

}  // namespace netadj::dist
