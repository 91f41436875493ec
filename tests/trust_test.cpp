// Results users can trust, end to end through the CLI: gated moves that stop a search when nothing is
// separated from noise, re-training selection of the best vector, and `netadj compare` with controls,
// seeds and Welch statistics, each resumable after a kill.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;
using testing_util::run_cli;

namespace {
const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

double mean(const json& a) {
  double s = 0;
  for (const auto& v : a) s += v.get<double>();
  return s / double(a.size());
}
}  // namespace

TEST(TrustCli, GateWithWideIntervalsConvergesAtOnce) {
  std::string d = testing_util::fresh_dir("gate");
  ASSERT_EQ(run_cli({"search", "--config", kSmoke, "--out", d, "--set", "search.iterations=3", "--set",
                     "search.gate=true", "--set", "search.gate_z=100"}),
            0);
  json s = read_json(d + "/search.json");
  ASSERT_EQ(s["iterations"].size(), 1u);
  const json& it = s["iterations"][0];
  EXPECT_EQ(it["top"].size(), 2u);  // candidates are still recorded
  EXPECT_TRUE(it["moved_top"].empty());
  EXPECT_TRUE(it["moved_bottom"].empty());
  EXPECT_EQ(it["gate_z"], 100.0);
  EXPECT_EQ(it["next_channels"], it["channels"]);
  EXPECT_EQ(s["stopped"], "converged");
  EXPECT_TRUE(s["done"].get<bool>());
  // Ungated, the same search moves and runs its iterations; the budget error is recorded.
  std::string u = testing_util::fresh_dir("ungated");
  ASSERT_EQ(run_cli({"search", "--config", kSmoke, "--out", u}), 0);
  json su = read_json(u + "/search.json");
  EXPECT_EQ(su["stopped"], "iterations");
  EXPECT_EQ(su["iterations"].size(), 2u);
  const json& u0 = su["iterations"][0];
  EXPECT_EQ(u0["moved_top"], u0["top"]);
  EXPECT_TRUE(u0["gate_z"].is_null());
  EXPECT_EQ(u0["budget_target"], su["f0"]);
  EXPECT_LE(std::abs(u0["budget_error"].get<double>()), 0.005);
  EXPECT_NEAR(u0["budget_error"].get<double>(),
              double(u0["next_flops"].get<int64_t>() - su["f0"].get<int64_t>()) / su["f0"].get<double>(), 1e-12);
}

TEST(TrustCli, AdaptiveRepeatsAreRecordedPerLayer) {
  // z = 100: nothing separates, so the candidates and boundaries (here all 6 layers: k = 2 gives 2 top,
  // 2 bottom and 2 boundary layers) double to the maximum; z = 0: everything separates at once.
  for (const char* z : {"100", "0"}) {
    std::string d = testing_util::fresh_dir(std::string("repeats") + z);
    ASSERT_EQ(run_cli({"search", "--config", kSmoke, "--out", d, "--set", "search.iterations=1", "--set",
                       "fur.max_repeats=8", "--set", "search.gate=true", "--set", std::string("search.gate_z=") + z}),
              0);
    json it = read_json(d + "/search.json")["iterations"][0];
    json fur = read_json(d + "/iter_0/fur.json");
    EXPECT_EQ(it["fur_repeats"], fur["repeats"]);
    json partial = read_json(d + "/iter_0/fur_partial.json");
    ASSERT_EQ(it["fur_repeats"].size(), 6u);
    for (size_t l = 0; l < 6; ++l) {
      EXPECT_EQ(it["fur_repeats"][l], std::string(z) == "100" ? 8 : 2) << "z " << z << " layer " << l;
      EXPECT_EQ(partial["layers"][std::to_string(l)].size(), it["fur_repeats"][l].get<size_t>());
    }
  }
}

