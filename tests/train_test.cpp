#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "netadj/train/checkpoint.h"
#include "netadj/train/sgd.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;

namespace {

using testing_util::small_config;

std::string tmp(const std::string& name) { return testing_util::fresh_dir("train_" + name); }

struct Fixture : ::testing::Test {
  void SetUp() override { torch::manual_seed(0); }
  TrainResult train(const Config& c, GraphNet& net, TrainPlan plan) {
    DataModule data(c.data, c.runtime.seed);
    Trainer tr(trainer_options(c), data, torch::kCPU);
    return tr.run(net, plan);
  }
  GraphNet fresh(const Config& c) {
    torch::manual_seed(42);
    return GraphNet(build_spec(c.model, 12));
  }
  /// Saves `net` (built by fresh) with save_model under a fresh folder `dir`; returns the file.
  std::string save(const Config& c, GraphNet& net, const std::string& dir) {
    std::string f = tmp(dir) + "/model.pt";
    ModelOptions m = c.model;
    m.resolution = 12;
    save_model(net, m, f);
    return f;
  }
};

bool same_weights(GraphNet& a, GraphNet& b) {
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& kv : pa)
    if (!torch::equal(kv.value(), pb[kv.key()])) return false;
  for (const auto& kv : a->named_buffers())
    if (!torch::equal(kv.value(), b->named_buffers()[kv.key()])) return false;
  return true;
}

}  // namespace

TEST(Schedule, CosineMatchesFormula) {
  TrainOptions t;
  t.lr = 0.15;
  t.lr_min = 1e-3;
  const int E = 200;
  const int64_t S = 10;
  EXPECT_DOUBLE_EQ(lr_at(t, E, 0, S), 0.15);
  EXPECT_NEAR(lr_at(t, E, 100 * S, S), 1e-3 + (0.15 - 1e-3) * 0.5, 1e-12);
  EXPECT_NEAR(lr_at(t, E, 50 * S + 7, S), 1e-3 + (0.15 - 1e-3) * 0.5 * (1 + std::cos(M_PI * 50 / 200)), 1e-12);
  EXPECT_NEAR(lr_at(t, E, E * S, S), 1e-3, 1e-12);
  t.per_step = true;
  EXPECT_NEAR(lr_at(t, E, 50 * S + 5, S), 1e-3 + (0.15 - 1e-3) * 0.5 * (1 + std::cos(M_PI * 50.5 / 200)), 1e-12);
  t.per_step = false;
  t.warmup_epochs = 5;
  t.warmup_lr = 0.01;
  EXPECT_NEAR(lr_at(t, E, 0, S), 0.01, 1e-12);
  EXPECT_NEAR(lr_at(t, E, 2 * S, S), 0.01 + 0.14 * 2 / 5, 1e-12);
  EXPECT_NEAR(lr_at(t, E, 5 * S, S), 0.15, 1e-12);
  EXPECT_NEAR(lr_at(t, E, (5 + 195 / 2.0) * S, S), 1e-3 + (0.15 - 1e-3) * 0.5 * (1 + std::cos(M_PI * 97 / 195)), 1e-12);
}

TEST(Schedule, ChannelsLastChoice) {
  RuntimeOptions r;
  EXPECT_TRUE(uses_channels_last(r, torch::kCPU, {16, 32, 64}));
  EXPECT_FALSE(uses_channels_last(r, torch::kCPU, {16, 17, 64}));  // odd widths run faster contiguous
  EXPECT_TRUE(uses_channels_last(r, torch::Device(torch::kCUDA, 0), {16, 17, 64}));
  r.memory_format = MemoryFormat::kContiguous;
  EXPECT_FALSE(uses_channels_last(r, torch::kCPU, {16, 32}));
  r.memory_format = MemoryFormat::kChannelsLast;
  EXPECT_TRUE(uses_channels_last(r, torch::kCPU, {17}));
}

