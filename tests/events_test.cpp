// TensorBoard event files (checked with the tensorboard package's own loader) and the search's ETA.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "cli_util.h"
#include "netadj/records/tensorboard.h"
#include "netadj/search/eta.h"
#include "netadj/util/events.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;

namespace {

const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

// {file relative to `dir`: [[tag, step, value], ...]} as TensorBoard's EventFileLoader reads them; null when the
// test Python has no tensorboard.
json read_events(const std::string& dir) {
  auto r = testing_util::run_cli_in(
      NETADJ_PYTHON, {"-W", "ignore", std::string(NETADJ_SOURCE_DIR) + "/tests/read_events.py", dir}, "");
  if (r.status != 0) {
    if (r.err.find("No module named 'tensorboard'") != std::string::npos) return nullptr;
    ADD_FAILURE() << "read_events.py failed: " << r.err;
    return nullptr;
  }
  return json::parse(r.out);
}

#define READ_EVENTS_OR_SKIP(var, dir)                                                     \
  json var = read_events(dir);                                                            \
  if (var.is_null()) {                                                                    \
    if (::testing::Test::HasFailure()) return;                                            \
    GTEST_SKIP() << NETADJ_PYTHON << " has no tensorboard (scripts/test.sh installs it)"; \
  }

std::string read_file_or_empty(const std::string& path) { return file_exists(path) ? read_file(path) : ""; }

// (tag, step) -> how many times it occurs in one file's events.
std::map<std::pair<std::string, int64_t>, int> counts(const json& events) {
  std::map<std::pair<std::string, int64_t>, int> n;
  for (const auto& e : events) n[{e[0].get<std::string>(), e[1].get<int64_t>()}]++;
  return n;
}

}  // namespace

