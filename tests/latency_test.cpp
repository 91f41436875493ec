// Latency tables and the latency budget: the file format, interpolation, refusal of a table measured for another
// deployment, the rescaling to predicted latency on every architecture, FUR's equalization, and the search.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <set>

#include "build_paths.h"
#include "cli_util.h"
#include "error_text.h"
#include "netadj/backends/timing.h"
#include "netadj/cost/latency.h"
#include "netadj/records/records.h"
#include "netadj/search/search.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using testing_util::run_cli;
using testing_util::run_cli_full;

namespace {

const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

// A table whose times are a smooth function of each op's work (no timing): what the model must reproduce.
double synthetic_ms(const LatencyEntry& e, int64_t cin, int64_t cout) {
  const double hw = double(e.res_out) * e.res_out;
  if (e.kind == "add") return 1e-3 + 2e-7 * double(std::max(cin, cout)) * hw;
  if (e.kind == "dwconv" || e.kind == "se") return 2e-3 + 1e-7 * double(cout) * hw * e.kernel * e.kernel;
  return 5e-3 + 1e-8 * double(cin) / double(e.groups) * double(cout) * hw * e.kernel * e.kernel;
}

LatencyTable synthetic_table(const ArchSpec& spec, int points = 4) {
  LatencyTable t;
  t.device = "synthetic";
  t.torch_version = "test";
  t.arch = spec.arch;
  t.resolution = spec.resolution;
  t.channels = spec.channels;
  t.entries = latency_entries(spec, 1, points);
  for (LatencyEntry& e : t.entries)
    for (size_t i = 0; i < e.ms.size(); ++i)
      for (size_t j = 0; j < e.out.size(); ++j) e.ms[i][j] = synthetic_ms(e, e.one_d() ? e.out[j] : e.in[i], e.out[j]);
  t.rest_ms = 0.25;
  return t;
}

ArchSpec small_spec() {
  const Config c = testing_util::small_config();
  return build_spec(c.model, 12);
}

}  // namespace

// A kernel runs a conv with its folded BatchNorm, the ReLU after it and a pre-activation, a sum with its ReLU, a
// squeeze-excitation as one block: the latency model finds them in the plain ops a family writes.
TEST(LatencyTable, EntriesTimeWhatAKernelRunsTogether) {
  struct Count {
    int conv = 0, conv_relu = 0, conv_preact = 0, conv_res1 = 0, add_relu = 0, se = 0;
  };
  auto count = [](const std::string& arch, int depth) {
    ModelOptions m;
    m.arch = arch;
    m.depth = depth;
    m.num_classes = 10;
    Count n;
    for (const LatencyEntry& e : latency_entries(build_spec(m, 32), 1, 2)) {
      const bool conv = e.kind == "conv" || e.kind == "dwconv";
      n.conv += conv;
      n.conv_relu += conv && e.relu;
      n.conv_preact += conv && e.preact;
      n.conv_res1 += conv && e.res_out == 1;
      n.add_relu += e.kind == "add" && e.relu;
      n.se += e.kind == "se";
      EXPECT_TRUE(!conv || e.bias || arch == "densenet_cifar") << arch << " " << e.name;  // its BN folded
    }
    return n;
  };
  const Count resnet = count("resnet_cifar", 8);  // the stem, and per cell conv1 (ReLU), conv2, the sum (ReLU)
  EXPECT_EQ(resnet.conv, 7);
  EXPECT_EQ(resnet.conv_relu, 3);
  EXPECT_EQ(resnet.add_relu, 3);
  const Count dense = count("densenet_cifar", 10);  // 6 layers and 2 transitions after BN and ReLU
  EXPECT_EQ(dense.conv, 9);
  EXPECT_EQ(dense.conv_preact, 8);
  EXPECT_EQ(dense.conv_relu, 0);
  const Count mnas = count("mnasnet_cifar", 20);  // 8 blocks with squeeze-excitation, its convs inside the block
  EXPECT_EQ(mnas.se, 8);
  EXPECT_EQ(mnas.conv_res1, 0);
}