TEST(Schedule, DropRatesFollowEpochAndLayerRamps) {
  DropOptions d;
  d.rate = 0.2;
  auto r = drop_rates(d, 5, 10, 4);
  EXPECT_NEAR(r[0], 0.2 * 0.5 * 1 / 4, 1e-12);
  EXPECT_NEAR(r[3], 0.2 * 0.5, 1e-12);
  d.layer_ramp = false;
  r = drop_rates(d, 5, 10, 4);
  EXPECT_NEAR(r[0], 0.1, 1e-12);
  d.epoch_ramp = false;
  EXPECT_NEAR(drop_rates(d, 0, 10, 4)[2], 0.2, 1e-12);
  EXPECT_NEAR(drop_rates(DropOptions{}, 0, 10, 3)[2], 0.0, 1e-12);
}

TEST(ChannelDropStats, BothTypesKeepTheExpectedValue) {
  torch::manual_seed(7);
  auto x = torch::ones({4000, 16, 2, 2});
  for (auto type : {DropType::kBernoulli, DropType::kGaussian}) {
    auto y = channel_drop(x, 0.3, type);
    EXPECT_NEAR(y.mean().item<double>(), 1.0, 0.02);
    // Whole channels share one multiplier.
    EXPECT_TRUE(torch::allclose(y.select(2, 0), y.select(2, 1)));
  }
  auto yb = channel_drop(x, 0.3, DropType::kBernoulli);
  EXPECT_NEAR((yb == 0).to(torch::kFloat).mean().item<double>(), 0.3, 0.01);
  EXPECT_NEAR(yb.max().item<double>(), 1 / 0.7, 1e-5);
  auto yg = channel_drop(x, 0.3, DropType::kGaussian);
  EXPECT_NEAR(yg.var().item<double>(), 0.3 / 0.7, 0.03);
  EXPECT_TRUE(torch::equal(channel_drop(x, 0.0, DropType::kBernoulli), x));
}

// ---- optimizer step ------------------------------------------------------------------------------

// A small parameter set with a conv weight in channels-last layout, as the trainer uses on CUDA.
std::vector<torch::Tensor> sgd_params(torch::Device device = torch::kCPU) {
  torch::manual_seed(3);
  std::vector<torch::Tensor> ps = {torch::randn({8, 4, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast),
                                   torch::randn({37}), torch::randn({5, 7})};
  for (auto& p : ps) p = p.to(device).requires_grad_(true);
  return ps;
}

std::vector<torch::Tensor> clone_params(const std::vector<torch::Tensor>& ps) {
  std::vector<torch::Tensor> out;
  for (const auto& p : ps) out.push_back(p.detach().clone(torch::MemoryFormat::Preserve).requires_grad_(true));
  return out;
}

void set_grads(std::vector<torch::Tensor>& ps, int step) {
  torch::manual_seed(100 + step);
  // Drawn on the CPU, so the same gradients reach CPU and GPU parameters.
  for (auto& p : ps) p.mutable_grad() = torch::randn(p.sizes()).to(p.device()).contiguous(p.suggest_memory_format());
}

class SgdStep : public ::testing::TestWithParam<bool> {  // param: fused kernel or _foreach_ ops
 protected:
  void SetUp() override {
    if (GetParam() && !fused_sgd_available()) GTEST_SKIP() << "LibTorch < 2.4 has no fused SGD kernel";
  }
};

// Steps netadj's Sgd and torch::optim::SGD side by side on `device` and compares the parameters.
void expect_sgd_matches_torch_optim(torch::Device device, bool fused) {
  struct Case {
    double momentum, weight_decay;
    bool nesterov;
  };
  // The paper's recipe, with Nesterov, plain SGD (no momentum buffers at all), no weight decay.
  for (Case k : {Case{0.9, 3e-4, false}, Case{0.9, 3e-4, true}, Case{0.0, 3e-4, false}, Case{0.9, 0.0, false}}) {
    SCOPED_TRACE(fmt::format("momentum {} weight_decay {} nesterov {}", k.momentum, k.weight_decay, k.nesterov));
    auto a = sgd_params(device), b = clone_params(a);
    SgdOptions o;
    o.momentum = k.momentum;
    o.weight_decay = k.weight_decay;
    o.nesterov = k.nesterov;
    Sgd ours(a, o, fused);
    EXPECT_EQ(ours.fused(), fused);
    torch::optim::SGD ref(
        b, torch::optim::SGDOptions(0.1).momentum(k.momentum).weight_decay(k.weight_decay).nesterov(k.nesterov));
    for (int s = 0; s < 25; ++s) {
      double lr = 0.15 * (1.0 - s / 30.0);  // the lr changes every step, as with per-step annealing
      set_grads(a, s);
      set_grads(b, s);
      ours.step(lr);
      for (auto& g : ref.param_groups()) static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
      ref.step();
    }
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i], b[i], /*rtol=*/1e-6, /*atol=*/1e-6)) << "tensor " << i;
      EXPECT_TRUE(a[i].is_contiguous(b[i].suggest_memory_format()));
    }
    // Diverged from the start values: the check above is not comparing two untouched tensors.
    EXPECT_GT((a[1] - sgd_params(device)[1]).abs().max().item<double>(), 0.1);
  }
}

