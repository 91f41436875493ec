// The training loop: one TrainLoop per Trainer::run, with one member function per concern (epoch, step,
// loss, evaluation) so each reads top to bottom. What it carries from step to step, and saves, loads and
// broadcasts, is its TrainState (train_state.cpp).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "netadj/distributed/distributed.h"
#include "netadj/records/tensorboard.h"
#include "netadj/train/autocast.h"
#include "netadj/train/checkpoint.h"
#include "netadj/train/state.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

TrainerOptions trainer_options(const Config& cfg) { return {cfg.train, cfg.runtime, cfg.eval.batch_size, cfg.model}; }

Trainer::Trainer(TrainerOptions options, const DataModule& data, torch::Device device)
    : options_(std::move(options)), data_(data), device_(device), amp_(resolve_amp(options_.runtime, device)) {}

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class Progress {
 public:
  Progress(std::string label, int epochs, int64_t steps, int log_every)
      : label_(std::move(label)), epochs_(epochs), steps_(steps), log_every_(log_every), tty_(stderr_is_tty()) {}
  void step(int epoch, int64_t s, double loss, double acc, double ips, double eta_s) const {
    if (tty_) {
      fmt::print(stderr, "\r{}epoch {}/{} step {}/{} loss {:.4f} acc {:.2f}% {:.0f} img/s ETA {:.0f}s   ", prefix(),
                 epoch + 1, epochs_, s + 1, steps_, loss, 100 * acc, ips, eta_s);
    } else if ((s + 1) % log_every_ == 0) {
      logger()->info("{}epoch {}/{} step {}/{} loss {:.4f} acc {:.2f}% {:.0f} img/s", prefix(), epoch + 1, epochs_,
                     s + 1, steps_, loss, 100 * acc, ips);
    }
  }
  void end_epoch() const {
    if (tty_) fmt::print(stderr, "\r\033[K");
  }
  std::string prefix() const { return label_.empty() ? "" : label_ + " "; }

 private:
  std::string label_;
  int epochs_;
  int64_t steps_;
  int log_every_;
  bool tty_;
};

class TrainLoop {
 public:
  TrainLoop(const Trainer& trainer, GraphNet& net, const TrainPlan& plan);
  TrainResult run();

 private:
  void load_teacher();
  void resume();
  void resume_from(const std::string& file);
  EpochRecord train_epoch(int epoch);
  void begin_epoch(int epoch);
  void train_step(const Batch& b, double lr);
  torch::Tensor kd_loss(const torch::Tensor& logits, const torch::Tensor& x);
  void watch(int epoch, int64_t step, const torch::Tensor& loss, Clock::time_point t0);
  void finish_epoch(EpochRecord& rec);
  EvalResult evaluate_split(Split s) const;
  void write_metrics(const EpochRecord& rec) const;
  void sync_metrics() const;
  void sync_events();
  std::string eta(const EpochRecord& rec) const;
  bool stop_requested(int epoch, int64_t step) const;
  void reduce_sums();
  void save_checkpoint();
  [[noreturn]] void stop_interrupted(int epoch, int64_t step, Clock::time_point t0);
  bool budget_spent() const { return plan_.max_steps >= 0 && total_steps_ >= plan_.max_steps; }
  std::string where() const { return plan_.label.empty() ? "" : plan_.label + ": "; }

  const TrainerOptions& o_;
  const TrainOptions& t_;
  const DataModule& data_;
  const torch::Device device_;
  const AmpMode amp_;
  GraphNet& net_;
  const TrainPlan& plan_;
  const dist::World& world_;
  std::unique_ptr<BatchSource> train_src_, eval_src_;
  int64_t steps_ = 0;  ///< per epoch
  std::vector<torch::Tensor> params_;
  Sgd opt_;
  std::optional<GradScaler> scaler_;  // fp16 only; bf16 has fp32's range
  dist::GradSync sync_;               // averages the gradients over the ranks (nothing in a world of one)
  std::optional<GraphNet> teacher_;
  Progress progress_;
  TrainState state_;  // the weights, optimizer, scaler, epochs done and position
  TrainResult result_;
  EventWriter events_;         // rank 0, with plan.events_dir
  bool keep_previous_ = true;  ///< false right after falling back from a damaged checkpoint
  torch::Tensor loss_sum_, correct_, last_loss_;
  int64_t seen_ = 0, total_steps_ = 0;
  double lr_ = 0;
};