TEST(TrustCli, SelectByRetrainingEndToEndAndAfterAKill) {
  const std::vector<std::string> args = {"search",
                                         "--config",
                                         kSmoke,
                                         "--set",
                                         "search.select=retrain",
                                         "--set",
                                         "search.select_top=1",
                                         "--set",
                                         "search.select_seeds=2"};
  auto with_out = [&](const std::string& d) {
    auto a = args;
    a.insert(a.end(), {"--out", d});
    return a;
  };
  std::string ref = testing_util::fresh_dir("select_ref");
  ASSERT_EQ(run_cli(with_out(ref)), 0);
  json s = read_json(ref + "/search.json");
  ASSERT_FALSE(s["selection"].is_null());
  const json& sel = s["selection"];
  EXPECT_EQ(sel["seeds"], 2);
  ASSERT_EQ(sel["candidates"].size(), 2u);  // the original and the best other vector
  EXPECT_EQ(sel["candidates"][0]["iteration"], 0);
  EXPECT_EQ(sel["candidates"][0]["channels"], s["init_channels"]);
  for (const auto& c : sel["candidates"]) {
    ASSERT_EQ(c["val_top1"].size(), 2u);
    EXPECT_NEAR(c["mean"].get<double>(), mean(c["val_top1"]), 1e-12);
  }
  int chosen = sel["chosen"].get<int>();
  int other = 1 - chosen;
  EXPECT_GE(sel["candidates"][chosen]["mean"].get<double>(), sel["candidates"][other]["mean"].get<double>());
  EXPECT_EQ(s["best"]["selected_by"], "retrain");
  EXPECT_EQ(s["best"]["channels"], sel["candidates"][chosen]["channels"]);
  EXPECT_EQ(read_json(ref + "/best_channels.json")["channels"], s["best"]["channels"]);
  EXPECT_FALSE(file_exists(ref + "/select/c1_s2/checkpoint.pt"));
  // Killed while re-training the second candidate, then resumed: the same record.
  std::string d = testing_util::fresh_dir("select_kill");
  int rc = run_cli(with_out(d), [&] { return file_exists(d + "/select/c1_s1/checkpoint.pt"); });
  ASSERT_EQ(rc, -9) << "finished before it could be killed";
  ASSERT_EQ(run_cli({"search", "--resume", d}), 0);
  EXPECT_EQ(testing_util::computed_part(read_json(d + "/search.json")), testing_util::computed_part(s));
}

namespace {
json entry(const json& doc, const std::string& name) {
  for (const auto& e : doc["entries"])
    if (e["name"] == name) return e;
  ADD_FAILURE() << "no entry " << name;
  return json();
}
}  // namespace

TEST(TrustCli, CompareEndToEndKilledAndResumed) {
  std::string d = testing_util::fresh_dir("compare");
  { std::ofstream(d + "/wide.json") << R"({"channels": [12, 12, 40, 40, 64, 64]})"; }
  const std::vector<std::string> base = {
      "compare", "--config", kSmoke,       "--channels",    "wide=" + d + "/wide.json",
      "--seeds", "2",        "--controls", "uniform,random"};
  auto with_out = [&](const std::string& o) {
    auto a = base;
    a.insert(a.end(), {"--out", o});
    return a;
  };
  ASSERT_EQ(run_cli(with_out(d + "/ref")), 0);
  json ref = read_json(d + "/ref/compare.json");
  EXPECT_TRUE(ref["done"].get<bool>());
  EXPECT_EQ(ref["seeds"], (json{1, 2}));
  ASSERT_EQ(ref["entries"].size(), 4u);
  json o = entry(ref, "original"), w = entry(ref, "wide"), un = entry(ref, "uniform"), r = entry(ref, "random");
  EXPECT_EQ(o["kind"], "original");
  EXPECT_EQ(w["kind"], "candidate");
  EXPECT_EQ(w["channels"], (json{12, 12, 40, 40, 64, 64}));
  // uniform: the original already sits on the budget, so it is the original and shares its runs.
  EXPECT_EQ(un["channels"], o["channels"]);
  EXPECT_EQ(un["runs"], o["runs"]);
  EXPECT_EQ(un["latency_ms"], o["latency_ms"]);  // one vector, one measurement
  EXPECT_EQ(un["test_top1"], o["test_top1"]);
  // random: another vector at the budget.
  EXPECT_NE(r["channels"], o["channels"]);
  EXPECT_LE(std::abs(r["flops"].get<double>() / ref["budget_target"].get<double>() - 1), 0.005);
  EXPECT_NEAR(r["budget_error"].get<double>(), r["flops"].get<double>() / ref["budget_target"].get<double>() - 1,
              1e-12);
  for (const json& e : ref["entries"]) {
    ASSERT_EQ(e["test_top1"].size(), 2u) << e["name"];
    for (const auto& v : e["test_top1"]) EXPECT_TRUE(v >= 0.0 && v <= 1.0);
    EXPECT_NEAR(e["mean"].get<double>(), mean(e["test_top1"]), 1e-12);
    EXPECT_GT(e["latency_ms"].get<double>(), 0.0);
    for (const auto& run : e["runs"]) EXPECT_TRUE(file_exists(d + "/ref/" + run.get<std::string>() + "/result.json"));
  }
  // The seed is the run's seed: the original with seed 2 is `netadj train --set runtime.seed=2`.
  json cfg2 = read_json(d + "/ref/runs/original_s2/config.json");
  EXPECT_EQ(cfg2["runtime"]["seed"], 2);
  EXPECT_TRUE(o["diff"].is_null() && o["p"].is_null());
  EXPECT_NEAR(w["diff"].get<double>(), w["mean"].get<double>() - o["mean"].get<double>(), 1e-12);
  if (!w["p"].is_null()) {
    EXPECT_GE(w["p"].get<double>(), 0.0);
    EXPECT_LE(w["p"].get<double>(), 1.0);
    EXPECT_LE(w["ci95"][0].get<double>(), w["diff"].get<double>());
    EXPECT_GE(w["ci95"][1].get<double>(), w["diff"].get<double>());
  }
  // Killed during the candidate's first training, then resumed: the same accuracies and statistics.
  std::string k = d + "/kill";
  int rc = run_cli(with_out(k), [&] { return file_exists(k + "/runs/wide_s1/checkpoint.pt"); });
  ASSERT_EQ(rc, -9) << "finished before it could be killed";
  json partial = read_json(k + "/compare.json");
  EXPECT_FALSE(partial["done"].get<bool>());
  ASSERT_EQ(run_cli({"compare", "--resume", k}), 0);
  json got = read_json(k + "/compare.json");
  ASSERT_EQ(got["entries"].size(), ref["entries"].size());
  for (size_t i = 0; i < ref["entries"].size(); ++i)
    for (const char* key : {"name", "channels", "test_top1", "mean", "sd", "diff", "ci95", "p", "runs"})
      EXPECT_EQ(got["entries"][i][key], ref["entries"][i][key]) << i << " " << key;
  EXPECT_TRUE(got["done"].get<bool>());
  // A finished comparison resumed is a no-op that succeeds.
  EXPECT_EQ(run_cli({"compare", "--resume", k}), 0);
}