TEST_P(SgdStep, MatchesTorchOptimSgd) { expect_sgd_matches_torch_optim(torch::kCPU, GetParam()); }

TEST_P(SgdStep, FoundInfSkipsTheStepAndMissingGradsAreLeftAlone) {
  auto a = sgd_params();
  Sgd opt(a, SgdOptions{}, GetParam());
  set_grads(a, 0);
  auto before = clone_params(a);
  opt.step(0.1, torch::ones({1}));
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], before[i]));
  for (const auto& m : opt.momentum_buffers()) EXPECT_EQ(m.abs().sum().item<double>(), 0.0);
  opt.step(0.1, torch::zeros({1}));
  EXPECT_FALSE(torch::equal(a[0], before[0]));
  // No gradient: the parameter and its momentum stay as they are (torch.optim.SGD's rule).
  opt.zero_grad();
  for (const auto& p : a) EXPECT_FALSE(p.grad().defined());
  auto after = clone_params(a);
  a[2].mutable_grad() = torch::ones_like(a[2]);
  opt.step(0.1);
  EXPECT_TRUE(torch::equal(a[0], after[0]));
  EXPECT_FALSE(torch::equal(a[2], after[2]));
}

TEST_P(SgdStep, SavedStateContinuesIdentically) {
  auto a = sgd_params();
  Sgd opt(a, SgdOptions{}, GetParam());
  for (int s = 0; s < 3; ++s) {
    set_grads(a, s);
    opt.step(0.1);
  }
  torch::serialize::OutputArchive out;
  opt.save(out);
  // One folder per parameter: CTest runs the two cases in parallel processes.
  std::string f = tmp(std::string("sgd_state_") + (GetParam() ? "fused" : "foreach")) + "/sgd.pt";
  out.save_to(f);
  auto b = clone_params(a);
  Sgd resumed(b, SgdOptions{}, GetParam());
  torch::serialize::InputArchive in;
  in.load_from(f);
  resumed.load(in);
  for (int s = 3; s < 6; ++s) {
    set_grads(a, s);
    set_grads(b, s);
    opt.step(0.1);
    resumed.step(0.1);
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  // State for a different model is refused with a message naming the mismatch.
  auto other = sgd_params();
  other.pop_back();
  Sgd wrong(other, SgdOptions{}, GetParam());
  torch::serialize::InputArchive in2;
  in2.load_from(f);
  try {
    wrong.load(in2);
    FAIL() << "loaded state of another model";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("3 momentum buffers, this run needs 2"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Impl, SgdStep, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "fused" : "foreach"; });

TEST(GradScalerTest, OverflowSkipsTheStepAndBacksOffThenGrowsBack) {
  auto a = sgd_params();
  Sgd opt(a, SgdOptions{});
  GradScaler scaler(torch::kCPU, /*init_scale=*/1024.0, /*growth_factor=*/2.0, /*backoff_factor=*/0.5,
                    /*growth_interval=*/3);
  // The scaled loss's gradients come back divided by the scale, exactly (powers of two).
  auto w = torch::full({4}, 3.0, torch::requires_grad());
  scaler.scale((w * w).sum()).backward();
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({4}, 6.0 * 1024)));
  scaler.unscale({w});
  EXPECT_TRUE(torch::equal(w.grad(), torch::full({4}, 6.0)));
  scaler.update();  // 1 clean step

  set_grads(a, 0);
  a[1].mutable_grad()[5] = std::numeric_limits<float>::infinity();
  auto before = clone_params(a);
  const auto& found = scaler.unscale(a);
  EXPECT_EQ(found.item<float>(), 1.0f);
  opt.step(0.1, found);
  scaler.update();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], before[i])) << "tensor " << i;
  EXPECT_EQ(scaler.current_scale(), 512.0);

  for (int s = 1; s <= 3; ++s) {
    set_grads(a, s);
    opt.step(0.1, scaler.unscale(a));
    scaler.update();
  }
  EXPECT_FALSE(torch::equal(a[0], before[0]));
  EXPECT_EQ(scaler.current_scale(), 1024.0);  // 3 clean steps after the overflow: grown back
  a[0].mutable_grad() = torch::full_like(a[0], std::nan(""));
  scaler.unscale(a);
  scaler.update();
  EXPECT_EQ(scaler.current_scale(), 512.0);  // NaN counts as an overflow too
}