TEST(Events, Crc32cMatchesTheCastagnoliCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  // TFRecord's mask: rotate right by 15, add 0xa282ead8.
  const uint32_t c = crc32c("abc", 3);
  EXPECT_EQ(masked_crc32c("abc"), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST(Events, TensorBoardReadsWhatTheWriterWrote) {
  const std::string d = testing_util::fresh_dir("events_roundtrip");
  EventWriter w = EventWriter::open(d, {{1, {{"train/loss", 2.5}, {"lr", 0.1}}}});
  w.write({2, {{"train/loss", 1.25}, {"lr", 0.05}, {"width/conv1", 48}}});
  w.write({3, {{"train/loss", 0.625}}});
  READ_EVENTS_OR_SKIP(ev, d);
  ASSERT_EQ(ev.size(), 1u) << ev.dump();
  const json& e = ev.begin().value();
  ASSERT_EQ(e.size(), 7u) << e.dump();
  EXPECT_EQ(e[0][0], "file_version");
  EXPECT_EQ(e[0][2], "brain.Event:2");
  EXPECT_EQ(e[1], json::parse(R"(["train/loss", 1, 2.5])"));
  EXPECT_EQ(e[2][0], "lr");
  EXPECT_NEAR(e[2][2].get<double>(), 0.1, 1e-7);  // simple_value is a float
  EXPECT_EQ(e[5], json::parse(R"(["width/conv1", 2, 48.0])"));
  EXPECT_EQ(e[6], json::parse(R"(["train/loss", 3, 0.625])"));
}

// A damaged record is refused by TensorBoard's reader: the CRCs are checked, so they must be right.
TEST(Events, TensorBoardChecksTheFramingsCrc) {
  const std::string d = testing_util::fresh_dir("events_crc");
  EventWriter w = EventWriter::open(d, {{1, {{"a", 1}}}});
  std::string bytes = read_file(w.path());
  bytes[bytes.size() - 6] ^= 0x20;  // inside the last record's data
  write_file_atomic(w.path(), bytes);
  READ_EVENTS_OR_SKIP(ev, d);
  const json& e = ev.begin().value();
  EXPECT_EQ(e.size(), 1u) << "a record with a wrong CRC was read: " << e.dump();
}

// Opening a folder again replaces its event files with one that holds the given history: each step once.
TEST(Events, ReopeningKeepsEachStepOnce) {
  const std::string d = testing_util::fresh_dir("events_reopen");
  EventWriter::open(d, {}).write({1, {{"x", 1}}});
  EventWriter::open(d, {}).write({1, {{"x", 1}}});  // the same second and process: the same name
  write_file_atomic(d + "/events.out.tfevents.1.host.99.netadj", read_file(event_files(d)[0]));  // another's
  EventWriter w = EventWriter::open(d, {{1, {{"x", 1}}}});
  w.write({2, {{"x", 2}}});
  EXPECT_EQ(event_files(d).size(), 1u);
  READ_EVENTS_OR_SKIP(ev, d);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(counts(ev.begin().value()),
            (std::map<std::pair<std::string, int64_t>, int>{{{"file_version", 0}, 1}, {{"x", 1}, 1}, {{"x", 2}, 1}}));
}

// `netadj train` killed inside its second epoch and resumed: the run's event file has every epoch once, with
// the epoch's tags.
TEST(EventsCli, KilledAndResumedTrainingHasEachEpochOnce) {
  const std::string d = testing_util::fresh_dir("events_train"), run = d + "/run";
  const std::vector<std::string> args = {"train",
                                         "--config",
                                         kSmoke,
                                         "--out",
                                         run,
                                         "--set",
                                         "train.epochs=3",
                                         "--set",
                                         "data.synthetic.train_size=1024",
                                         "--set",
                                         "train.batch_size=16",
                                         "--set",
                                         "runtime.threads=1",
                                         "--set",
                                         "train.full_train=false"};
  // Killed once the first epoch's events are on disk (its checkpoint may or may not be).
  auto first_epoch_logged = [&] {
    return read_file_or_empty(run + "/metrics.jsonl").find("\"epoch\":0") != std::string::npos;
  };
  auto cut = testing_util::run_cli_full(args, first_epoch_logged, SIGKILL);
  ASSERT_EQ(cut.status, -SIGKILL) << cut.err;
  auto resumed = testing_util::run_cli_full({"train", "--resume", run});
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  READ_EVENTS_OR_SKIP(ev, run);
  ASSERT_EQ(ev.size(), 1u) << ev.dump();
  auto n = counts(ev.begin().value());
  for (int64_t step = 1; step <= 3; ++step)
    for (const char* tag : {"train/loss", "train/top1", "lr", "images_per_s", "val/loss", "val/top1"})
      EXPECT_EQ((n[{tag, step}]), 1) << tag << " at epoch " << step;
  EXPECT_EQ((n[{"train/loss", 4}]), 0);
}

// A search: the run folder has one step per iteration with FLOPs, params, latency, accuracy, and each layer's
// width and FUR with its standard error; each iteration's folder has its training's epochs.
TEST(EventsCli, SearchWritesIterationsAndTheirTrainings) {
  const std::string run = testing_util::fresh_dir("events_search") + "/run";
  ASSERT_EQ(testing_util::run_cli({"--quiet", "search", "--config", kSmoke, "--out", run}), 0);
  const json s = read_json(run + "/search.json");
  const auto& names = s["layer_names"];
  READ_EVENTS_OR_SKIP(ev, run);
  std::set<std::string> files;
  for (const auto& f : ev.items()) files.insert(f.key().substr(0, f.key().find('/')));
  EXPECT_EQ(files.count("iter_0"), 1u);
  EXPECT_EQ(files.count("iter_1"), 1u);
  std::string top;
  for (const auto& f : ev.items())
    if (f.key().find('/') == std::string::npos) top = f.key();
  ASSERT_FALSE(top.empty()) << ev.dump();
  auto n = counts(ev[top]);
  for (int64_t t = 0; t < int64_t(s["iterations"].size()); ++t) {
    for (const char* tag : {"flops", "params", "latency_ms", "val/top1", "test/top1", "time/elapsed_h"})
      EXPECT_EQ((n[{tag, t}]), 1) << tag << " at iteration " << t;
    for (const auto& name : names)
      for (const char* kind : {"width/", "fur/", "fur_stderr/"})
        EXPECT_EQ((n[{kind + name.get<std::string>(), t}]), 1) << kind << name << " at iteration " << t;
  }
  // Width values are the record's.
  for (const auto& e : ev[top]) {
    if (e[0] == "width/" + names[0].get<std::string>()) {
      EXPECT_EQ(e[2].get<double>(), s["iterations"][e[1].get<size_t>()]["channels"][0].get<double>());
    }
  }
  // Iteration 0's training: each epoch once.
  for (const auto& f : ev.items()) {
    if (f.key().rfind("iter_0/", 0) != 0) continue;
    auto e = counts(f.value());
    for (int64_t epoch = 1; epoch <= s["epochs_per_iteration"].get<int64_t>(); ++epoch)
      EXPECT_EQ((e[{"train/loss", epoch}]), 1) << "iter_0 epoch " << epoch;
  }
}

// The ETA from a recorded search: a cold first iteration, warm-started ones with fewer epochs (one of them
// resumed, so its training time is partial), an early stop by patience, then the selection's re-trainings. At
// every iteration after the second the estimate is within 25% of what was left.
TEST(Eta, WithinAQuarterOfTheRemainingTimeAtEveryIterationAfterTheSecond) {
  const int iterations = 10, stops_after = 6, full = 20, warm = 6;
  auto epochs_of = [&](int t) { return t == 0 ? full : warm; };
  // Seconds per epoch drift with the widths (+-12%); FUR about two epochs; the warm start and records 3 s.
  const double epoch_s[] = {30, 33, 28, 31, 34, 29, 32};
  const double fur_s[] = {61, 58, 66, 57, 63, 60, 59};
  std::vector<IterationCost> costs;
  std::vector<double> total;
  for (int t = 0; t <= stops_after; ++t) {
    IterationCost c{epochs_of(t), epochs_of(t) * epoch_s[t], 0, false};
    c.total_s = c.train_s + fur_s[t] + 3;
    if (t == 3) {  // resumed after a crash: only the last 2 epochs were timed
      c.resumed = true;
      c.train_s = 2 * epoch_s[t];
      c.total_s = c.train_s + fur_s[t] + 3;
    }
    costs.push_back(c);
    total.push_back(epochs_of(t) * epoch_s[t] + fur_s[t] + 3);
  }
  const int select_trainings = 3 * 2;
  const double select_s = select_trainings * full * 31.5;  // re-trainings of other widths: about the mean rate
  for (int t = 2; t <= stops_after; ++t) {
    double left = select_s;
    for (int u = t + 1; u <= stops_after; ++u) left += total[size_t(u)];
    std::vector<IterationCost> done(costs.begin(), costs.begin() + t + 1);
    const SearchWork work = work_after(t, iterations, t == stops_after, epochs_of, select_trainings, full);
    const auto eta = search_eta(done, work);
    ASSERT_TRUE(eta.has_value());
    EXPECT_NEAR(*eta, left, 0.25 * left) << "after iteration " << t;
  }
  // After the stop only the selection is left, and without one nothing.
  EXPECT_TRUE(work_after(stops_after, iterations, true, epochs_of, 0, full).epochs.empty());
  EXPECT_EQ(*search_eta(costs, work_after(stops_after, iterations, true, epochs_of, 0, full)), 0.0);
  // Nothing timed yet: no estimate.
  EXPECT_FALSE(search_eta({}, work_after(0, iterations, false, epochs_of, 0, full)).has_value());
}

// Warm-started iterations count by their epochs: per iteration, ten short ones cost what three full ones do.
TEST(Eta, CountsEpochsNotIterations) {
  std::vector<IterationCost> done = {{10, 100, 110, false}};
  const SearchWork w = work_after(
      0, 4, false, [](int) { return 3; }, 0, 10);
  ASSERT_EQ(w.epochs, (std::vector<int>{3, 3, 3}));
  EXPECT_DOUBLE_EQ(*search_eta(done, w), 9 * 10.0 + 3 * 10.0);
  EXPECT_EQ(human_duration(45), "45s");
  EXPECT_EQ(human_duration(750), "12m30s");
  EXPECT_EQ(human_duration(3 * 3600 + 5 * 60), "3h05m");
  EXPECT_EQ(human_duration(2 * 86400 + 4 * 3600), "2d04h");
}