TEST(TrustCli, CompareRefusesBadInput) {
  std::string d = testing_util::fresh_dir("compare_bad");
  { std::ofstream(d + "/short.json") << R"({"channels": [16, 16]})"; }
  { std::ofstream(d + "/ok.json") << R"({"channels": [16, 16, 32, 32, 64, 64]})"; }
  EXPECT_EQ(run_cli({"compare", "--config", kSmoke, "--controls", "uniform,gaussian", "--out", d + "/a"}), 2);
  EXPECT_EQ(run_cli({"compare", "--config", kSmoke, "--seeds", "0", "--out", d + "/b"}), 2);
  EXPECT_EQ(run_cli({"compare", "--config", kSmoke, "--channels", d + "/short.json", "--out", d + "/c"}), 2);
  EXPECT_EQ(run_cli({"compare", "--config", kSmoke, "--channels", "original=" + d + "/ok.json", "--out", d + "/e"}), 2);
  EXPECT_EQ(run_cli({"compare", "--resume", d + "/nothing"}), 2);
  EXPECT_EQ(run_cli({"compare", "--resume", d, "--set", "train.epochs=1"}), 2);
  EXPECT_EQ(run_cli({"compare", "--resume", d, "--seeds", "5"}), 2);
  // A damaged plan: runs that do not match the seeds are named, not read past.
  make_dirs(d + "/damaged");
  { std::ofstream(d + "/damaged/config.json") << read_file(kSmoke); }
  {
    std::ofstream(d + "/damaged/compare.json")
        << R"({"schema_version": 1, "arch": "resnet_cifar", "dataset": "synthetic", "budget": "flops", "epochs": 1,)"
        << R"( "done": false, "seeds": [1, 2], "budget_target": 1, "device": "cpu", "entries": [)"
        << R"({"name": "original", "kind": "original", "source": null, "channels": [16, 16, 32, 32, 64, 64],)"
        << R"( "flops": 1, "params": 1, "latency_ms": 0, "test_top1": [], "runs": ["runs/original_s1"]}]})";
  }
  EXPECT_EQ(run_cli({"compare", "--resume", d + "/damaged"}), 3);
}

// compare on a network file: the random control is another vector on the budget whose grouped conv's slot
// ("down", groups 4) stays a multiple of 4, and every entry trains and is tested.
TEST(TrustCli, CompareOnANetworkFileKeepsTheSlotGrids) {
  std::string d = testing_util::fresh_dir("compare_graph");
  const std::string config = std::string(NETADJ_SOURCE_DIR) + "/configs/graph_synthetic.json";
  ASSERT_EQ(run_cli({"--quiet", "compare", "--config", config, "--set", "train.epochs=1", "--seeds", "1", "--controls",
                     "random", "--out", d}),
            0);
  json ref = read_json(d + "/compare.json");
  ASSERT_EQ(ref["entries"].size(), 2u);
  json o = entry(ref, "original"), r = entry(ref, "random");
  EXPECT_NE(r["channels"], o["channels"]);
  EXPECT_EQ(r["channels"][3].get<int64_t>() % 4, 0) << r["channels"];
  EXPECT_LE(std::abs(r["flops"].get<double>() / ref["budget_target"].get<double>() - 1), 0.005);
  for (const json& e : ref["entries"]) ASSERT_EQ(e["test_top1"].size(), 1u) << e["name"];
}