// ---- CUDA (each test skips without a GPU) ---------------------------------------------------------

TEST(Cuda, FusedSgdMatchesTorchOptimOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  if (!fused_sgd_available()) GTEST_SKIP() << "LibTorch < 2.4 has no fused SGD kernel";
  expect_sgd_matches_torch_optim(torch::Device(torch::kCUDA, 0), /*fused=*/true);
  expect_sgd_matches_torch_optim(torch::Device(torch::kCUDA, 0), /*fused=*/false);
}

TEST(Cuda, GradScalerSkipsAnOverflowOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::Device gpu(torch::kCUDA, 0);
  auto a = sgd_params(gpu);
  Sgd opt(a, SgdOptions{});
  GradScaler scaler(gpu, 1024.0);
  set_grads(a, 0);
  {
    torch::NoGradGuard ng;
    a[2].mutable_grad()[1][1] = std::numeric_limits<float>::infinity();
  }
  auto before = clone_params(a);
  opt.step(0.1, scaler.unscale(a));
  scaler.update();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], before[i]));
  EXPECT_EQ(scaler.current_scale(), 512.0);
}

// (runtime.device, runtime.amp): the CPU case runs everywhere and checks the check itself.
class DeviceTraining : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(DeviceTraining, LearnsAndAgreesWithCpuEvaluation) {
  const auto& [device, amp] = GetParam();
  if (device != "cpu" && !torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  Config c = small_config();
  c.runtime.device = *DeviceChoice::parse(device);
  c.runtime.amp = testing_util::enum_of<AmpMode>(amp);
  c.train.epochs = 4;
  c.train.drop.rate = 0.1;
  torch::Device dev = setup_device(c.runtime);
  ASSERT_EQ(dev.is_cuda(), device != "cpu");
  DataModule data(c.data, c.runtime.seed);
  Trainer tr(trainer_options(c), data, dev);
  EXPECT_EQ(enum_name(tr.amp()), amp);
  torch::manual_seed(42);
  GraphNet net(build_spec(c.model, 12));
  TrainPlan p;
  p.epochs = 4;
  p.checkpoint = tmp("device_" + device + "_" + amp) + "/checkpoint.pt";
  auto r = tr.run(net, p);
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  EXPECT_GT(r.final_eval.top1, 0.5);  // 4 classes
  for (const auto& w : net->parameters()) {
    EXPECT_EQ(w.device(), dev);
    EXPECT_EQ(w.scalar_type(), torch::kFloat);  // autocast keeps fp32 master weights
  }
  // The checkpoint loads on the CPU and evaluates (fp32) to what the trained model gives on its device.
  ModelOptions m;
  GraphNet cpu_net = load_model(p.checkpoint, m);
  auto cpu_src = data.loader(Split::kVal, {64, false, torch::kCPU, 0});
  auto dev_src = data.loader(Split::kVal, {64, false, dev, 0});
  auto on_cpu = evaluate(cpu_net, *cpu_src, torch::kCPU, AmpMode::kOff);
  auto on_dev = evaluate(net, *dev_src, dev, AmpMode::kOff);
  EXPECT_EQ(on_cpu.n, on_dev.n);
  EXPECT_NEAR(on_cpu.loss, on_dev.loss, 1e-3);
  EXPECT_NEAR(on_cpu.top1, on_dev.top1, 1.5 / double(on_cpu.n));
}

INSTANTIATE_TEST_SUITE_P(Device, DeviceTraining,
                         ::testing::Values(std::make_pair("cpu", "off"), std::make_pair("cpu", "bf16"),
                                           std::make_pair("cpu", "fp16"), std::make_pair("cuda", "off"),
                                           std::make_pair("cuda", "bf16"), std::make_pair("cuda", "fp16")),
                         [](const auto& info) { return info.param.first + "_" + info.param.second; });

TEST_F(Fixture, LossFallsAndAccuracyBeatsChance) {
  Config c = small_config();
  c.train.epochs = 4;
  GraphNet net = fresh(c);
  TrainPlan p;
  p.epochs = 4;
  auto r = train(c, net, p);
  ASSERT_EQ(r.history.size(), 4u);
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  EXPECT_GT(r.final_eval.top1, 0.5);  // 4 classes: chance is 0.25
  ASSERT_TRUE(r.test);
  EXPECT_GT(r.test->top1, 0.5);
}

TEST_F(Fixture, SameSeedSameWeights) {
  Config c = small_config();
  c.train.drop.rate = 0.2;
  GraphNet a = fresh(c), b = fresh(c);
  TrainPlan p;
  p.epochs = 2;
  p.seed = 11;
  auto ra = train(c, a, p), rb = train(c, b, p);
  EXPECT_EQ(ra.history.back().train_loss, rb.history.back().train_loss);
  EXPECT_TRUE(same_weights(a, b));
  p.seed = 12;
  GraphNet d = fresh(c);
  train(c, d, p);
  EXPECT_FALSE(same_weights(a, d));
}

TEST_F(Fixture, AmpOnTheCpuTrainsInReducedPrecision) {
  // Same seed, same data: fp32 runs repeat bit for bit, so any difference is the autocast arithmetic.
  Config c = small_config();
  TrainPlan p;
  p.epochs = 1;
  GraphNet fp32 = fresh(c);
  train(c, fp32, p);
  for (std::string amp : {"bf16", "fp16"}) {
    SCOPED_TRACE("amp " + amp);
    c.runtime.amp = testing_util::enum_of<AmpMode>(amp);
    GraphNet reduced = fresh(c);
    auto r = train(c, reduced, p);
    EXPECT_TRUE(std::isfinite(r.history.back().train_loss));
    EXPECT_FALSE(same_weights(fp32, reduced));
  }
}

TEST_F(Fixture, NonFiniteLossNamesEpochAndStepAndKeepsCheckpoint) {
  Config c = small_config();
  std::string dir = tmp("nan");
  TrainPlan p;
  p.epochs = 2;
  p.checkpoint = dir + "/ckpt.pt";
  GraphNet net = fresh(c);
  train(c, net, p);  // a good checkpoint exists
  auto before = std::filesystem::file_size(p.checkpoint);
  c.train.lr = 1e12;
  p.epochs = 4;
  GraphNet net2 = fresh(c);
  try {
    train(c, net2, p);
    FAIL() << "no error";
  } catch (const NumericError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("non-finite loss"), std::string::npos) << m;
    EXPECT_NE(m.find("epoch 3 step"), std::string::npos) << m;
  }
  EXPECT_EQ(std::filesystem::file_size(p.checkpoint), before);
}

