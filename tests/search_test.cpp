#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "build_paths.h"
#include "netadj/nets/table.h"
#include "netadj/search/search.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;

namespace {
int64_t sum_flops(const std::vector<int64_t>& c) {
  int64_t s = 0;
  for (auto v : c) s += v;
  return s;
}

std::string tmp(const std::string& name) { return testing_util::fresh_dir("search_" + name); }
}  // namespace

TEST(DropPlan, EqualizesExpectedDroppedFlops) {
  ModelOptions m;
  m.depth = 20;
  ArchSpec s = build_spec(m, 32);
  auto g = spec_dflops(s);
  DropPlan d = drop_plan(s.channels, g, 0.05, 0.9);
  double mean = 0;
  for (double f : d.f) mean += f / double(d.f.size());
  for (size_t l = 0; l < d.p.size(); ++l) EXPECT_NEAR(d.p[l] * d.f[l], 0.05 * mean, 1e-6 * mean);
  EXPECT_TRUE(d.clamped.empty());
  // A layer with a tiny f gets clamped and reported.
  std::vector<int64_t> c = {16, 16, 1};
  DropPlan e = drop_plan(c, std::vector<int64_t>{100, 100, 1}, 0.5, 0.9);
  EXPECT_EQ(e.clamped, std::vector<int>{2});
  EXPECT_DOUBLE_EQ(e.p[2], 0.9);
}

TEST(Adjust, HandComputedStep) {
  SearchOptions s;
  s.update_num = 2;
  s.update_num_decay = 0.5;
  std::vector<int64_t> c = {10, 20, 30, 40};
  std::vector<double> fur = {0.3, 0.1, 0.4, 0.2};
  for (RescaleMode mode : {RescaleMode::kReference, RescaleMode::kExact}) {
    s.rescale = mode;
    auto a = adjust_channels(c, c, fur, {}, 0, s, sum_flops, sum_flops(c));
    EXPECT_EQ(a.moves.k, 2);
    EXPECT_EQ(a.moves.top, (std::vector<int>{2, 0}));
    EXPECT_EQ(a.moves.bottom, (std::vector<int>{1, 3}));
    EXPECT_EQ(a.moves.moved_top, a.moves.top);  // no gate: every candidate moves
    // 30 + 0.15*30 = 34.5 -> 34 (half to even); 10 + 0.14*10 = 11.4 -> 11; 20 - 3 = 17; 40 - 5.6 = 34.4 -> 34.
    EXPECT_EQ(a.adjusted, (std::vector<int64_t>{11, 17, 34, 34}));
    EXPECT_EQ(a.cost_adjusted, 96);
  }
}

TEST(Adjust, UpdateCountDecaysWithHalfToEven) {
  SearchOptions s;
  s.update_num = 2;
  s.update_num_decay = 0.5;
  EXPECT_EQ(update_count(s, 0, 10), 2);
  EXPECT_EQ(update_count(s, 1, 10), 2);  // round(1.5) = 2
  EXPECT_EQ(update_count(s, 2, 10), 1);
  EXPECT_EQ(update_count(s, 3, 10), 0);  // round(0.5) = 0
  EXPECT_EQ(update_count(s, 9, 10), 0);
  s.update_num = 6;
  EXPECT_EQ(update_count(s, 0, 6), 3);  // never more than half the layers
  // k = 0: nothing moves (the reference code widens everything here).
  SearchOptions z;
  z.update_num = 1;
  z.update_num_decay = 1;
  std::vector<int64_t> c = {10, 20, 30};
  for (RescaleMode mode : {RescaleMode::kReference, RescaleMode::kExact}) {
    z.rescale = mode;
    auto a = adjust_channels(c, c, {1, 2, 3}, {}, 5, z, sum_flops, sum_flops(c));
    EXPECT_EQ(a.channels, c);
    EXPECT_TRUE(a.moves.top.empty());
  }
}

