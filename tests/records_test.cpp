// The resumable records (include/netadj/records/records.h): every one round-trips through its file, and a damaged
// one is refused with exit 3 naming the file and what is wrong (exit 2 for another schema_version).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

#include "netadj/records/records.h"
#include "netadj/train/checkpoint.h"
#include "netadj/train/state.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;

namespace {

// A folder of this test's own (ctest runs the tests of this file in parallel processes).
std::string dir() {
  static const std::string d = testing_util::fresh_dir(std::string("records_") +
                                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  return d;
}

// Written with write_record and read back as T: the JSON of both must be equal, key for key.
template <class T>
T round_trip(const T& r, const std::string& name) {
  const std::string path = dir() + "/" + name + ".json";
  write_record(path, json(r));
  EXPECT_EQ(read_json(path).at("schema_version"), kSchemaVersion) << name;
  T back = read_record_as<T>(path);
  EXPECT_EQ(json(back), json(r)) << name;
  return back;
}

EvalResult eval(double x) { return {x, x / 10, x / 5, int64_t(1000 * x)}; }

EpochRecord epoch(int e) {
  EpochRecord r;
  r.epoch = e;
  r.lr = 0.1 / (e + 1);
  r.train_loss = 1.5;
  r.train_acc = 0.4;
  r.seconds = 2.5;
  r.images_per_s = 900;
  r.val = eval(0.7);
  r.test = eval(0.8);
  r.label = "iter 2";
  return r;
}

CheckpointRecord checkpoint_sample() {
  CheckpointRecord c;
  c.epoch = 1;
  c.history = {epoch(0), epoch(1)};
  c.partial = EpochPosition{2, 17, 31.5, 12.0, 4.25, 544, "cpu"};
  return c;
}

FurProgress fur_sample() {
  FurProgress f;
  f.base = eval(0.46);
  f.layers = {{0, {0.01, 0.02}}, {3, {-0.5, 0.25, 0.125, 0.0625}}, {12, {1e-9}}};
  f.refine_pending = {3, 12};
  return f;
}

CompareEntry entry(const std::string& name, const std::string& kind, int seeds) {
  CompareEntry e;
  e.name = name;
  e.kind = kind;
  if (kind == "candidate") e.source = "wide.json";
  e.channels = {16, 20, 32};
  e.flops = 123456;
  e.params = 789;
  e.latency_ms = 0.75;
  e.test_top1 = {0.5, 0.625};
  for (int s = 1; s <= seeds; ++s) e.runs.push_back("runs/" + name + "_s" + std::to_string(s));
  return e;
}

CompareRecord compare_sample() {
  CompareRecord c;
  c.arch = "resnet_cifar";
  c.dataset = "synthetic";
  c.budget = "params";
  c.budget_target = 4000;
  c.epochs = 3;
  c.device = "cpu";
  c.seeds = {1, 2, 3};
  c.done = true;
  c.entries = {entry("original", "original", 3), entry("wide", "candidate", 3), entry("random2", "random", 3)};
  return c;
}

int exit_code_of(const std::function<void()>& f, std::string& message) {
  try {
    f();
  } catch (const Error& e) {
    message = e.what();
    return int(e.code());
  }
  return 0;
}

}  // namespace

TEST(Records, ResumableRecordsRoundTripFieldByField) {
  const CheckpointRecord c = round_trip(checkpoint_sample(), "checkpoint");
  ASSERT_EQ(c.history.size(), 2u);
  EXPECT_EQ(c.history[1].epoch, 1);
  EXPECT_EQ(c.history[1].label, "iter 2");
  ASSERT_TRUE(c.history[1].test.has_value());
  EXPECT_EQ(c.history[1].test->n, 800);
  ASSERT_TRUE(c.partial.has_value());
  EXPECT_EQ(c.partial->epoch, 2);
  EXPECT_EQ(c.partial->step, 17);
  EXPECT_EQ(c.partial->loss_sum, 31.5);
  EXPECT_EQ(c.partial->correct, 12.0);
  EXPECT_EQ(c.partial->seconds, 4.25);
  EXPECT_EQ(c.partial->seen, 544);
  EXPECT_EQ(c.partial->device_type, "cpu");
  // A non-finite value (an evaluation loss that overflowed, a NaN loss sum saved by a signal) is written as
  // null and read back as NaN, so such a checkpoint still resumes.
  CheckpointRecord nan = checkpoint_sample();
  nan.history[0].val.loss = std::numeric_limits<double>::infinity();
  nan.partial->loss_sum = std::nan("");
  write_record(dir() + "/nan.json", json(nan));
  const CheckpointRecord nan_back = read_record_as<CheckpointRecord>(dir() + "/nan.json");
  EXPECT_TRUE(std::isnan(nan_back.history[0].val.loss));
  EXPECT_TRUE(std::isnan(nan_back.partial->loss_sum));
  EXPECT_EQ(nan_back.partial->step, 17);
  CheckpointRecord whole = checkpoint_sample();
  whole.partial.reset();
  EXPECT_FALSE(round_trip(whole, "checkpoint_whole").partial.has_value());

  const FurProgress f = round_trip(fur_sample(), "fur_partial");
  ASSERT_TRUE(f.base.has_value());
  EXPECT_EQ(f.base->loss, 0.46);
  EXPECT_EQ(f.layers, fur_sample().layers);
  EXPECT_EQ(f.refine_pending, (std::vector<int>{3, 12}));
  // Layer keys are the index's digits, as documented.
  EXPECT_TRUE(read_json(dir() + "/fur_partial.json")["layers"].contains("12"));
  EXPECT_FALSE(round_trip(FurProgress{}, "fur_partial_empty").base.has_value());

  CompareRecord longest = compare_sample();
  longest.entries[2] = entry(std::string(100, 'n'), "random", 3);  // the longest name, its runs longer still
  EXPECT_EQ(round_trip(longest, "compare_long").entries[2].runs[0], "runs/" + std::string(100, 'n') + "_s1");

  CompareRecord cr = compare_sample();
  cr.entries[1].mean = 0.5;             // derived values are written, never read back
  cr.entries[1].budget_error = 0.0125;  // planned once, when its cost is known: read back
  const std::string path = dir() + "/compare.json";
  write_record(path, json(cr));
  EXPECT_EQ(read_json(path)["entries"][1]["mean"], 0.5);
  const CompareRecord back = read_record_as<CompareRecord>(path);
  EXPECT_FALSE(back.entries[1].mean.has_value());
  EXPECT_EQ(back.entries[1].budget_error, 0.0125);
  EXPECT_EQ(back.arch, "resnet_cifar");
  EXPECT_EQ(back.dataset, "synthetic");
  EXPECT_EQ(back.budget, "params");
  EXPECT_EQ(back.budget_target, 4000);
  EXPECT_EQ(back.epochs, 3);
  EXPECT_EQ(back.device, "cpu");
  EXPECT_EQ(back.seeds, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(back.done);
  ASSERT_EQ(back.entries.size(), 3u);
  EXPECT_EQ(back.entries[1].source, std::optional<std::string>("wide.json"));
  EXPECT_FALSE(back.entries[0].source.has_value());
  EXPECT_EQ(back.entries[1].channels, (std::vector<int64_t>{16, 20, 32}));
  EXPECT_EQ(back.entries[1].flops, 123456);
  EXPECT_EQ(back.entries[1].params, 789);
  EXPECT_EQ(back.entries[1].latency_ms, 0.75);
  EXPECT_EQ(back.entries[1].test_top1, (std::vector<double>{0.5, 0.625}));
  EXPECT_EQ(back.entries[2].runs[2], "runs/random2_s3");
}

TEST(Records, TheOtherRecordsRoundTrip) {
  TrainRecord t;
  t.arch = "vgg";
  t.channels = {8, 9};
  t.flops = 10;
  t.params = 11;
  t.epochs = 2;
  t.train_split = "train_full";
  t.final_eval = eval(0.3);
  t.test = eval(0.4);
  t.seconds = 5;
  t.world_size = 2;
  t.backend = "gloo";
  round_trip(t, "result");
  FurRecord f;
  f.channels = {4, 5};
  f.layer_names = {"a", "b"};
  f.base = eval(0.2);
  f.drop_p = {0.1, 0.2};
  f.fur = {0.3, -0.1};
  f.fur_stderr = {0.01, 0.02};
  f.rank = {0, 1};
  f.clamped = {1};
  f.repeats = {2, 4};
  round_trip(f, "fur");
  TimesRecord times;
  times.iterations = {{0, 1.5, 0.5, true, 2.5}};
  round_trip(times, "times");
  SearchRecord s;
  s.arch = "resnet_cifar";
  s.depth = 8;
  s.resolution = 12;
  s.f0 = 99;
  s.init_channels = {16};
  s.layer_names = {"a"};
  s.layer_stages = {0};
  s.epochs_per_iteration = 2;
  IterationRecord it;
  it.iteration = 1;
  it.channels = {16};
  it.gate_z = 1.5;
  it.warm_from = 0;
  it.epochs = 1;
  it.latency_ms = 0.25;
  it.test = eval(0.1);
  s.iterations = {it};
  s.best = BestRecord{1, {16}, 0.9, 99, "retrain"};
  s.selection = SelectionRecord{2, {SelectCandidate{1, {16}, {0.5, 0.6}, 0.55}}, 0};
  s.done = true;
  s.stopped = "patience";
  s.device = "cpu";
  round_trip(s, "search");
}

// Each damaged record: exit 3 naming the file and the problem; another schema_version: exit 2.
TEST(Records, DamagedRecordsAreNamedWithExitThree) {
  auto as = [](auto tag) {
    using T = decltype(tag);
    return [](const std::string& p) { (void)read_record_as<T>(p); };
  };
  const auto ck = as(CheckpointRecord{});
  const auto fp = as(FurProgress{});
  const auto cmp = as(CompareRecord{});
  auto with = [](json j, const std::function<void(json&)>& edit) {
    edit(j);
    return versioned(j);
  };
  const json c0 = json(checkpoint_sample()), f0 = json(fur_sample()), m0 = json(compare_sample());
  struct Row {
    const char* what;
    std::function<void(const std::string&)> read;
    json doc;
    int code;
    const char* says;
  };
  const std::vector<Row> rows = {
      {"history shorter than the epochs", ck, with(c0, [](json& j) { j["epoch"] = 5; }), 3, "epochs of history"},
      {"history out of order", ck, with(c0, [](json& j) { j["history"][0]["epoch"] = 1; }), 3, "history[0]"},
      {"partial not after epoch", ck, with(c0, [](json& j) { j["partial"]["epoch"] = 1; }), 3, "does not follow"},
      {"negative step", ck, with(c0, [](json& j) { j["partial"]["step"] = -1; }), 3, "must not be negative"},
      {"step past int64", ck, with(c0, [](json& j) { j["partial"]["seen"] = 1e300; }), 3, "not an integer in range"},
      {"checkpoint without history", ck, with(c0, [](json& j) { j.erase("history"); }), 3, "history"},
      {"layer key not an index", fp, with(f0, [](json& j) { j["layers"]["x1"] = {0.1}; }), 3, "x1"},
      {"layer key negative", fp, with(f0, [](json& j) { j["layers"]["-1"] = {0.1}; }), 3, "-1"},
      {"pending layer unmeasured", fp, with(f0, [](json& j) { j["refine_pending"] = {7}; }), 3, "layer 7"},
      {"layers not an object", fp,
       with(f0,
            [](json& j) {
              j["layers"] = {1, 2};
            }),
       3, "expected an object"},
      {"seeds not 1..S", cmp,
       with(m0,
            [](json& j) {
              j["seeds"] = {2, 3};
            }),
       3, "seeds"},
      {"no original first", cmp, with(m0, [](json& j) { j["entries"].erase(0); }), 3, "original"},
      {"runs do not match seeds", cmp, with(m0, [](json& j) { j["entries"][1]["runs"].erase(0); }), 3, "'wide'"},
      {"run outside runs/", cmp, with(m0, [](json& j) { j["entries"][1]["runs"][0] = "../x_s1"; }), 3, "../x_s1"},
      {"bad entry name", cmp, with(m0, [](json& j) { j["entries"][2]["name"] = "a/b"; }), 3, "a/b"},
      {"unknown kind", cmp, with(m0, [](json& j) { j["entries"][2]["kind"] = "gaussian"; }), 3, "gaussian"},
      {"accuracy above 1", cmp, with(m0, [](json& j) { j["entries"][0]["test_top1"] = {1.5}; }), 3, "0..1"},
      {"zero budget", cmp, with(m0, [](json& j) { j["budget_target"] = 0; }), 3, "budget_target"},
      {"another schema", cmp,
       [&] {
         json j = versioned(m0);
         j["schema_version"] = kSchemaVersion + 1;
         return j;
       }(),
       2, "schema_version"},
      {"no schema", fp, f0, 2, "schema_version"},
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const std::string path = dir() + "/damaged_" + std::to_string(i) + ".json";
    write_json_atomic(path, r.doc);
    std::string msg;
    EXPECT_EQ(exit_code_of([&] { r.read(path); }, msg), r.code) << r.what << ": " << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << r.what << ": " << msg;
    EXPECT_NE(msg.find(r.says), std::string::npos) << r.what << ": " << msg;
  }
  // A file cut short, as a crash without atomic writes would leave it.
  const std::string cut = dir() + "/cut.json";
  std::ofstream(cut) << json(versioned(m0)).dump().substr(0, 40);
  std::string msg;
  EXPECT_EQ(exit_code_of([&] { (void)read_record_as<CompareRecord>(cut); }, msg), 3) << msg;
}

// The checkpoint is a TrainState: weights, optimizer, epochs done, position and random state come back as
// they were saved, and a file of another kind is refused with exit 3 naming it.
TEST(Records, TrainStateRoundTripsThroughItsCheckpoint) {
  Config c = testing_util::small_config();
  torch::manual_seed(1);
  GraphNet net(build_spec(c.model, 12));
  std::vector<torch::Tensor> params = net->parameters();
  Sgd opt(params, sgd_options(c.train));
  auto x = torch::randn({4, 1, 12, 12});
  net->forward(x).sum().backward();
  opt.step(0.1);  // momentum buffers are not zero
  TrainState saved(net, opt, nullptr, torch::kCPU);
  const CheckpointRecord sample = checkpoint_sample();
  saved.history = sample.history;
  saved.position = *sample.partial;
  const std::string path = dir() + "/checkpoint.pt";
  torch::manual_seed(77);
  saved.save(path, false, c.model);
  const torch::Tensor next_draw = torch::rand({3});  // what the generator gives after the save

  torch::manual_seed(2);
  GraphNet other(build_spec(c.model, 12));
  std::vector<torch::Tensor> other_params = other->parameters();
  Sgd other_opt(other_params, sgd_options(c.train));
  TrainState loaded(other, other_opt, nullptr, torch::kCPU);
  const TrainState::Loaded how = loaded.load(path);
  EXPECT_TRUE(how.generators);
  EXPECT_TRUE(torch::equal(torch::rand({3}), next_draw)) << "the random state must come back";
  EXPECT_EQ(json(loaded.history), json(sample.history));
  EXPECT_EQ(json(loaded.position), json(*sample.partial));
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], other_params[i])) << i;
  // The optimizer came back too: one more identical step keeps the two networks equal.
  opt.zero_grad();
  other_opt.zero_grad();
  for (GraphNet* n : {&net, &other}) (*n)->forward(x).sum().backward();
  opt.step(0.1);
  other_opt.step(0.1);
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], other_params[i])) << i;

  // A saved model (no training state) and a cut checkpoint are named.
  save_model(net, c.model, dir() + "/model.pt");
  std::string msg;
  EXPECT_EQ(exit_code_of([&] { loaded.load(dir() + "/model.pt"); }, msg), 3);
  EXPECT_NE(msg.find("model.pt: a model without training state"), std::string::npos) << msg;
  const std::string bytes = read_file(path);
  write_file_atomic(dir() + "/cut.pt", bytes.substr(0, bytes.size() / 2));
  EXPECT_THROW(loaded.load(dir() + "/cut.pt"), DamagedFile);
}