// Puts the network on its device in its training layout. It runs before the parameter list and the
// optimizer are taken (the initializer list below): momentum buffers copy the parameters' layout.
void place(GraphNet& net, const RuntimeOptions& r, const torch::Device& device) {
  net->to(device);
  if (uses_channels_last(r, device, net->spec().channels)) net->use_channels_last();
}

TrainLoop::TrainLoop(const Trainer& trainer, GraphNet& net, const TrainPlan& plan)
    : o_(trainer.options()),
      t_(o_.train),
      data_(trainer.data()),
      device_(trainer.device()),
      amp_(trainer.amp()),
      net_(net),
      plan_(plan),
      world_(plan.world ? *plan.world : dist::single_process()),
      train_src_((place(net, o_.runtime, device_),
                  data_.loader(plan.train_split, {rank_batch_size(t_, world_.size()), true, device_, plan.seed,
                                                  world_.rank(), world_.size(), world_.local_size()}))),
      steps_(train_src_->num_batches()),
      params_(net->parameters()),  // the same tensors for the whole run
      opt_(params_, sgd_options(t_)),
      sync_(world_, params_),
      progress_(plan.label, plan.epochs, steps_, o_.runtime.log_every),
      state_(net, opt_, amp_ == AmpMode::kFp16 ? &scaler_.emplace(device_, t_.loss_scale) : nullptr, device_) {
  if (plan.eval_split)
    eval_src_ = data_.loader(
        *plan.eval_split, {o_.eval_batch_size, false, device_, 0, world_.rank(), world_.size(), world_.local_size()});
  load_teacher();
}

// Knowledge distillation teacher (frozen, eval mode).
void TrainLoop::load_teacher() {
  if (t_.kd.teacher.empty()) return;
  ModelOptions tm;
  teacher_ = load_model(t_.kd.teacher, tm);
  (*teacher_)->to(device_);
  if (uses_channels_last(o_.runtime, device_, (*teacher_)->spec().channels)) (*teacher_)->use_channels_last();
  (*teacher_)->eval();
}

TrainResult TrainLoop::run() {
  auto t_all = Clock::now();
  // train.sync_bn: the network's BatchNorms use this run's ranks while it trains, and only then.
  struct SyncBnScope {
    GraphNet& net;
    ~SyncBnScope() { net->set_sync_bn(nullptr); }
  } sync_bn_scope{net_};
  if (t_.sync_bn && world_.distributed()) net_->set_sync_bn(&world_);
  if (!plan_.checkpoint.empty() &&
      (file_exists(plan_.checkpoint) || file_exists(previous_checkpoint(plan_.checkpoint))))
    resume();
  // Every rank starts from rank 0's weights and position: a fresh start from the same seed, or rank 0's
  // checkpoint, which the other ranks must have read too (the run directory is on a filesystem they share).
  state_.broadcast(world_, where());
  sync_metrics();
  sync_events();
  const EpochPosition& pos = state_.position;
  total_steps_ = int64_t(pos.epoch) * steps_ + pos.step;
  for (int epoch = pos.epoch; epoch < plan_.epochs && !budget_spent(); ++epoch) {
    EpochRecord rec = train_epoch(epoch);
    finish_epoch(rec);
    if (stop_requested(epoch + 1, 0) && epoch + 1 < plan_.epochs)
      throw Interrupted(fmt::format("{}interrupted by {} after epoch {}{}", where(), interrupt_signal_name(), epoch + 1,
                                    plan_.checkpoint.empty() ? "" : "; checkpoint " + plan_.checkpoint));
  }
  result_.history = state_.history;
  if (!result_.history.empty()) result_.final_eval = result_.history.back().val;
  if (plan_.test_at_end) {
    result_.test = evaluate_split(Split::kTest);
    if (!plan_.eval_split) result_.final_eval = *result_.test;
  }
  result_.seconds = seconds_since(t_all);
  return result_;
}