TEST(LatencyTable, RoundTripsThroughItsFileWithUnmeasuredTimesAsNull) {
  LatencyTable t = synthetic_table(small_spec());
  t.entries[1].ms[0][1] = std::nan("");  // an interrupted measurement
  t.rest_ms.reset();
  t.ms_per_mparam = 0.125;
  t.calibration.push_back({t.channels, 1234, 0.5, 0.375});
  const std::string f = testing_util::fresh_dir("lut_roundtrip") + "/lut.json";
  write_latency_table(f, t);
  const nlohmann::json j = read_json(f);
  EXPECT_EQ(j["format"], kLatencyTableFormat);
  EXPECT_EQ(j["version"], kLatencyTableVersion);
  EXPECT_TRUE(j["entries"][1]["ms"][0][1].is_null());
  EXPECT_TRUE(j["rest_ms"].is_null());
  const LatencyTable back = read_latency_table(f);
  EXPECT_EQ(latency_table_json(back), latency_table_json(t));
  EXPECT_FALSE(back.complete());
  EXPECT_FALSE(back.entries[1].complete());
  EXPECT_TRUE(back.entries[0].complete());
  // A malformed table names the file and the field.
  nlohmann::json bad = j;
  bad["entries"][0]["out"] = {8, 4};
  write_json_atomic(f, bad);
  const std::string e = testing_util::error_text<DataError>([&] { read_latency_table(f); });
  EXPECT_NE(e.find(f), std::string::npos) << e;
  EXPECT_NE(e.find("entries[0].out"), std::string::npos) << e;
  bad = j;
  bad["version"] = kLatencyTableVersion + 1;
  write_json_atomic(f, bad);
  EXPECT_NE(testing_util::error_text<DataError>([&] { read_latency_table(f); }).find("version"), std::string::npos);
  bad = j;
  bad["ms_per_mparam"] = -1;
  write_json_atomic(f, bad);
  EXPECT_NE(testing_util::error_text<DataError>([&] { read_latency_table(f); }).find("ms_per_mparam"),
            std::string::npos);
  // A version 1 table (no weight term) is read with a weight term of 0.
  nlohmann::json v1 = j;
  v1["version"] = 1;
  v1.erase("ms_per_mparam");
  v1.erase("calibration");
  write_json_atomic(f, v1);
  const LatencyTable old = read_latency_table(f);
  EXPECT_EQ(old.ms_per_mparam, 0.0);
  EXPECT_TRUE(old.calibration.empty());
  EXPECT_EQ(latency_table_json(old)["entries"], j["entries"]);
}

TEST(LatencyTable, CalibrationFitsTheRestAndAWeightTermToWholeNetworkTimes) {
  const Config c = testing_util::small_config();
  const ArchSpec spec = small_spec();
  LatencyTable t = synthetic_table(spec);
  const LatencyModel ops(t);  // rest 0.25
  std::vector<ArchSpec> specs{spec};
  for (int k = 1; k <= 4; ++k) {
    std::vector<int64_t> w = spec.channels;
    for (size_t l = 0; l < w.size(); ++l) w[l] += int64_t((k * (l + 2)) % 5);
    specs.push_back(build_spec(c.model, 12, w));
  }
  auto whole = [&](double rest, double slope) {
    std::vector<double> ms;
    for (const ArchSpec& s : specs)
      ms.push_back(ops.predict_ms(s) - 0.25 + rest + slope * double(spec_params(s)) / 1e6);
    return ms;
  };
  // Times that are exactly ops + rest + slope x params: both recovered, and the model reproduces every time.
  calibrate_latency_table(t, specs, whole(0.5, 3.0));
  EXPECT_NEAR(t.rest_ms.value(), 0.5, 1e-9);
  EXPECT_NEAR(t.ms_per_mparam, 3.0, 1e-6);
  ASSERT_EQ(t.calibration.size(), specs.size());
  EXPECT_EQ(t.calibration[2].channels, specs[2].channels);
  EXPECT_EQ(t.calibration[2].params, spec_params(specs[2]));
  EXPECT_DOUBLE_EQ(t.network_ms, whole(0.5, 3.0)[0]);
  EXPECT_EQ(t.channels, spec.channels);
  const LatencyModel fitted(t);
  for (size_t k = 0; k < specs.size(); ++k) EXPECT_NEAR(fitted.predict_ms(specs[k]), whole(0.5, 3.0)[k], 1e-9) << k;
  EXPECT_NEAR(fitted.predict(specs[1]).weights_ms, 3.0 * double(spec_params(specs[1])) / 1e6, 1e-9);
  // More parameters costing less time would make the prediction fall with a width: the slope stays 0 and the
  // rest is the random networks' mean difference.
  calibrate_latency_table(t, specs, whole(0.5, -3.0));
  EXPECT_EQ(t.ms_per_mparam, 0.0);
  double mean = 0;
  for (size_t k = 1; k < specs.size(); ++k) mean += (whole(0.5, -3.0)[k] - (ops.predict_ms(specs[k]) - 0.25)) / 4;
  EXPECT_NEAR(t.rest_ms.value(), mean, 1e-9);
  // The table's own network is predicted as measured, even off the line (a network of aligned widths runs faster
  // than the line through random ones); the line is the random networks'.
  std::vector<double> off = whole(0.5, 3.0);
  off[0] -= 0.02;
  calibrate_latency_table(t, specs, off);
  EXPECT_NEAR(t.rest_ms.value(), 0.5, 1e-9);
  EXPECT_NEAR(LatencyModel(t).predict_ms(spec), off[0], 1e-9);
  EXPECT_NEAR(LatencyModel(t).predict_ms(specs[1]), off[1], 1e-9);
}

