#include "netadj/train/train.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

torch::Device setup_device(const RuntimeOptions& r) {
  int threads = r.threads > 0 ? r.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  bool have_cuda = torch::cuda::is_available();
  if (r.device == "cpu" || (r.device == "auto" && !have_cuda)) return torch::kCPU;
  if (!have_cuda) throw ConfigError("runtime.device = \"" + r.device + "\": no CUDA device is available (use cpu or auto)");
  int index = 0;
  if (r.device.rfind("cuda:", 0) == 0) index = std::stoi(r.device.substr(5));
  if (index >= static_cast<int>(torch::cuda::device_count()))
    throw ConfigError("runtime.device = \"" + r.device + "\": only " + std::to_string(torch::cuda::device_count()) +
                      " CUDA device(s)");
  at::globalContext().setBenchmarkCuDNN(r.cudnn_benchmark);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string resolve_amp(const RuntimeOptions& r, const torch::Device& d) {
  // auto: bf16 on CUDA; fp32 on the CPU, where reduced precision only pays on CPUs with native
  // bf16/fp16 arithmetic (AMX, AVX512-FP16) and costs elsewhere. An explicit choice is honoured anywhere.
  if (r.amp == "auto") return d.is_cuda() ? "bf16" : "off";
  static bool warned = false;
  if (!d.is_cuda() && r.amp != "off" && !warned) {
    warned = true;
    logger()->warn("runtime.amp = {} on the CPU: without native {} arithmetic autocast is emulated and can be "
                   "over 10x slower than fp32 (measured on an AVX2 CPU); use auto or off unless the CPU has it",
                   r.amp, r.amp);
  }
  return r.amp;
}

bool uses_channels_last(const RuntimeOptions& r, const torch::Device& d, const std::vector<int64_t>& widths) {
  if (r.memory_format != "auto") return r.memory_format == "channels_last";
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

namespace {

struct AutocastGuard {
  bool on = false;
  c10::DeviceType type;
  AutocastGuard(const torch::Device& d, const std::string& amp) : type(d.type()) {
    if (amp == "off") return;
    on = true;
    const auto dtype = amp == "fp16" ? at::kHalf : at::kBFloat16;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::set_autocast_dtype(type, dtype);
#else  // LibTorch 2.0 - 2.3
    if (type == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
  }
  ~AutocastGuard() {
    if (!on) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type, false);
#else
    if (type == c10::DeviceType::CUDA)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
#endif
    at::autocast::clear_cache();
  }
};

}  // namespace

EvalResult evaluate(GraphNet& net, BatchSource& src, const torch::Device& dev, const std::string& amp) {
  c10::InferenceMode no_autograd;  // cheaper than NoGradGuard: no version counters or view tracking
  bool was_training = net->is_training();
  net->eval();
  src.start_epoch(0);
  auto opt = torch::TensorOptions().dtype(torch::kDouble).device(dev);
  auto loss_sum = torch::zeros({}, opt), top1 = torch::zeros({}, opt), top5 = torch::zeros({}, opt);
  int64_t n = 0;
  while (auto b = src.next()) {
    torch::Tensor logits;
    {
      AutocastGuard ac(dev, amp);
      logits = net->forward(b->x);
    }
    logits = logits.to(torch::kFloat);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, b->y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(torch::kDouble);
    int64_t k = std::min<int64_t>(5, logits.size(1));
    auto topk = std::get<1>(logits.topk(k, 1));
    auto hit = topk.eq(b->y.unsqueeze(1));
    top1 += hit.select(1, 0).sum().to(torch::kDouble);
    top5 += hit.any(1).sum().to(torch::kDouble);
    n += b->y.size(0);
  }
  if (was_training) net->train();
  EvalResult r;
  r.n = n;
  if (n > 0) {
    r.loss = loss_sum.item<double>() / double(n);
    r.top1 = top1.item<double>() / double(n);
    r.top5 = top5.item<double>() / double(n);
  }
  return r;
}

// One field list for both directions (from_json uses at(): a missing key throws).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EvalResult, loss, top1, top5, n)

json eval_json(const EvalResult& e) { return e; }

json epoch_json(const EpochRecord& r) {
  json j = {{"epoch", r.epoch}, {"lr", r.lr}, {"train_loss", r.train_loss}, {"train_acc", r.train_acc},
            {"seconds", r.seconds}, {"images_per_s", r.images_per_s}, {"val", eval_json(r.val)}};
  if (r.test) j["test"] = eval_json(*r.test);
  return j;
}

static EpochRecord epoch_from_json(const json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch").get<int>();
  r.lr = j.at("lr").get<double>();
  r.train_loss = j.at("train_loss").get<double>();
  r.train_acc = j.at("train_acc").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.images_per_s = j.at("images_per_s").get<double>();
  r.val = j.at("val").get<EvalResult>();
  if (j.contains("test")) r.test = j["test"].get<EvalResult>();
  return r;
}

// ---- checkpoints ---------------------------------------------------------------------------------

static void save_archive(torch::serialize::OutputArchive& ar, const std::string& path) {
  std::string tmp = path + ".tmp";
  try {
    ar.save_to(tmp);
  } catch (const c10::Error& e) {
    remove_file(tmp);
    throw IoError(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  // fsync + rename through the same path as every other result file.
  write_file_atomic(path, read_file(tmp));
  remove_file(tmp);
}

void save_model(GraphNet& net, const ModelOptions& m, const std::string& path) {
  torch::serialize::OutputArchive ar, model_ar;
  net->save(model_ar);
  ar.write("model", model_ar);
  ModelOptions mm = m;
  mm.channels = net->spec().channels;
  mm.resolution = net->spec().resolution;
  Config c;
  c.model = mm;
  ar.write("model_options", c10::IValue(config_to_json(c)["model"].dump()));
  save_archive(ar, path);
}

GraphNet load_model(const std::string& path, ModelOptions& m) {
  if (!file_exists(path)) throw DataError(path + ": model file not found");
  torch::serialize::InputArchive ar, model_ar;
  try {
    ar.load_from(path, torch::kCPU);  // a model saved on a GPU loads anywhere
    c10::IValue opts;
    ar.read("model_options", opts);
    json j = json::parse(opts.toStringRef());
    m = config_from_json(json{{"model", j}}, path).model;
    ar.read("model", model_ar);
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a netadj model or checkpoint (" + e.what_without_backtrace() + ")");
  }
  GraphNet net(build_spec(m, m.resolution));
  try {
    net->load(model_ar);
  } catch (const c10::Error& e) {
    throw DataError(path + ": weights do not match the recorded architecture");
  }
  return net;
}

// ---- training --------------------------------------------------------------------------------------

Trainer::Trainer(const Config& cfg, const DataModule& data, torch::Device device)
    : cfg_(cfg), data_(data), device_(device) {
  amp_ = resolve_amp(cfg.runtime, device);
}

namespace {

class Progress {
 public:
  Progress(std::string label, int epochs, int64_t steps, int log_every)
      : label_(std::move(label)), epochs_(epochs), steps_(steps), log_every_(log_every), tty_(stderr_is_tty()) {}
  void step(int epoch, int64_t s, double loss, double acc, double ips, double eta_s) {
    if (tty_) {
      fmt::print(stderr, "\r{}epoch {}/{} step {}/{} loss {:.4f} acc {:.2f}% {:.0f} img/s ETA {:.0f}s   ",
                 label_.empty() ? "" : label_ + " ", epoch + 1, epochs_, s + 1, steps_, loss, 100 * acc, ips, eta_s);
    } else if ((s + 1) % log_every_ == 0) {
      logger()->info("{}epoch {}/{} step {}/{} loss {:.4f} acc {:.2f}% {:.0f} img/s", label_.empty() ? "" : label_ + " ",
                      epoch + 1, epochs_, s + 1, steps_, loss, 100 * acc, ips);
    }
  }
  void end_epoch() {
    if (tty_) fmt::print(stderr, "\r\033[K");
  }

 private:
  std::string label_;
  int epochs_;
  int64_t steps_;
  int log_every_;
  bool tty_;
};

}  // namespace

TrainResult Trainer::run(GraphNet& net, const TrainPlan& plan) {
  const TrainOptions& t = cfg_.train;
  TrainResult result;
  net->to(device_);
  if (uses_channels_last(cfg_.runtime, device_, net->spec().channels)) net->use_channels_last();
  net->train();

  auto train_src = data_.loader(plan.train_split, {t.batch_size, true, device_, plan.seed});
  std::unique_ptr<BatchSource> eval_src;
  if (plan.eval_split) eval_src = data_.loader(*plan.eval_split, {std::max(t.batch_size, 256), false, device_, 0});
  const int64_t steps = train_src->num_batches();

  const std::vector<torch::Tensor> params = net->parameters();  // the same tensors for the whole run
  Sgd opt(params, sgd_options(t));
  std::optional<GradScaler> scaler;  // fp16 only; bf16 has fp32's range
  if (amp_ == "fp16") scaler.emplace(device_, t.loss_scale);

  // Knowledge distillation teacher (frozen, eval mode).
  std::optional<GraphNet> teacher;
  if (!t.kd.teacher.empty()) {
    ModelOptions tm;
    teacher = load_model(t.kd.teacher, tm);
    (*teacher)->to(device_);
    if (uses_channels_last(cfg_.runtime, device_, (*teacher)->spec().channels)) (*teacher)->use_channels_last();
    (*teacher)->eval();
  }

  int start_epoch = 0;
  if (!plan.checkpoint.empty() && file_exists(plan.checkpoint)) {
    torch::serialize::InputArchive ar, model_ar, opt_ar;
    c10::IValue meta;
    try {
      ar.load_from(plan.checkpoint, device_);
      ar.read("model", model_ar);
      ar.read("optimizer", opt_ar);
      ar.read("meta", meta);
      net->load(model_ar);
      opt.load(opt_ar);
      if (scaler) {
        torch::serialize::InputArchive scaler_ar;
        if (ar.try_read("scaler", scaler_ar)) scaler->load(scaler_ar);
      }
    } catch (const c10::Error& e) {
      throw DataError(plan.checkpoint + ": cannot resume from checkpoint (" + e.what_without_backtrace() + ")");
    }
    json m = json::parse(meta.toStringRef());
    for (const auto& r : m.at("history")) result.history.push_back(epoch_from_json(r));
    start_epoch = m.at("epoch").get<int>() + 1;
    result.resumed = true;
    logger()->info("{}resumed from {} after epoch {}", plan.label.empty() ? "" : plan.label + ": ", plan.checkpoint,
                   start_epoch);
  }

  Progress progress(plan.label, plan.epochs, steps, cfg_.runtime.log_every);
  const bool sync_every_step = !device_.is_cuda();
  const bool tty = stderr_is_tty();
  int64_t total_steps = int64_t(start_epoch) * steps;
  auto t_all = Clock::now();

  for (int epoch = start_epoch; epoch < plan.epochs; ++epoch) {
    auto t0 = Clock::now();
    net->train();
    net->set_drop(drop_rates(t.drop, epoch, plan.epochs, net->num_slots()), parse_drop_type(t.drop.type));
    // Dropout masks come from the global generator, reseeded per epoch so a resumed run repeats them.
    torch::manual_seed(derive_seed(plan.seed, "dropout", epoch));
    train_src->start_epoch(epoch);
    auto dopt = torch::TensorOptions().dtype(torch::kDouble).device(device_);
    auto loss_sum = torch::zeros({}, dopt), correct = torch::zeros({}, dopt);
    int64_t seen = 0, step = 0;
    double lr = t.lr;
    while (auto b = train_src->next()) {
      lr = lr_at(t, plan.epochs, int64_t(epoch) * steps + step, steps);
      torch::Tensor logits, loss;
      {
        AutocastGuard ac(device_, amp_);
        logits = net->forward(b->x);
      }
      logits = logits.to(torch::kFloat);
      namespace F = torch::nn::functional;
      loss = F::cross_entropy(logits, b->y, F::CrossEntropyFuncOptions().label_smoothing(t.label_smoothing));
      if (teacher) {
        torch::Tensor tl;
        {
          torch::NoGradGuard ng;
          AutocastGuard ac(device_, amp_);
          tl = (*teacher)->forward(b->x).to(torch::kFloat);
        }
        double T = t.kd.temperature;
        auto kd = F::kl_div(F::log_softmax(logits / T, 1), F::softmax(tl / T, 1),
                            F::KLDivFuncOptions().reduction(torch::kBatchMean)) * (T * T);
        loss = (1.0 - t.kd.alpha) * loss + t.kd.alpha * kd;
      }
      opt.zero_grad();
      if (scaler) {
        // No host sync: overflow is detected, and the step skipped, on the device.
        scaler->scale(loss).backward();
        opt.step(lr, scaler->unscale(params));
        scaler->update();
      } else {
        loss.backward();
        opt.step(lr);
      }
      auto ld = loss.detach().to(torch::kDouble);
      loss_sum += ld * b->y.size(0);
      correct += logits.detach().argmax(1).eq(b->y).sum().to(torch::kDouble);
      seen += b->y.size(0);
      // On a terminal the progress line is redrawn a few times per log interval; either way the host
      // waits for the device only at these points (and every step on the CPU, where it costs nothing).
      const int every = tty ? std::max(1, cfg_.runtime.log_every / 5) : cfg_.runtime.log_every;
      bool log_now = (step + 1) % every == 0;
      if (sync_every_step || log_now) {
        double lv = ld.item<double>();
        if (!std::isfinite(lv))
          throw NumericError(fmt::format("{}non-finite loss ({}) at epoch {} step {}; the last checkpoint{} is kept",
                                         plan.label.empty() ? "" : plan.label + ": ", lv, epoch + 1, step + 1,
                                         plan.checkpoint.empty() ? "" : " (" + plan.checkpoint + ")"));
        double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        double ips = double(seen) / std::max(secs, 1e-9);
        double eta = (double(steps - step - 1) + double(plan.epochs - epoch - 1) * double(steps)) * double(t.batch_size) / std::max(ips, 1e-9);
        if (log_now) progress.step(epoch, step, loss_sum.item<double>() / double(seen), correct.item<double>() / double(seen), ips, eta);
      }
      ++step;
      ++total_steps;
      if (plan.interrupt_after_steps >= 0 && total_steps >= plan.interrupt_after_steps)
        throw std::runtime_error("interrupted");
      if (plan.max_steps >= 0 && total_steps >= plan.max_steps) break;
    }
    progress.end_epoch();
    net->clear_drop();
    double train_loss = loss_sum.item<double>() / double(std::max<int64_t>(seen, 1));
    if (!std::isfinite(train_loss))
      throw NumericError(fmt::format("{}non-finite loss in epoch {} (checked at its end); the last checkpoint is kept",
                                     plan.label.empty() ? "" : plan.label + ": ", epoch + 1));
    EpochRecord rec;
    rec.epoch = epoch;
    rec.lr = lr;
    rec.train_loss = train_loss;
    rec.train_acc = correct.item<double>() / double(std::max<int64_t>(seen, 1));
    double train_secs = std::chrono::duration<double>(Clock::now() - t0).count();
    rec.images_per_s = double(seen) / std::max(train_secs, 1e-9);
    if (eval_src) rec.val = evaluate(net, *eval_src, device_, amp_);
    if (t.eval_test_each_epoch && plan.eval_split != Split::kTest) {
      auto ts = data_.loader(Split::kTest, {std::max(t.batch_size, 256), false, device_, 0});
      rec.test = evaluate(net, *ts, device_, amp_);
    }
    rec.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    result.history.push_back(rec);
    std::string evals;
    if (plan.eval_split)
      evals += fmt::format(" | {} loss {:.4f} top1 {:.2f}%", split_name(*plan.eval_split), rec.val.loss, 100 * rec.val.top1);
    if (rec.test) evals += fmt::format(" | test loss {:.4f} top1 {:.2f}%", rec.test->loss, 100 * rec.test->top1);
    logger()->info("{}epoch {}/{} lr {:.4f} train loss {:.4f} acc {:.2f}%{} | {:.0f} img/s {:.1f}s",
                   plan.label.empty() ? "" : plan.label + " ", epoch + 1, plan.epochs, lr, rec.train_loss,
                   100 * rec.train_acc, evals, rec.images_per_s, rec.seconds);
    if (!plan.metrics_file.empty()) {
      json line = epoch_json(rec);
      if (!plan.label.empty()) line["label"] = plan.label;
      append_line(plan.metrics_file, line.dump());
    }
    if (!plan.checkpoint.empty()) {
      torch::serialize::OutputArchive ar, model_ar, opt_ar;
      net->save(model_ar);
      opt.save(opt_ar);
      json hist = json::array();
      for (const auto& r : result.history) hist.push_back(epoch_json(r));
      ar.write("model", model_ar);
      ar.write("optimizer", opt_ar);
      if (scaler) {
        torch::serialize::OutputArchive scaler_ar;
        scaler->save(scaler_ar);
        ar.write("scaler", scaler_ar);
      }
      ar.write("meta", c10::IValue(json{{"epoch", epoch}, {"history", hist}}.dump()));
      Config c;
      c.model = cfg_.model;
      c.model.channels = net->spec().channels;
      c.model.resolution = net->spec().resolution;
      ar.write("model_options", c10::IValue(config_to_json(c)["model"].dump()));
      save_archive(ar, plan.checkpoint);
    }
    if (plan.max_steps >= 0 && total_steps >= plan.max_steps) break;
  }
  if (!result.history.empty()) result.final_eval = result.history.back().val;
  if (plan.test_at_end) {
    auto ts = data_.loader(Split::kTest, {std::max(t.batch_size, 256), false, device_, 0});
    result.test = evaluate(net, *ts, device_, amp_);
    if (!plan.eval_split) result.final_eval = *result.test;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t_all).count();
  return result;
}

}  // namespace netadj