// A signal stops every rank at the same step: the ranks agree each step whether any of them got one, and
// whether any of them met a non-finite loss (which then stops them all with the same error).
bool TrainLoop::stop_requested(int epoch, int64_t step) const {
  if (!world_.distributed()) return interrupt_requested();
  const bool bad = step > 0 && last_loss_.defined() && !std::isfinite(last_loss_.item<double>());
  torch::Tensor flags = torch::tensor({interrupt_requested() ? 1.0f : 0.0f, bad ? 1.0f : 0.0f});
  world_.all_reduce_sum(flags);
  if (flags[1].item<float>() > 0)
    throw NumericError(
        fmt::format("{}non-finite loss at epoch {} step {} on {} of {} ranks; the last checkpoint{} is kept", where(),
                    epoch + 1, step, int(flags[1].item<float>()), world_.size(),
                    plan_.checkpoint.empty() ? "" : " (" + plan_.checkpoint + ")"));
  return flags[0].item<float>() > 0;
}

// The epoch's running sums over all ranks (each rank summed its own share).
void TrainLoop::reduce_sums() {
  if (!world_.distributed()) return;
  torch::Tensor v = torch::stack({loss_sum_, correct_, torch::full({}, double(seen_), loss_sum_.options())});
  world_.all_reduce_sum(v);  // one collective for the three
  loss_sum_ = v[0];
  correct_ = v[1];
  seen_ = std::llround(v[2].item<double>());
}

// ---- resume ------------------------------------------------------------------------------------------

// A checkpoint that is truncated or corrupted (its checksum tells) is named; the run then continues from
// the checkpoint before it when there is one, else it stops with exit 3.
void TrainLoop::resume() {
  const std::string prev = previous_checkpoint(plan_.checkpoint);
  try {
    if (!file_exists(plan_.checkpoint)) throw DamagedFile(plan_.checkpoint + ": missing");
    resume_from(plan_.checkpoint);
  } catch (const DamagedFile& e) {  // only damage: a file that cannot be read now must not be passed over
    if (!file_exists(prev)) throw;
    logger()->warn("{}{}; resuming from the checkpoint before it, {}", where(), e.what(), prev);
    resume_from(prev);
    keep_previous_ = false;  // the damaged file must not replace the good one kept as .prev
  }
}

void TrainLoop::resume_from(const std::string& file) {
  const TrainState::Loaded loaded = state_.load(file);
  const EpochPosition& pos = state_.position;
  // A mid-epoch checkpoint written on another kind of device has other generators: the epoch continues with
  // fresh dropout masks.
  if (!loaded.generators) {
    logger()->warn(
        "{}{} was written on {}: the rest of its epoch draws new dropout masks on {}, so the run will "
        "not repeat an uninterrupted one exactly",
        where(), file, loaded.written_on, device_.str());
    torch::manual_seed(derive_seed(plan_.seed, "dropout-resumed", pos.epoch));
  }
  result_.resumed = true;
  logger()->info("{}resumed from {} at epoch {} step {}", where(), file, pos.epoch + 1, pos.step);
}

// ---- one epoch ------------------------------------------------------------------------------------------