TEST(Adjust, RateDecayMinChannelsAndTies) {
  SearchOptions s;
  s.update_num = 3;
  s.update_num_decay = 0;
  s.adjust_rate = 0.2;
  s.adjust_rate_decay = 0.05;
  s.min_channels = 9;
  std::vector<int64_t> c = {10, 10, 10, 10, 10, 10};
  std::vector<double> fur = {0.5, 0.5, 0.5, 0.1, 0.1, 0.1};  // ties: lower index first
  for (RescaleMode mode : {RescaleMode::kReference, RescaleMode::kExact}) {
    s.rescale = mode;
    s.adjust_rate_decay = 0.05;
    auto a = adjust_channels(c, c, fur, {}, 0, s, sum_flops, 1000000);
    EXPECT_EQ(a.moves.top, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(a.moves.bottom, (std::vector<int>{3, 4, 5}));
    // rates 0.2, 0.15, 0.1: widen 12, 11.5->12, 11; narrow 8->9 (min), 8.5->8->9, 9.
    EXPECT_EQ(a.adjusted, (std::vector<int64_t>{12, 12, 11, 9, 9, 9}));
    s.adjust_rate_decay = 1.0;  // a_r never negative
    auto b = adjust_channels(c, c, fur, {}, 0, s, sum_flops, 1000000);
    EXPECT_EQ(b.adjusted, (std::vector<int64_t>{12, 10, 10, 9, 10, 10}));
  }
}

TEST(Gate, HandBuiltTable) {
  // desc: 0 (0.9), 1 (0.5), 2 (0.45), 4 (0.3), 3 (0.1), 5 (0.05); k = 2.
  std::vector<double> fur = {0.9, 0.5, 0.45, 0.1, 0.3, 0.05};
  std::vector<double> se = {0.05, 0.1, 0.01, 0.01, 0.02, 0.1};
  Moves m = choose_moves(fur, se, 2, /*gate=*/true, 1.0);
  EXPECT_EQ(m.top, (std::vector<int>{0, 1}));
  EXPECT_EQ(m.bottom, (std::vector<int>{5, 3}));
  EXPECT_EQ(m.boundary_top, 2);
  EXPECT_EQ(m.boundary_bottom, 4);
  // bt = 2: 0.45 + 0.01 = 0.46. Layer 0: 0.9 - 0.05 = 0.85 > 0.46 moves; layer 1: 0.5 - 0.1 = 0.4 does not.
  EXPECT_EQ(m.moved_top, (std::vector<int>{0}));
  // bb = 4: 0.3 - 0.02 = 0.28. Layer 5: 0.05 + 0.1 = 0.15 < 0.28; layer 3: 0.1 + 0.01 = 0.11 < 0.28.
  EXPECT_EQ(m.moved_bottom, (std::vector<int>{5, 3}));
  // z = 3: layer 0: 0.9 - 0.15 = 0.75 > 0.45 + 0.03; layer 5: 0.05 + 0.3 = 0.35 > 0.3 - 0.06 stays.
  Moves w = choose_moves(fur, se, 2, true, 3.0);
  EXPECT_EQ(w.moved_top, (std::vector<int>{0}));
  EXPECT_EQ(w.moved_bottom, (std::vector<int>{3}));
  // Gate off: every candidate moves whatever the error bars.
  Moves off = choose_moves(fur, se, 2, false, 1.0);
  EXPECT_EQ(off.moved_top, off.top);
  EXPECT_EQ(off.moved_bottom, off.bottom);
  // No standard errors (empty): plain comparison with the boundary values.
  Moves plain = choose_moves(fur, {}, 2, true, 1.0);
  EXPECT_EQ(plain.moved_top, (std::vector<int>{0, 1}));
}

TEST(Gate, TiesAndZeroK) {
  // Ties: the top candidate 0 equals the boundary layer 1, so it is not separated even at z = 0.
  std::vector<double> fur = {0.5, 0.5, 0.5, 0.1};
  Moves m = choose_moves(fur, {0, 0, 0, 0}, 1, true, 0.0);
  EXPECT_EQ(m.top, (std::vector<int>{0}));
  EXPECT_EQ(m.boundary_top, 1);
  EXPECT_TRUE(m.moved_top.empty());
  EXPECT_EQ(m.bottom, (std::vector<int>{3}));
  EXPECT_EQ(m.boundary_bottom, 0);  // ascending order: 3, 0, 1, 2
  EXPECT_EQ(m.moved_bottom, (std::vector<int>{3}));
  // k = 0: nothing is a candidate, nothing moves, no boundary.
  Moves z = choose_moves(fur, {0, 0, 0, 0}, 0, true, 1.0);
  EXPECT_TRUE(z.top.empty() && z.bottom.empty() && z.moved_top.empty() && z.moved_bottom.empty());
  EXPECT_EQ(z.boundary_top, -1);
}

TEST(Gate, MovedLayersKeepTheirRanksRate) {
  SearchOptions s;
  s.update_num = 2;
  s.update_num_decay = 0;
  s.adjust_rate = 0.2;
  s.adjust_rate_decay = 0.1;
  s.gate = true;
  s.rescale = RescaleMode::kReference;
  std::vector<int64_t> c = {100, 100, 100, 100, 100, 100};
  std::vector<double> fur = {0.9, 0.5, 0.45, 0.1, 0.3, 0.05};
  std::vector<double> se = {0.05, 0.1, 0.01, 0.01, 0.02, 0.1};
  auto a = adjust_channels(c, c, fur, se, 0, s, sum_flops, 1000000);
  // Layer 0 (rank 0, rate 0.2) widens to 120; layer 1 did not pass the gate; bottom layers 5 (rank 0,
  // 0.2) and 3 (rank 1, 0.1) narrow to 80 and 90.
  EXPECT_EQ(a.adjusted, (std::vector<int64_t>{120, 100, 100, 90, 100, 80}));
}

TEST(Rescale, ExactCorrectionsFollowTheMoveDirections) {
  // cost = c0 + c1, target 23: the bisection gives (12, 12) = 24; one step down closes the gap.
  std::vector<int64_t> c = {10, 10};
  Rescaled free = rescale_exact(c, sum_flops, 23, 0.01, 1, 1, {0, 0});
  EXPECT_EQ(free.channels, (std::vector<int64_t>{11, 12}));  // the first layer that closes the gap
  EXPECT_TRUE(free.reached);
  EXPECT_EQ(free.corrections, 1);
  // Layer 0 was widened this iteration: it may not shrink, so layer 1 does.
  EXPECT_EQ(rescale_exact(c, sum_flops, 23, 0.01, 1, 1, {1, 0}).channels, (std::vector<int64_t>{12, 11}));
  // Both were widened: no correction is allowed; the closest vector comes back, marked not reached.
  Rescaled stuck = rescale_exact(c, sum_flops, 23, 0.01, 1, 1, {1, 1});
  EXPECT_EQ(stuck.channels, (std::vector<int64_t>{12, 12}));
  EXPECT_FALSE(stuck.reached);
  EXPECT_NEAR(stuck.rel_error, 1.0 / 23, 1e-12);
  // Every layer at the floor already above the target: the floor comes back.
  Rescaled floor = rescale_exact({8, 8}, sum_flops, 4, 0.005, 4, 4);
  EXPECT_EQ(floor.channels, (std::vector<int64_t>{4, 4}));
  EXPECT_FALSE(floor.reached);
}

TEST(Rescale, ExactUsesPairsWhenNoSingleStepHelps) {
  // cost = 10 c0 + 9 c1: the bisection stops at (10, 10) = 190, single steps move by 9 or 10, and only
  // the pair (c0 + 1, c1 - 1) reaches 191.
  CostFn cost = [](const std::vector<int64_t>& v) { return 10 * v[0] + 9 * v[1]; };
  Rescaled r = rescale_exact({10, 10}, cost, 191, 1e-4, 1, 1, {0, 0});
  EXPECT_EQ(r.channels, (std::vector<int64_t>{11, 9}));
  EXPECT_TRUE(r.reached);
  EXPECT_EQ(r.corrections, 1);
}

TEST(Rescale, ExactKeepsAVectorAlreadyOnBudget) {
  std::vector<int64_t> c = {16, 24, 40};
  Rescaled r = rescale_exact(c, sum_flops, 80, 0.005, 8, 4);
  EXPECT_EQ(r.channels, c);
  EXPECT_EQ(r.scale, 1.0);
  EXPECT_EQ(r.corrections, 0);
}

TEST(Refine, RepeatsDoubleUntilSeparated) {
  // Alternating values mu +- 0.3 have the mean mu and a standard error 0.3 / sqrt(n - 1) at even n:
  // 0.3, 0.173, 0.113, 0.077 for n = 2, 4, 8, 16. Top (k = 1): layer 0 against layer 1 needs
  // se0 + se1 < 0.2 (n = 16); bottom: layer 3 against layer 2 needs se2 + se3 < 0.3 (n = 8).
  const std::vector<double> mu = {1.0, 0.8, 0.3, 0.0};
  int calls = 0;
  auto measure = [&](int l, int i) {
    ++calls;
    return mu[size_t(l)] + (i % 2 ? 0.3 : -0.3);
  };
  auto start = [&] {
    std::vector<std::vector<double>> v(4);
    for (int l = 0; l < 4; ++l) v[size_t(l)] = {measure(l, 0), measure(l, 1)};
    return v;
  };
  std::vector<std::vector<double>> values = start();
  calls = 0;
  int saved = 0;
  std::vector<int> pending;
  refine_fur(values, FurRefine{1, 1.0, 64}, pending, measure, [&] { ++saved; });
  std::vector<size_t> n;
  for (const auto& v : values) n.push_back(v.size());
  EXPECT_EQ(n, (std::vector<size_t>{16, 16, 8, 8}));
  EXPECT_EQ(calls, 14 + 14 + 6 + 6);
  EXPECT_TRUE(pending.empty());
  EXPECT_TRUE(layers_to_refine(values, FurRefine{1, 1.0, 64}).empty());
  EXPECT_EQ(saved, 3 * 2 + 2 * 2);  // layers 0, 1 doubled three times, 2, 3 twice
  // The cap: at most 8 repeats, whatever is still unseparated.
  values = start();
  refine_fur(values, FurRefine{1, 1.0, 8}, pending, measure, nullptr);
  n.clear();
  for (const auto& v : values) n.push_back(v.size());
  EXPECT_EQ(n, (std::vector<size_t>{8, 8, 8, 8}));
  // k = 0: no boundary, nothing refined.
  values = start();
  refine_fur(values, FurRefine{0, 1.0, 64}, pending, measure, nullptr);
  EXPECT_EQ(values[0].size(), 2u);
}

TEST(Refine, InterruptedAtAnyLayerResumesToTheSameRepeats) {
  // Means 1.0, 0.95, 0.3, 0.0 with +-0.3: after one round, layer 0 alone would separate from a layer 1
  // that has not doubled yet; the saved pending round makes the resumed run double layer 1 anyway.
  const std::vector<double> mu = {1.0, 0.95, 0.3, 0.0};
  auto measure = [&](int l, int i) { return mu[size_t(l)] + (i % 2 ? 0.3 : -0.3); };
  auto start = [&] {
    std::vector<std::vector<double>> v(4);
    for (int l = 0; l < 4; ++l) v[size_t(l)] = {measure(l, 0), measure(l, 1)};
    return v;
  };
  const FurRefine r{1, 1.0, 32};
  std::vector<std::vector<double>> want = start();
  std::vector<int> pending;
  refine_fur(want, r, pending, measure, nullptr);
  struct Stop {};
  for (int stop_after = 1; stop_after < 12; ++stop_after) {
    std::vector<std::vector<double>> values = start();
    std::vector<int> p;
    int done = 0;
    // The state a kill leaves: the values and pending list as of the last after_layer() call.
    std::vector<std::vector<double>> saved_values = values;
    std::vector<int> saved_pending;
    try {
      refine_fur(values, r, p, measure, [&] {
        saved_values = values;
        saved_pending = p;
        if (++done == stop_after) throw Stop{};
      });
    } catch (const Stop&) {
    }
    refine_fur(saved_values, r, saved_pending, measure, nullptr);
    EXPECT_EQ(saved_values, want) << "stopped after " << stop_after << " layers";
  }
}

namespace {
// Random FUR and se for c0's layers, one adjustment step with `s`, and the budget checks.
void expect_exact_budget(const ArchInfo& info, Budget budget, int multiple, std::mt19937& rng) {
  ModelOptions m = testing_util::registry_model(info.name);
  const int res = design_resolution(m);
  const auto c0 = default_channels(m);
  CostFn cost = budget == Budget::kFlops ? flops_fn(m, res) : BudgetCost::cost_fn(make_budget(m, res, budget));
  const int64_t b0 = cost(c0);
  SearchOptions s;
  // Three moves each way on a network of six slots (the example file) would leave no layer free to correct.
  s.update_num = c0.size() >= 12 ? 3 : 1;
  s.channel_multiple = multiple;
  s.budget = budget;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  auto c = c0;
  for (int t = 0; t < 3; ++t) {
    std::vector<double> fur(c0.size()), se(c0.size());
    for (auto& v : fur) v = u(rng);
    const ChannelGrid grid = channel_grid(s, build_spec(m, res));
    Adjustment a = adjust_channels(c, c0, fur, se, 0, s, cost, b0, grid);
    const std::string what = info.name + " " + enum_name(budget) + " x" + std::to_string(multiple) + " step " +
                             std::to_string(t) + " rel " + std::to_string(a.rescaled.rel_error);
    EXPECT_TRUE(a.rescaled.reached) << what;
    EXPECT_LE(std::abs(double(cost(a.channels) - b0)) / double(b0), s.flops_tolerance) << what;
    EXPECT_EQ(a.rescaled.cost, cost(a.channels)) << what;
    for (size_t l = 0; l < a.channels.size(); ++l) {
      EXPECT_EQ(a.channels[l] % multiple, 0) << what;
      EXPECT_EQ(a.channels[l] % grid.multiple[l], 0) << what;
      EXPECT_GE(a.channels[l], std::max(min_width(s.min_channels, multiple), grid.min[l])) << what;
    }
    build_spec(m, res, a.channels);  // a valid vector for the family
    c = a.channels;
  }
}
}  // namespace

TEST(Rescale, ExactWithinToleranceOnEveryArchitectureBudgetAndMultiple) {
  std::mt19937 rng(5);
  for (const auto& info : arch_registry())
    for (Budget budget : {Budget::kFlops, Budget::kParams})
      for (int multiple : {1, 8})
        // The example network file's six narrow slots (4..32 wide) on a grid of 8 cannot meet 0.5%.
        if (multiple == 1 || info.name != "graph") expect_exact_budget(info, budget, multiple, rng);
}

TEST(Rescale, WithinToleranceOnEveryArchitecture) {
  std::mt19937 rng(3);
  for (const auto& info : arch_registry()) {
    if (info.name == "graph") continue;  // a grouped conv's multiple needs the exact rescaling (above)
    ModelOptions m = testing_util::registry_model(info.name);
    int res = info.default_resolution;
    auto c0 = default_channels(m);
    CostFn f = [&](const std::vector<int64_t>& c) { return spec_flops(build_spec(m, res, c)); };
    int64_t f0 = f(c0);
    for (int trial = 0; trial < 3; ++trial) {
      auto c = c0;
      std::uniform_real_distribution<double> u(0.7, 1.4);
      for (auto& v : c) v = std::max<int64_t>(1, std::llround(double(v) * u(rng)));
      auto [scaled, s] = rescale(c, f, f0, 0.01);
      double e = double(f(scaled) - f0) / double(f(scaled));
      EXPECT_LE(std::abs(e), 0.01) << info.name << " trial " << trial << " s=" << s;
      for (auto v : scaled) EXPECT_GE(v, 1);
    }
  }
}

TEST(Fur, UnusedLayerHasZeroFurAndRanksLast) {
  Config c = testing_util::small_config();
  DataModule data(c.data, 0);
  torch::manual_seed(0);
  GraphNet net(build_spec(c.model, 12));
  Trainer tr(trainer_options(c), data, torch::kCPU);
  TrainPlan p;
  p.epochs = 3;
  p.test_at_end = false;
  tr.run(net, p);
  // Silence cell 2's branch: its second conv's BN outputs exactly zero, so that layer's output is
  // provably unused and dropping its channels changes nothing.
  {
    torch::NoGradGuard ng;
    for (auto& kv : net->named_parameters())
      if (kv.key().find("s2_c0_conv2_bn") != std::string::npos) kv.value().zero_();
  }
  int unused = -1;
  for (size_t l = 0; l < net->spec().layers.size(); ++l)
    if (net->spec().layers[l].name == "s2.c0.conv2") unused = int(l);
  ASSERT_GE(unused, 0);
  auto val = data.loader(Split::kVal, {128, false, torch::kCPU, 0});
  FurOptions fo;
  fo.repeats = 3;
  fo.base_drop_rate = 0.2;
  FurResult r = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 9);
  EXPECT_NEAR(r.fur[size_t(unused)], 0.0, 1e-6);
  EXPECT_NEAR(r.stderr_[size_t(unused)], 0.0, 1e-6);
  EXPECT_EQ(r.rank[size_t(unused)], net->num_slots() - 1) << "FURs: " << json(r.fur).dump();
  // Reproducible with the seed; another seed gives other masks.
  FurResult again = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 9);
  EXPECT_EQ(again.fur, r.fur);
  FurResult other = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 10);
  EXPECT_NE(other.fur, r.fur);
  // Resuming from a partial record gives the same numbers.
  FurProgress partial;
  int calls = 0;
  estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 9, {}, [&](const FurProgress& pj) {
    if (++calls == 3) partial = pj;
  });
  ASSERT_TRUE(partial.base.has_value());
  ASSERT_FALSE(partial.layers.empty());
  ASSERT_LT(partial.layers.size(), size_t(net->num_slots()));
  FurResult resumed = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 9, partial);
  EXPECT_EQ(resumed.fur, r.fur);
  // The paper's accuracy metric: base accuracy minus accuracy under dropout, same ranking of the
  // unused layer; gaussian dropout leaves it at zero too.
  fo.metric = FurMetric::kAccuracy;
  fo.drop_type = DropType::kGaussian;
  FurResult acc = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 9);
  EXPECT_NEAR(acc.fur[size_t(unused)], 0.0, 1e-9);
  double mean = 0;
  for (double v : acc.fur) mean += v / double(acc.fur.size());
  EXPECT_GT(mean, 0.0) << json(acc.fur).dump();  // dropping channels costs accuracy on average
}

