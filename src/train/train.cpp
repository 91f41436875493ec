#include "netadj/train/train.h"

#include "netadj/distributed/distributed.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "netadj/train/autocast.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {
// runtime.threads = 0: OMP_NUM_THREADS where it holds a positive number (as PyTorch reads it, and as torchrun
// sets it for several ranks), else the machine's cores shared among the ranks on it.
int default_threads(int local_world) {
  if (const char* v = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && *end == '\0' && n > 0 && n <= 4096) return static_cast<int>(n);
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / local_world);
}
}  // namespace

torch::Device setup_device(const RuntimeOptions& r, int local_rank, int local_world) {
  // Ranks on one machine share its cores (and, on CUDA, take one device each: cuda:LOCAL_RANK).
  torch::set_num_threads(r.threads > 0 ? r.threads : default_threads(local_world));
  using Kind = DeviceChoice::Kind;
  bool have_cuda = torch::cuda::is_available();
  if (r.device.kind == Kind::kCpu || (r.device.kind == Kind::kAuto && !have_cuda)) return torch::kCPU;
  if (!have_cuda)
    throw ConfigError("runtime.device = \"" + r.device.str() + "\": no CUDA device is available (use cpu or auto)");
  if (local_world > 1 && r.device.index >= 0)
    throw ConfigError("runtime.device = \"" + r.device.str() + "\": with " + std::to_string(local_world) +
                      " ranks on this machine each takes cuda:LOCAL_RANK; set runtime.device to cuda or auto");
  int index = local_world > 1 ? local_rank : std::max(0, r.device.index);
  if (index >= static_cast<int>(torch::cuda::device_count()))
    throw ConfigError("runtime.device = \"" + r.device.str() + "\": only " +
                      std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
  at::globalContext().setBenchmarkCuDNN(r.cudnn_benchmark);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

AmpMode resolve_amp(const RuntimeOptions& r, const torch::Device& d) {
  // auto: bf16 on CUDA; fp32 on the CPU, where reduced precision only pays on CPUs with native
  // bf16/fp16 arithmetic (AMX, AVX512-FP16) and costs elsewhere. An explicit choice is honoured anywhere.
  if (r.amp == AmpMode::kAuto) return d.is_cuda() ? AmpMode::kBf16 : AmpMode::kOff;
  static bool warned = false;
  if (!d.is_cuda() && r.amp != AmpMode::kOff && !warned) {
    warned = true;
    logger()->warn(
        "runtime.amp = {} on the CPU: without native {} arithmetic autocast is emulated and can be "
        "over 10x slower than fp32 (measured on an AVX2 CPU); use auto or off unless the CPU has it",
        enum_name(r.amp), enum_name(r.amp));
  }
  return r.amp;
}

bool uses_channels_last(const RuntimeOptions& r, const torch::Device& d, const std::vector<int64_t>& widths) {
  if (r.memory_format != MemoryFormat::kAuto) return r.memory_format == MemoryFormat::kChannelsLast;
  if (d.is_cuda()) return true;
  return std::all_of(widths.begin(), widths.end(), [](int64_t w) { return w % 8 == 0; });
}

SgdOptions sgd_options(const TrainOptions& t) {
  SgdOptions o;
  o.momentum = t.momentum;
  o.weight_decay = t.weight_decay;
  o.nesterov = t.nesterov;
  return o;
}

int rank_batch_size(const TrainOptions& t, int ranks) {
  if (ranks < 1 || t.batch_size % ranks != 0)
    throw ConfigError("train.batch_size = " + std::to_string(t.batch_size) + ": the global batch must divide among " +
                      std::to_string(ranks) + " ranks");
  return t.batch_size / ranks;
}

double lr_at(const TrainOptions& t, int epochs, int64_t step, int64_t steps_per_epoch) {
  double e = t.per_step ? double(step) / double(steps_per_epoch) : double(step / steps_per_epoch);
  if (e < t.warmup_epochs) return t.warmup_lr + (t.lr - t.warmup_lr) * e / t.warmup_epochs;
  double span = std::max(1, epochs - t.warmup_epochs);
  double x = std::min(1.0, (e - t.warmup_epochs) / span);
  return t.lr_min + (t.lr - t.lr_min) * 0.5 * (1.0 + std::cos(M_PI * x));
}

std::vector<double> drop_rates(const DropOptions& d, int epoch, int epochs, int layers) {
  double r = d.epoch_ramp ? d.rate * double(epoch) / std::max(1, epochs) : d.rate;
  std::vector<double> v(static_cast<size_t>(layers), r);
  if (d.layer_ramp)
    for (int i = 0; i < layers; ++i) v[static_cast<size_t>(i)] = r * double(i + 1) / layers;
  return v;
}

EvalResult evaluate(GraphNet& net, BatchSource& src, const torch::Device& dev, AmpMode amp, const dist::World* shards) {
  c10::InferenceMode no_autograd;  // cheaper than NoGradGuard: no version counters or view tracking
  bool was_training = net->is_training();
  net->eval();
  src.start_epoch(0);
  EvalSums sums(dev);
  while (auto b = src.next()) {
    torch::Tensor logits;
    {
      AutocastGuard ac(dev, amp);
      logits = net->forward(b->x);
    }
    sums.add(logits, b->y);
  }
  if (was_training) net->train();
  return sums.result(shards);
}

EvalSums::EvalSums(const torch::Device& dev) {
  auto opt = torch::TensorOptions().dtype(torch::kDouble).device(dev);
  loss_ = torch::zeros({}, opt);
  top1_ = torch::zeros({}, opt);
  top5_ = torch::zeros({}, opt);
}

void EvalSums::add(const torch::Tensor& logits_in, const torch::Tensor& labels) {
  torch::Tensor logits = logits_in.to(torch::kFloat);
  loss_ += torch::nn::functional::cross_entropy(logits, labels,
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
               .to(torch::kDouble);
  int64_t k = std::min<int64_t>(5, logits.size(1));
  auto topk = std::get<1>(logits.topk(k, 1));
  auto hit = topk.eq(labels.unsqueeze(1));
  top1_ += hit.select(1, 0).sum().to(torch::kDouble);
  top5_ += hit.any(1).sum().to(torch::kDouble);
  n_ += labels.size(0);
}

EvalResult EvalSums::result(const dist::World* shards) const {
  auto sums = torch::stack({loss_.to(torch::kDouble), top1_.to(torch::kDouble), top5_.to(torch::kDouble),
                            torch::full({}, double(n_), loss_.options().dtype(torch::kDouble))});
  if (shards) shards->all_reduce_sum(sums);
  sums = sums.cpu();
  const double* v = sums.data_ptr<double>();
  EvalResult r;
  r.n = std::llround(v[3]);
  if (r.n > 0) {
    r.loss = v[0] / v[3];
    r.top1 = v[1] / v[3];
    r.top5 = v[2] / v[3];
  }
  return r;
}

}  // namespace netadj