void TrainLoop::begin_epoch(int epoch) {
  net_->train();
  net_->set_drop(drop_rates(t_.drop, epoch, plan_.epochs, net_->num_slots()), t_.drop.type);
  auto dopt = torch::TensorOptions().dtype(torch::kDouble).device(device_);
  const EpochPosition& pos = state_.position;
  const bool continuing = epoch == pos.epoch && pos.step > 0;
  // A mid-epoch checkpoint holds the sums over all ranks: rank 0 carries them on.
  const bool carry = continuing && world_.root();
  loss_sum_ = torch::full({}, carry ? pos.loss_sum : 0.0, dopt);
  correct_ = torch::full({}, carry ? pos.correct : 0.0, dopt);
  seen_ = carry ? pos.seen : 0;
  // Dropout masks come from the global generator, reseeded per epoch (and rank) so a resumed run repeats
  // them (a mid-epoch resume restored the generator's state instead).
  if (!continuing) torch::manual_seed(derive_seed(plan_.seed, "dropout", epoch, world_.rank()));
  train_src_->start_epoch_at(epoch, continuing ? pos.step : 0);
}

EpochRecord TrainLoop::train_epoch(int epoch) {
  const EpochPosition& pos = state_.position;
  auto t0 = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(epoch == pos.epoch ? pos.seconds : 0.0));
  begin_epoch(epoch);
  int64_t step = epoch == pos.epoch ? pos.step : 0;
  lr_ = t_.lr;
  while (auto b = train_src_->next()) {
    lr_ = lr_at(t_, plan_.epochs, int64_t(epoch) * steps_ + step, steps_);
    train_step(*b, lr_);
    watch(epoch, step, loss_sum_, t0);
    ++step;
    ++total_steps_;
    // At the epoch's last step the epoch finishes first: run() stops after its checkpoint.
    if (step < steps_ && stop_requested(epoch, step)) stop_interrupted(epoch, step, t0);
    if (budget_spent()) break;
  }
  progress_.end_epoch();
  net_->clear_drop();
  reduce_sums();
  double train_loss = loss_sum_.item<double>() / double(std::max<int64_t>(seen_, 1));
  if (!std::isfinite(train_loss))
    throw NumericError(fmt::format("{}non-finite loss in epoch {} (checked at its end); the last checkpoint is kept",
                                   where(), epoch + 1));
  EpochRecord rec;
  rec.epoch = epoch;
  rec.lr = lr_;
  rec.train_loss = train_loss;
  rec.train_acc = correct_.item<double>() / double(std::max<int64_t>(seen_, 1));
  rec.images_per_s = double(seen_) / std::max(seconds_since(t0), 1e-9);
  rec.seconds = seconds_since(t0);
  rec.label = plan_.label;
  return rec;
}

torch::Tensor TrainLoop::kd_loss(const torch::Tensor& logits, const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  torch::Tensor tl;
  {
    torch::NoGradGuard ng;
    AutocastGuard ac(device_, amp_);
    tl = (*teacher_)->forward(x).to(torch::kFloat);
  }
  double T = t_.kd.temperature;
  return F::kl_div(F::log_softmax(logits / T, 1), F::softmax(tl / T, 1),
                   F::KLDivFuncOptions().reduction(torch::kBatchMean)) *
         (T * T);
}

void TrainLoop::train_step(const Batch& b, double lr) {
  namespace F = torch::nn::functional;
  torch::Tensor logits;
  {
    AutocastGuard ac(device_, amp_);
    logits = net_->forward(b.x);
  }
  logits = logits.to(torch::kFloat);
  torch::Tensor loss = F::cross_entropy(logits, b.y, F::CrossEntropyFuncOptions().label_smoothing(t_.label_smoothing));
  if (teacher_) loss = (1.0 - t_.kd.alpha) * loss + t_.kd.alpha * kd_loss(logits, b.x);
  opt_.zero_grad();
  if (scaler_) {
    // No host sync: overflow is detected, and the step skipped, on the device.
    sync_.begin();
    scaler_->scale(loss).backward();
    sync_.finish();
    opt_.step(lr, scaler_->unscale(params_));
    scaler_->update();
  } else {
    sync_.begin();
    loss.backward();
    sync_.finish();
    opt_.step(lr);
  }
  auto ld = loss.detach().to(torch::kDouble);
  loss_sum_ += ld * b.y.size(0);
  correct_ += logits.detach().argmax(1).eq(b.y).sum().to(torch::kDouble);
  seen_ += b.y.size(0);
  last_loss_ = ld;
}