TEST(LatencyTable, InterpolationIsExactOnGridPointsLinearBetweenAndFlagsExtrapolation) {
  LatencyEntry e;
  e.kind = "conv";
  e.in = {4, 8, 16};
  e.out = {4, 12};
  e.ms = {{1.0, 2.0}, {3.0, 5.0}, {4.0, 9.0}};
  for (size_t i = 0; i < e.in.size(); ++i)
    for (size_t j = 0; j < e.out.size(); ++j) {
      bool outside = true;
      EXPECT_DOUBLE_EQ(interpolate(e, e.ms, e.in[i], e.out[j], &outside), e.ms[i][j]);
      EXPECT_FALSE(outside);
    }
  bool outside = true;
  // Bilinear: in 6 is halfway between 4 and 8, out 8 halfway between 4 and 12.
  EXPECT_DOUBLE_EQ(interpolate(e, e.ms, 6, 8, &outside), (1.0 + 2.0 + 3.0 + 5.0) / 4);
  EXPECT_FALSE(outside);
  // Beyond the grid: the last segment extended.
  EXPECT_DOUBLE_EQ(interpolate(e, e.ms, 24, 4, &outside), 5.0);
  EXPECT_TRUE(outside);
  // The model makes times non-decreasing along each axis and adds the rest.
  const ArchSpec spec = small_spec();
  const LatencyTable t = synthetic_table(spec);
  const LatencyPrediction p = LatencyModel(t).predict(spec);
  double sum = t.rest_ms.value();
  for (size_t k = 0; k < t.entries.size(); ++k) {
    const LatencyEntry& en = t.entries[k];
    const Op& op = spec.ops[size_t(p.ops[k])];
    const int64_t cin = spec.ops[size_t(op.inputs[0])].out.value;
    const int64_t cout = op.kind == OpKind::kAdd ? spec.ops[size_t(op.inputs[1])].out.value : op.out.value;
    EXPECT_DOUBLE_EQ(p.entry_ms[k], synthetic_ms(en, cin, cout)) << en.name;  // the spec's widths are grid points
    sum += p.entry_ms[k];
  }
  EXPECT_TRUE(p.outside.empty());
  EXPECT_DOUBLE_EQ(p.weights_ms, 0.0);
  EXPECT_DOUBLE_EQ(p.total_ms, sum);
}

TEST(LatencyTable, ATableForAnotherBatchThreadsOrShapesIsRefusedUnlessForced) {
  const ArchSpec spec = small_spec();
  const LatencyTable t = synthetic_table(spec);
  EXPECT_NO_THROW(check_latency_table(t, spec, 1, 1, false, "lut.json"));
  auto refused = [&](const LatencyTable& table, const ArchSpec& s, int batch, int threads) {
    const std::string e = testing_util::error_text<ConfigError>(
        [&] { check_latency_table(table, s, batch, threads, false, "lut.json"); });
    EXPECT_NO_THROW(check_latency_table(table, s, batch, threads, true, "lut.json"));  // --force
    return e;
  };
  EXPECT_NE(refused(t, spec, 8, 1).find("batch 1, not 8"), std::string::npos);
  EXPECT_NE(refused(t, spec, 1, 4).find("1 threads, not 4"), std::string::npos);
  EXPECT_NO_THROW(check_latency_table(t, spec, 1, 0, false, "lut.json"));  // 0 threads: any
  // Another resolution: every layer's shape differs.
  Config c = testing_util::small_config();
  const std::string shapes = refused(t, build_spec(c.model, 16), 1, 1);
  EXPECT_NE(shapes.find("resolution"), std::string::npos) << shapes;
  EXPECT_NE(shapes.find("lut.json"), std::string::npos) << shapes;
  // Another depth: another number of timed layers.
  c.model.depth = 14;
  EXPECT_NE(refused(t, build_spec(c.model, 12), 1, 1).find("timed layers"), std::string::npos);
  // Other widths are the model's to interpolate, not a mismatch.
  std::vector<int64_t> wider = spec.channels;
  for (auto& w : wider) w += 3;
  EXPECT_NO_THROW(check_latency_table(t, build_spec(testing_util::small_config().model, 12, wider), 1, 1, false, "x"));
  // An incomplete table is refused even when forced.
  LatencyTable partial = t;
  partial.entries[0].ms[0][0] = std::nan("");
  EXPECT_THROW(check_latency_table(partial, spec, 1, 1, true, "lut.json"), DataError);
}