TEST_F(Fixture, SavedModelRoundTripsToIdenticalOutput) {
  Config c = small_config();
  GraphNet net = fresh(c);
  TrainPlan p;
  p.epochs = 1;
  train(c, net, p);
  std::string f = save(c, net, "model");
  ModelOptions back;
  GraphNet loaded = load_model(f, back);
  EXPECT_EQ(back.arch, "resnet_cifar");
  net->eval();
  loaded->eval();
  auto x = torch::randn({3, 1, 12, 12});
  EXPECT_TRUE(torch::equal(net->forward(x), loaded->forward(x)));
  EXPECT_THROW(load_model(tmp("model") + "/none.pt", back), DataError);
}

TEST_F(Fixture, DistillationFromTeacherTrains) {
  Config c = small_config();
  GraphNet teacher = fresh(c);
  TrainPlan p;
  p.epochs = 2;
  train(c, teacher, p);
  c.train.kd.teacher = save(c, teacher, "kd");
  GraphNet student = fresh(c);
  auto r = train(c, student, p);
  EXPECT_TRUE(std::isfinite(r.history.back().train_loss));
  EXPECT_GT(r.final_eval.top1, 0.4);
}

namespace netadj {
namespace {

void flip_byte(const std::string& path, size_t at) {
  std::string b = read_file(path);
  b[at] = static_cast<char>(b[at] ^ 0x5A);
  write_file_atomic(path, b);
}

TEST(Checksum, TrailerDetectsTruncationAndBitFlips) {
  std::string body = "some archive bytes";
  std::string good = body + checksum_trailer(body);
  bool had = false;
  std::string copy = good;
  EXPECT_EQ(strip_checksum(copy, had), "");
  EXPECT_TRUE(had);
  EXPECT_EQ(copy, body);
  for (size_t i = 0; i < good.size(); ++i) {  // every single-byte change, trailer included, is caught
    copy = good;
    copy[i] = static_cast<char>(copy[i] ^ 1);
    EXPECT_NE(strip_checksum(copy, had), "") << "byte " << i;
  }
  copy = good.substr(0, good.size() - 1);
  EXPECT_NE(strip_checksum(copy, had), "");
  EXPECT_FALSE(had);
  copy = good + "x";  // padded
  EXPECT_NE(strip_checksum(copy, had), "");
}

using testing_util::small_config;

struct CheckpointFixture : ::testing::Test {
  Config c = small_config();
  DataModule data{c.data, c.runtime.seed};
  TrainResult run(const TrainPlan& p) {
    torch::manual_seed(1);
    GraphNet net(build_spec(c.model, c.data.synthetic.resolution));
    return Trainer(trainer_options(c), data, torch::kCPU).run(net, p);
  }
};

// A damaged checkpoint.pt is named, and the run continues from the one before it (checkpoint.pt.prev):
// the epochs after it are trained again and equal those of the undamaged run; the next save keeps the
// good .prev rather than the damaged file.
TEST_F(CheckpointFixture, DamagedCheckpointFallsBackToThePreviousOne) {
  std::string dir = testing_util::fresh_dir("ckpt_fallback");
  TrainPlan p;
  p.epochs = 2;
  p.checkpoint = dir + "/checkpoint.pt";
  TrainResult first = run(p);
  const std::string prev = previous_checkpoint(p.checkpoint);
  ASSERT_TRUE(file_exists(prev));  // epoch 1's, kept when epoch 2's replaced it
  const std::string epoch1 = read_file(prev);

  flip_byte(p.checkpoint, std::filesystem::file_size(p.checkpoint) / 2);
  TrainResult resumed = run(p);
  EXPECT_TRUE(resumed.resumed);
  ASSERT_EQ(resumed.history.size(), 2u);
  EXPECT_EQ(resumed.history[0].train_loss, first.history[0].train_loss);  // from the .prev checkpoint
  EXPECT_EQ(resumed.history[1].train_loss, first.history[1].train_loss);  // epoch 2 trained again, the same
  EXPECT_EQ(read_file(prev), epoch1);                                     // the damaged file did not replace it
  bool had = false;
  std::string now = read_file(p.checkpoint);
  EXPECT_EQ(strip_checksum(now, had), "");
}

TEST_F(CheckpointFixture, TruncatedCheckpointWithoutFallbackIsNamed) {
  std::string dir = testing_util::fresh_dir("ckpt_truncated");
  TrainPlan p;
  p.epochs = 1;
  p.checkpoint = dir + "/checkpoint.pt";
  run(p);
  ASSERT_FALSE(file_exists(previous_checkpoint(p.checkpoint)));
  std::string b = read_file(p.checkpoint);
  write_file_atomic(p.checkpoint, b.substr(0, b.size() * 2 / 3));
  p.epochs = 2;
  try {
    run(p);
    FAIL() << "a truncated checkpoint was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(p.checkpoint + ": "), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ExitCode::kData);
  }
}

}  // namespace
}  // namespace netadj