// The host waits for the device only at log points (on a terminal a few times per log interval), and
// every step on the CPU, where it costs nothing; there the loss is checked for NaN/Inf.
void TrainLoop::watch(int epoch, int64_t step, const torch::Tensor& loss_sum, Clock::time_point t0) {
  const bool tty = stderr_is_tty();
  const int every = tty ? std::max(1, o_.runtime.log_every / 5) : o_.runtime.log_every;
  const bool log_now = (step + 1) % every == 0;
  if (device_.is_cuda() && !log_now) return;
  double lv = last_loss_.item<double>();
  if (!std::isfinite(lv) && !world_.distributed())  // ranks agree on it in stop_requested()
    throw NumericError(fmt::format("{}non-finite loss ({}) at epoch {} step {}; the last checkpoint{} is kept", where(),
                                   lv, epoch + 1, step + 1,
                                   plan_.checkpoint.empty() ? "" : " (" + plan_.checkpoint + ")"));
  if (!log_now) return;
  double ips = double(seen_) / std::max(seconds_since(t0), 1e-9);
  double left = double(steps_ - step - 1) + double(plan_.epochs - epoch - 1) * double(steps_);
  progress_.step(epoch, step, loss_sum.item<double>() / double(seen_), correct_.item<double>() / double(seen_), ips,
                 left * double(t_.batch_size / world_.size()) / std::max(ips, 1e-9));
}

// ---- end of an epoch ------------------------------------------------------------------------------------

EvalResult TrainLoop::evaluate_split(Split s) const {
  auto src =
      data_.loader(s, {o_.eval_batch_size, false, device_, 0, world_.rank(), world_.size(), world_.local_size()});
  return evaluate(net_, *src, device_, amp_, &world_);
}

void TrainLoop::finish_epoch(EpochRecord& rec) {
  auto t0 = Clock::now();
  // Without train.sync_bn each rank's BatchNorm statistics saw only its shard: every rank takes rank 0's, the
  // ones the checkpoint keeps.
  dist::broadcast_buffers(world_, *net_);
  if (eval_src_) rec.val = evaluate(net_, *eval_src_, device_, amp_, &world_);
  if (t_.eval_test_each_epoch && plan_.eval_split != Split::kTest) rec.test = evaluate_split(Split::kTest);
  rec.seconds += seconds_since(t0);
  state_.history.push_back(rec);
  std::string evals;
  if (plan_.eval_split)
    evals +=
        fmt::format(" | {} loss {:.4f} top1 {:.2f}%", split_name(*plan_.eval_split), rec.val.loss, 100 * rec.val.top1);
  if (rec.test) evals += fmt::format(" | test loss {:.4f} top1 {:.2f}%", rec.test->loss, 100 * rec.test->top1);
  logger()->info("{}epoch {}/{} lr {:.4f} train loss {:.4f} acc {:.2f}%{} | {:.0f} img/s {:.1f}s{}", progress_.prefix(),
                 rec.epoch + 1, plan_.epochs, rec.lr, rec.train_loss, 100 * rec.train_acc, evals, rec.images_per_s,
                 rec.seconds, eta(rec));
  write_metrics(rec);
  events_.write(epoch_scalars(rec, plan_.eval_split.has_value()));
  state_.position = EpochPosition{};
  state_.position.epoch = rec.epoch + 1;
  save_checkpoint();
}

void TrainLoop::write_metrics(const EpochRecord& rec) const {
  if (!plan_.metrics_file.empty() && world_.root()) append_line(plan_.metrics_file, json(rec).dump());
}