TEST(LatencyBudget, RescalingLandsWithinToleranceOnEveryArchitecture) {
  std::mt19937 rng(11);
  for (const auto& info : arch_registry()) {
    const ModelOptions m = testing_util::registry_model(info.name);
    const int res = design_resolution(m);
    const ArchSpec spec = build_spec(m, res);
    const auto model = std::make_shared<const LatencyModel>(synthetic_table(spec));
    const auto budget = make_budget(m, res, Budget::kLatency, model);
    const CostFn cost = BudgetCost::cost_fn(budget);
    const auto c0 = spec.channels;
    const int64_t b0 = cost(c0);
    EXPECT_EQ(b0, std::llround(1e6 * model->predict_ms(spec))) << info.name;
    SearchOptions s;
    s.budget = Budget::kLatency;
    s.update_num = c0.size() >= 12 ? 3 : 1;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto c = c0;
    for (int t = 0; t < 2; ++t) {
      std::vector<double> fur(c0.size()), se(c0.size());
      for (auto& v : fur) v = u(rng);
      const Adjustment a = adjust_channels(c, c0, fur, se, 0, s, cost, b0, channel_grid(s, spec));
      const double rel = double(cost(a.channels) - b0) / double(b0);
      EXPECT_LE(std::abs(rel), s.flops_tolerance) << info.name << " step " << t;
      EXPECT_NE(a.channels, c) << info.name << " step " << t;
      c = a.channels;
    }
    // The slope is positive wherever a width costs time.
    for (double g : budget->slope(c0)) EXPECT_GE(g, 0.0) << info.name;
  }
}

TEST(LatencyBudget, FurEqualizingTheBudgetUnderAFlopsBudgetIsThePapersRule) {
  const Config c = testing_util::small_config();
  const ArchSpec spec = build_spec(c.model, 12);
  const auto flops = make_budget(c.model, 12, Budget::kFlops);
  EXPECT_TRUE(flops->counts_flops());
  const std::vector<int64_t> dflops = spec_dflops(spec);
  const std::vector<double> slope = flops->slope(spec.channels);
  ASSERT_EQ(slope.size(), dflops.size());
  for (size_t l = 0; l < slope.size(); ++l) EXPECT_EQ(slope[l], double(dflops[l])) << l;
  const DropPlan paper = drop_plan(spec.channels, dflops, 0.05, 0.9);
  const DropPlan budget = drop_plan(spec.channels, slope, 0.05, 0.9);
  EXPECT_EQ(budget.p, paper.p);
  // Params and latency: p_l * c_l * slope_l is the same for every unclamped layer.
  const auto model = std::make_shared<const LatencyModel>(synthetic_table(spec));
  for (const auto& b : {make_budget(c.model, 12, Budget::kParams), make_budget(c.model, 12, Budget::kLatency, model)}) {
    EXPECT_FALSE(b->counts_flops()) << b->name();
    const std::vector<double> g = b->slope(spec.channels);
    const DropPlan d = drop_plan(spec.channels, g, 0.05, 0.9);
    EXPECT_NE(d.p, paper.p) << b->unit();
    const double removed0 = d.p[0] * double(spec.channels[0]) * g[0];
    for (size_t l = 0; l < g.size(); ++l) {
      if (std::find(d.clamped.begin(), d.clamped.end(), int(l)) != d.clamped.end()) continue;
      EXPECT_NEAR(d.p[l] * double(spec.channels[l]) * g[l], removed0, 1e-9 * removed0) << b->unit() << " " << l;
    }
  }
  // The params slope is the exact derivative of a quadratic (a central difference of one channel).
  const auto params = make_budget(c.model, 12, Budget::kParams);
  std::vector<int64_t> up = spec.channels, down = spec.channels;
  up[2] += 1;
  down[2] -= 1;
  EXPECT_DOUBLE_EQ(params->slope(spec.channels)[2], double(params->cost(up) - params->cost(down)) / 2);
}