namespace {

// Runs the real binary; returns its exit status. `kill_when` (optional) is polled and, once true,
// the process is killed with SIGKILL (a crash at an arbitrary moment).
int run_cli(const std::vector<std::string>& args, const std::function<bool()>& kill_when = nullptr) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string bin = NETADJ_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (kill_when && kill_when()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -9;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

json search_json(const std::string& dir) { return testing_util::computed_part(read_json(dir + "/search.json")); }

// Kill predicate: search.json records at least `n` iterations (false while it is missing or being replaced).
std::function<bool(const std::string&)> recorded_at_least(size_t n) {
  return [n](const std::string& d) {
    try {
      return file_exists(d + "/search.json") && read_json(d + "/search.json")["iterations"].size() >= n;
    } catch (...) {
      return false;
    }
  };
}

}  // namespace

TEST(SearchCli, TwoIterationsEndToEnd) {
  std::string d = tmp("e2e");
  ASSERT_EQ(run_cli({"--quiet", "search", "--config", kSmoke, "--out", d}), 0);
  json s = search_json(d);
  ASSERT_EQ(s["iterations"].size(), 2u);
  EXPECT_TRUE(s["done"].get<bool>());
  for (const char* f : {"config.json", "split.json", "log.txt", "metrics.jsonl", "best_channels.json", "times.json",
                        "iter_0/model.pt", "iter_0/fur.json"})
    EXPECT_TRUE(file_exists(d + "/" + f)) << f;
  // The run's log keeps every search step (with the channel vector and FLOPs) even when the console is quiet.
  std::string log = read_file(d + "/log.txt");
  EXPECT_NE(log.find("iteration 1/2: channels ["), std::string::npos) << log;
  EXPECT_NE(log.find("FLOPs after adjustment"), std::string::npos) << log;
  const auto& it0 = s["iterations"][0];
  EXPECT_EQ(it0["channels"], s["init_channels"]);
  EXPECT_EQ(it0["fur"].size(), it0["channels"].size());
  EXPECT_EQ(it0["fur_stderr"].size(), it0["channels"].size());
  EXPECT_EQ(s["iterations"][1]["channels"], it0["next_channels"]);
  EXPECT_NE(it0["next_channels"], it0["channels"]);  // k = 2: channels moved
  int64_t f0 = s["f0"].get<int64_t>();
  EXPECT_LE(std::abs(double(it0["next_flops"].get<int64_t>() - f0)) / double(f0), 0.02);
  json best = read_json(d + "/best_channels.json");
  EXPECT_EQ(best["channels"], s["best"]["channels"]);
  // fur and adjust on the search's outputs, as a user would drive a step by hand.
  std::string fur_out = d + "/fur_cli.json", adj_out = d + "/adjust_cli.json";
  ASSERT_EQ(std::system((std::string(NETADJ_BINARY) + " fur --config " + kSmoke + " --checkpoint " + d +
                         "/iter_0/model.pt --json > " + fur_out + " 2>/dev/null")
                            .c_str()),
            0);
  json fj = read_json(fur_out);
  for (const char* k : {"fur", "fur_stderr", "drop_p", "rank", "channels", "base"}) EXPECT_TRUE(fj.contains(k)) << k;
  EXPECT_EQ(fj["channels"], it0["channels"]);
  { std::ofstream(d + "/c.json") << json{{"channels", it0["channels"]}}.dump(); }
  ASSERT_EQ(std::system((std::string(NETADJ_BINARY) + " adjust --config " + kSmoke + " --channels " + d +
                         "/c.json --fur " + fur_out + " --iteration 0 --json > " + adj_out)
                            .c_str()),
            0);
  json aj = read_json(adj_out);
  for (const char* k : {"channels", "flops", "top", "bottom", "scale"}) EXPECT_TRUE(aj.contains(k)) << k;
  EXPECT_EQ(aj["top"].size(), 2u);
  // A finished search resumed is a no-op that succeeds.
  EXPECT_EQ(run_cli({"search", "--resume", d}), 0);
  EXPECT_EQ(search_json(d), s);
}

// Killed in each kind of state a search passes through (training, FUR, between iterations), a resumed search
// records what an uninterrupted one does.
namespace {
// `tag` names the temporary folders (tests run side by side).
void expect_resume_after_kill_equals_uninterrupted(const std::string& config, const std::string& tag) {
  std::string ref = tmp(tag + "_ref");
  ASSERT_EQ(run_cli({"search", "--config", config, "--out", ref}), 0);
  json want = search_json(ref);
  struct Point {
    const char* name;
    std::function<bool(const std::string&)> when;
  };
  std::vector<Point> points = {
      {"mid-training of iteration 1", [](const std::string& d) { return file_exists(d + "/iter_1/checkpoint.pt"); }},
      {"mid-FUR of iteration 0",
       [](const std::string& d) {
         if (!file_exists(d + "/iter_0/fur_partial.json")) return false;
         try {
           return read_json(d + "/iter_0/fur_partial.json")["layers"].size() >= 2;
         } catch (...) {
           return false;
         }
       }},
      {"right after iteration 0 was recorded", recorded_at_least(1)},
  };
  for (const auto& p : points) {
    std::string d = tmp(tag + "_kill");
    int rc = run_cli({"search", "--config", config, "--out", d}, [&] { return p.when(d); });
    ASSERT_EQ(rc, -9) << config << " " << p.name << ": finished before it could be killed";
    ASSERT_EQ(run_cli({"search", "--resume", d}), 0) << config << " " << p.name;
    json got = search_json(d);
    EXPECT_EQ(got, want) << config << " " << p.name;
  }
}
}  // namespace

TEST(SearchCli, ResumeAfterKillAtSeveralPointsEqualsUninterrupted) {
  expect_resume_after_kill_equals_uninterrupted(kSmoke, "smoke");
}

// The same for a network file (the example: an add, squeeze-excitation, a grouped conv, a concatenation); the
// run directory carries the network, so the resume reads no file outside it.
TEST(SearchCli, NetworkFileSearchResumesAfterKillAndCarriesItsNetwork) {
  const std::string config = std::string(NETADJ_SOURCE_DIR) + "/configs/graph_synthetic.json";
  expect_resume_after_kill_equals_uninterrupted(config, "graph");
  std::string d = tmp("graph_carry");
  ASSERT_EQ(run_cli({"--quiet", "search", "--config", config, "--out", d}), 0);
  const json stored = read_json(d + "/config.json")["model"]["graph"];
  EXPECT_EQ(stored, read_json(testing_util::example_graph_path()));
  json s = search_json(d);
  ASSERT_EQ(s["iterations"].size(), 2u);
  EXPECT_NE(s["iterations"][0]["next_channels"], s["iterations"][0]["channels"]);
  // The grouped conv ("down", groups 4) stays a multiple of 4.
  EXPECT_EQ(s["iterations"][1]["channels"][3].get<int64_t>() % 4, 0);
}

namespace {
// Mean training loss of `label`'s first epoch in a run's metrics.jsonl.
double first_epoch_loss(const std::string& dir, const std::string& label) {
  std::ifstream in(dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    if (j.value("label", "") == label && j.value("epoch", -1) == 0) return j.at("train_loss").get<double>();
  }
  ADD_FAILURE() << "no epoch 0 of " << label << " in " << dir;
  return 0;
}
}  // namespace

// search.warm_start: iteration 1 starts from iteration 0's trained weights mapped onto its widths and
// trains ceil(30%) of the epochs; the record says so; killed before or during that iteration, the search
// resumes to the same result as an uninterrupted one.
TEST(SearchCli, WarmStartRecordsItselfStartsTrainedAndResumesAfterKill) {
  const std::vector<std::string> cold_args = {"search", "--config",      kSmoke, "--set", "search.iterations=3",
                                              "--set",  "train.epochs=4"};
  std::vector<std::string> warm_args = cold_args;
  warm_args.insert(warm_args.end(), {"--set", "search.warm_start=true"});
  auto with_out = [](std::vector<std::string> a, const std::string& d) {
    a.insert(a.end(), {"--out", d});
    return a;
  };
  std::string cold = tmp("cold"), ref = tmp("warm");
  // The cold search is compared over iterations 0 and 1 only.
  std::vector<std::string> cold_two = cold_args;
  cold_two.insert(cold_two.end(), {"--set", "search.iterations=2"});
  ASSERT_EQ(run_cli(with_out(cold_two, cold)), 0);
  ASSERT_EQ(run_cli(with_out(warm_args, ref)), 0);
  json want = search_json(ref), c = search_json(cold);
  const auto& its = want["iterations"];
  ASSERT_EQ(its.size(), 3u);
  EXPECT_TRUE(its[0]["warm_from"].is_null());
  EXPECT_EQ(its[0]["epochs"], 4);
  EXPECT_EQ(its[1]["warm_from"], 0);
  EXPECT_EQ(its[1]["epochs"], 2);  // ceil(0.3 * 4)
  EXPECT_EQ(its[2]["warm_from"], 1);
  EXPECT_TRUE(c["iterations"][1]["warm_from"].is_null());
  // Iteration 0 is the same search; iteration 1 trains the same vector, warm from a trained network: its
  // first epoch's loss is below the cold one's.
  EXPECT_EQ(c["iterations"][0], its[0]);
  ASSERT_EQ(c["iterations"][1]["channels"], its[1]["channels"]);
  EXPECT_LT(first_epoch_loss(ref, "iter 1"), 0.8 * first_epoch_loss(cold, "iter 1"));
  struct Point {
    const char* name;
    std::function<bool(const std::string&)> when;
  };
  std::vector<Point> points = {
      {"right after iteration 0 was recorded", recorded_at_least(1)},
      {"mid-training of iteration 2", [](const std::string& d) { return file_exists(d + "/iter_2/checkpoint.pt"); }},
  };
  for (const auto& p : points) {
    std::string d = tmp("warmkill");
    ASSERT_EQ(run_cli(with_out(warm_args, d), [&] { return p.when(d); }), -9) << p.name << ": finished first";
    ASSERT_EQ(run_cli({"search", "--resume", d}), 0) << p.name;
    EXPECT_EQ(search_json(d), want) << p.name;
  }
}

TEST(SearchCli, BadInputsExitWithOneLine) {
  EXPECT_EQ(run_cli({"search", "--config", "configs/does-not-exist.json"}), 2);
  std::string d = tmp("bad");
  std::ofstream(d + "/typo.json") << R"({"train": {"epocs": 3}})";
  EXPECT_EQ(run_cli({"search", "--config", d + "/typo.json"}), 2);
  EXPECT_EQ(run_cli({"search", "--config", kSmoke, "--set", "data.dataset=cifar10", "--set",
                     "data.root=" + d + "/nothing", "--out", d + "/run"}),
            3);
  EXPECT_EQ(run_cli({"search", "--resume", d + "/nothing"}), 2);
  // A diverging run stops with exit code 4 and leaves no half-written record.
  EXPECT_EQ(run_cli({"search", "--config", kSmoke, "--set", "train.lr=1e12", "--out", d + "/nan"}), 4);
  EXPECT_TRUE(file_exists(d + "/nan/config.json"));
  EXPECT_FALSE(file_exists(d + "/nan/search.json"));
  EXPECT_EQ(run_cli({"flops", "--set", "model.channels=[1,2]"}), 2);
}

// FUR with the prefix cache equals FUR without it (same seed): the cache off, a cap that holds only the
// first batches for some layers (the rest evaluated in full), and a cap that holds all; on ResNet (adds,
// zero-padded shortcuts), DenseNet (concatenations, pre-activation BN) and MnasNet (depthwise,
// squeeze-excitation). The property is structural, so small widths and two validation batches suffice.
TEST(FurCache, EqualsUncachedWithFullAndPartialCache) {
  constexpr int64_t kPartialCapMb = 1;
  for (const char* arch : {"resnet_cifar", "densenet_cifar", "mnasnet_cifar"}) {
    const std::string name = arch;
    Config c = testing_util::small_config();
    c.model.arch = arch;
    c.model.depth = name == "densenet_cifar" ? 10 : name == "resnet_cifar" ? 8 : find_arch(arch).typical_depth;
    c.model.width = name == "mnasnet_cifar" ? 0.25 : 1.0;
    DataModule data(c.data, 0);
    torch::manual_seed(1);
    GraphNet net(build_spec(c.model, 12));
    {
      // BN statistics away from the identity so the network's activations are not trivial.
      torch::NoGradGuard ng;
      for (const auto& m : net->modules(false))
        if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
          bn->running_mean.uniform_(-0.2, 0.2);
          bn->running_var.uniform_(0.5, 2.0);
        }
    }
    auto val = data.loader(Split::kVal, {64, false, torch::kCPU, 0});  // 2 batches of 64
    {
      // The small cap must really be partial: for some layer one batch's prefix fits and both do not.
      torch::NoGradGuard ng;
      net->eval();
      val->start_epoch(0);
      auto b = val->next();
      ASSERT_TRUE(b.has_value());
      ASSERT_EQ(b->x.size(0), 64);
      bool partial = false;
      for (int l = 0; l < net->num_slots() && !partial; ++l) {
        int64_t bytes = b->y.nbytes();
        for (const auto& t : net->forward_prefix(b->x, net->drop_op(l)))
          if (t.defined()) bytes += int64_t(t.nbytes());
        partial = bytes <= (kPartialCapMb << 20) && 2 * bytes > (kPartialCapMb << 20);
      }
      EXPECT_TRUE(partial) << arch << ": a " << kPartialCapMb << " MB cap holds no layer's prefixes partially";
    }
    FurOptions fo;
    fo.repeats = 2;
    fo.base_drop_rate = 0.2;
    fo.cache_mb = 0;
    FurResult off = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 21);
    for (int mb : {int(kPartialCapMb), 1024}) {
      fo.cache_mb = mb;
      FurResult on = estimate_fur(net, *val, fo, torch::kCPU, AmpMode::kOff, 21);
      ASSERT_EQ(on.fur.size(), off.fur.size());
      for (size_t l = 0; l < off.fur.size(); ++l) {
        EXPECT_NEAR(on.fur[l], off.fur[l], 1e-6) << arch << " cache_mb " << mb << " layer " << l;
        EXPECT_NEAR(on.stderr_[l], off.stderr_[l], 1e-6) << arch << " cache_mb " << mb << " layer " << l;
      }
      EXPECT_NEAR(on.base.loss, off.base.loss, 1e-9);
    }
  }
}