// Before training, the metrics file holds the other runs' lines (earlier search iterations) as they were,
// then this run's epochs as its checkpoint records them (none on a fresh start): a stop between an epoch's
// metrics line and its checkpoint (a crash, a full disk) neither repeats nor loses a line.
void TrainLoop::sync_metrics() const {
  if (!world_.root() || plan_.metrics_file.empty() || (!file_exists(plan_.metrics_file) && state_.history.empty()))
    return;  // rank 0 writes the run directory
  std::string out;
  if (file_exists(plan_.metrics_file)) {
    std::istringstream in(read_file(plan_.metrics_file));
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) continue;  // a line cut by a crash goes
      auto label = j.find("label");
      if (label == j.end() || !label->is_string() || label->get<std::string>() != plan_.label) out += line + "\n";
    }
  }
  for (const auto& r : state_.history) out += json(r).dump() + "\n";
  write_file_atomic(plan_.metrics_file, out);
}

// The folder's event file starts again from this run's epochs as its checkpoint records them: an epoch
// written after the checkpoint that a crash lost is not there twice once it runs again.
void TrainLoop::sync_events() {
  if (!world_.root() || plan_.events_dir.empty()) return;
  std::vector<ScalarStep> steps;
  for (const auto& r : state_.history) steps.push_back(epoch_scalars(r, plan_.eval_split.has_value()));
  events_ = EventWriter::open(plan_.events_dir, steps);
}

// The rest of this training at the mean epoch time so far (" | ETA 12m30s"; "" after the last epoch).
std::string TrainLoop::eta(const EpochRecord& rec) const {
  const int left = plan_.epochs - rec.epoch - 1;
  if (left <= 0 || state_.history.empty()) return "";
  double s = 0;
  for (const auto& r : state_.history) s += r.seconds;
  return " | ETA " + human_duration(double(left) * s / double(state_.history.size()));
}

// After the whole epoch or inside it (state_.position.step > 0): then the running sums and the random
// generators' states go along, so the resumed run takes exactly the steps the uninterrupted one would have.
void TrainLoop::save_checkpoint() {
  if (plan_.checkpoint.empty() || !world_.root()) return;  // rank 0 writes the run directory
  state_.save(plan_.checkpoint, keep_previous_, o_.model);
  keep_previous_ = true;
}

void TrainLoop::stop_interrupted(int epoch, int64_t step, Clock::time_point t0) {
  reduce_sums();
  EpochPosition& p = state_.position;
  p.epoch = epoch;
  p.step = step;
  p.loss_sum = loss_sum_.item<double>();
  p.correct = correct_.item<double>();
  p.seconds = seconds_since(t0);
  p.seen = seen_;
  save_checkpoint();
  throw Interrupted(fmt::format("{}interrupted by {} at epoch {} step {}{}", where(), interrupt_signal_name(),
                                epoch + 1, step, plan_.checkpoint.empty() ? "" : "; checkpoint " + plan_.checkpoint));
}

}  // namespace

TrainResult Trainer::run(GraphNet& net, const TrainPlan& plan) { return TrainLoop(*this, net, plan).run(); }

TrainResult Trainer::evaluate_as_is(GraphNet& net, const TrainPlan& plan) const {
  auto t0 = Clock::now();
  place(net, options_.runtime, device_);
  const dist::World& world = plan.world ? *plan.world : dist::single_process();
  auto eval = [&](Split s) {
    auto src =
        data_.loader(s, {options_.eval_batch_size, false, device_, 0, world.rank(), world.size(), world.local_size()});
    return evaluate(net, *src, device_, amp_, &world);
  };
  TrainResult r;
  if (plan.eval_split) r.final_eval = eval(*plan.eval_split);
  if (plan.test_at_end) {
    r.test = eval(Split::kTest);
    if (!plan.eval_split) r.final_eval = *r.test;
  }
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace netadj