// Every value search.budget takes has its budget, named as the config and the records name it; a latency budget
// without its table is refused naming search.latency_table.
TEST(LatencyBudget, EveryBudgetTheConfigNamesIsRegistered) {
  const Config c = testing_util::small_config();
  const ArchSpec spec = build_spec(c.model, 12);
  const auto model = std::make_shared<const LatencyModel>(synthetic_table(spec));
  std::set<std::string> units;
  const std::vector<std::string> names = enum_names<Budget>();
  for (size_t i = 0; i < names.size(); ++i) {
    const Budget kind = Budget(i);
    const std::string& name = names[i];
    ASSERT_EQ(enum_name(kind), name);
    const auto b = make_budget(c.model, 12, kind, model);
    EXPECT_EQ(b->kind(), kind);
    EXPECT_EQ(std::string(b->name()), name);
    EXPECT_TRUE(units.insert(b->unit()).second) << b->unit();
    EXPECT_GT(b->cost(spec.channels), 0) << name;
    EXPECT_EQ(b->latency() != nullptr, kind == Budget::kLatency) << name;
  }
  const std::string e = testing_util::error_text<ConfigError>([&] { make_budget(c.model, 12, Budget::kLatency); });
  EXPECT_NE(e.find("search.latency_table"), std::string::npos) << e;
}

TEST(LatencyTable, AnInterruptedMeasurementResumesKeepingWhatItHad) {
  const ArchSpec spec = small_spec();
  LatencyTable t = new_latency_table(spec, torch::kCPU, 1, 1, 4);
  std::vector<int64_t> wider = spec.channels;
  for (auto& w : wider) w += 4;
  const std::vector<ArchSpec> calibration{build_spec(testing_util::small_config().model, 12, wider)};
  t.reps = 3;
  t.warmup = 1;
  struct Stop {};
  LatencyTable saved;
  try {
    measure_latency_table(t, spec, calibration, torch::kCPU, [&](const LatencyTable& done, const LutProgress& p) {
      saved = done;
      if (p.entry == 2) throw Stop{};
    });
  } catch (const Stop&) {
  }
  ASSERT_TRUE(saved.entries[0].complete());
  ASSERT_TRUE(saved.entries[1].complete());
  ASSERT_FALSE(saved.complete());
  const nlohmann::json first_two = {latency_table_json(saved)["entries"][0], latency_table_json(saved)["entries"][1]};
  LatencyTable resumed = saved;
  int saves = 0;
  measure_latency_table(resumed, spec, calibration, torch::kCPU,
                        [&](const LatencyTable&, const LutProgress&) { ++saves; });
  EXPECT_TRUE(resumed.complete());
  EXPECT_EQ(saves, int(resumed.entries.size()) - 2 + 1);  // the layers left, then the rest
  const nlohmann::json j = latency_table_json(resumed);
  EXPECT_EQ(j["entries"][0], first_two[0]);
  EXPECT_EQ(j["entries"][1], first_two[1]);
  for (const LatencyEntry& e : resumed.entries)
    for (const auto& row : e.ms)
      for (double v : row) EXPECT_GT(v, 0.0) << e.name;
  EXPECT_GT(resumed.network_ms, 0.0);
  // The table's network and the calibration network were timed whole; the first is predicted as measured.
  ASSERT_EQ(resumed.calibration.size(), 2u);
  EXPECT_EQ(resumed.calibration[0].ms, resumed.network_ms);
  EXPECT_EQ(resumed.calibration[1].channels, wider);
  EXPECT_GT(resumed.calibration[1].ms, 0.0);
  EXPECT_NEAR(LatencyModel(resumed).predict_ms(spec), resumed.network_ms, 1e-9);
}

TEST(LatencyCli, LutFlopsAndALatencyBudgetSearch) {
  const std::string d = testing_util::fresh_dir("latency_cli");
  const std::string lut = d + "/lut.json";
  const std::vector<std::string> base = {"--config", kSmoke, "--set", "runtime.threads=1"};
  auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  const auto lut_run = run_cli_full(
      with({"--quiet", "bench", "lut"}, with(base, {"--threads", "1", "--reps", "3", "--points", "3", "--out", lut})));
  ASSERT_EQ(lut_run.status, 0) << lut_run.err;
  EXPECT_TRUE(read_latency_table(lut).complete());
  for (const LatencyEntry& e : read_latency_table(lut).entries) {
    EXPECT_LE(e.out.size(), 4u) << e.name;  // --points 3, and the network's own width
    EXPECT_GE(e.out.size(), 2u) << e.name;
  }
  const auto flops = run_cli_full(with({"flops"}, with(base, {"--latency", lut})));
  ASSERT_EQ(flops.status, 0) << flops.err;
  EXPECT_NE(flops.out.find("predicted total"), std::string::npos) << flops.out;
  // A table for batch 1 where the config deploys at batch 4: refused, naming the file and the mismatch.
  const auto refused = run_cli_full(with({"flops"}, with(base, {"--latency", lut, "--set", "search.latency_batch=4"})));
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find(lut), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("batch 1, not 4"), std::string::npos) << refused.err;
  EXPECT_EQ(
      run_cli(with({"--quiet", "flops"}, with(base, {"--latency", lut, "--set", "search.latency_batch=4", "--force"}))),
      0);
  // The search holds the table's predicted latency; the table is kept in the run directory.
  const std::string run = d + "/search";
  const auto search = run_cli_full(with(
      {"--quiet", "search"}, with(base, {"--set", "search.budget=latency", "--set", "search.latency_table=" + lut,
                                         "--set", "train.epochs=1", "--set", "search.update_num=2", "--out", run})));
  ASSERT_EQ(search.status, 0) << search.err;
  const SearchRecord r = read_record_as<SearchRecord>(run + "/search.json");
  EXPECT_EQ(r.budget, "latency");
  ASSERT_EQ(r.iterations.size(), 2u);
  const LatencyModel model(read_latency_table(run + "/latency_table.json"));
  EXPECT_EQ(latency_table_json(model.table()), latency_table_json(read_latency_table(lut)));
  const Config cfg = load_config(kSmoke, {});
  const double b0 = model.predict_ms(build_spec(cfg.model, 12));
  for (const IterationRecord& it : r.iterations) {
    ASSERT_TRUE(it.predicted_latency_ms && it.measured_latency_ms);
    EXPECT_NEAR(*it.predicted_latency_ms, model.predict_ms(build_spec(cfg.model, 12, it.channels)), 1e-9);
    EXPECT_GT(*it.measured_latency_ms, 0.0);
    EXPECT_LE(std::abs(model.predict_ms(build_spec(cfg.model, 12, it.next_channels)) - b0) / b0, 0.005 + 1e-6);
    EXPECT_EQ(it.budget_target, std::llround(1e6 * b0));
  }
  EXPECT_NE(r.iterations[0].next_channels, r.iterations[0].channels);
  // Without a table the search measures one on its own device at the start, and keeps it.
  const std::string own = d + "/own";
  const auto measured =
      run_cli_full(with({"--quiet", "search"}, with(base, {"--set", "search.budget=latency", "--set", "train.epochs=1",
                                                           "--set", "search.iterations=1", "--out", own})));
  ASSERT_EQ(measured.status, 0) << measured.err;
  const LatencyTable kept = read_latency_table(own + "/latency_table.json");
  EXPECT_TRUE(kept.complete());
  EXPECT_EQ(kept.threads, 1);
  EXPECT_EQ(kept.batch, 1);
  const SearchRecord o = read_record_as<SearchRecord>(own + "/search.json");
  EXPECT_EQ(o.iterations.at(0).budget_target,
            std::llround(1e6 * LatencyModel(kept).predict_ms(build_spec(cfg.model, 12))));
}

TEST(LatencyTiming, OneDnnKeepsManyNetworksKernelsUnlessTheUserSetTheCache) {
  const char* before = std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY");
  const std::string saved = before ? before : "";
  unsetenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY");
  keep_onednn_kernels();
  ASSERT_NE(std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY"), nullptr);
  EXPECT_STREQ(std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY"), "16384");
  setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "77", 1);
  keep_onednn_kernels();
  EXPECT_STREQ(std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY"), "77");
  if (before)
    setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", saved.c_str(), 1);
  else
    unsetenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY");
}
