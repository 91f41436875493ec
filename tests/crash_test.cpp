// Crash tests at every failpoint (util/failpoint.h), as databases test themselves: a small search, a compare and
// a train are killed at each durable step they take (the first and the last time it is taken), then resumed; the
// records must equal an uninterrupted run's and no stray file may be left. Also: the list of failpoints in
// docs/run-directory.md matches what the runs pass, no durable write in src/ bypasses util/fs, two starts on one
// --out, and the starts that fail leave nothing behind.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "cli_util.h"
#include "netadj/util/failpoint.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The smallest runs that pass every kind of durable step: two epochs (a checkpoint with a previous one), two
// iterations and a selection by re-training (search), two entries (compare).
const std::vector<std::string> kTiny = {"--config", kSmoke,
                                        "--set",    "data.synthetic.train_size=192",
                                        "--set",    "data.val_size=64",
                                        "--set",    "data.synthetic.test_size=64",
                                        "--set",    "runtime.threads=1",
                                        "--set",    "fur.repeats=1",
                                        "--set",    "train.batch_size=64"};

struct Scenario {
  std::string name;
  std::vector<std::string> start;  ///< the command that starts the run (without --out)
  std::string command;             ///< its name, for --resume
  int shards = 1;                  ///< tests its kill points are spread over (each well under a minute)
  int nproc = 1;
};

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {
      {"search",
       concat(concat({"search"}, kTiny),
              {"--set", "search.select=retrain", "--set", "search.select_top=1", "--set", "search.select_seeds=1"}),
       "search", 8},
      {"compare", concat(concat({"compare"}, kTiny), {"--seeds", "1", "--controls", "uniform"}), "compare", 6},
      {"train", concat(concat({"train"}, kTiny), {"--set", "train.full_train=false", "--set", "export.format=both"}),
       "train", 3},
      // A latency budget measures its table in the run: measured times, so a resumed run's records differ from
      // an uninterrupted one's; its own test below kills it in the table.
      {"latency", concat(concat({"search"}, kTiny), {"--set", "search.iterations=1", "--set", "search.budget=latency"}),
       "search", 0},
      {"search2", concat(concat({"search"}, kTiny), {"--set", "search.iterations=1"}), "search", 0, 2},
  };
  return all;
}

const Scenario& scenario(const std::string& name) {
  for (const Scenario& s : scenarios())
    if (s.name == name) return s;
  throw std::invalid_argument(name);
}

std::vector<std::string> with_nproc(std::vector<std::string> args, int nproc) {
  if (nproc > 1) args.insert(args.end(), {"--nproc", std::to_string(nproc)});
  return args;
}

// Runs netadj with the failpoint environment (`point` "" : none armed).
testing_util::CliRun run_with(const std::vector<std::string>& args, const std::string& point,
                              const std::string& trace = "", const std::string& action = "") {
  return testing_util::run_cli_in(NETADJ_BINARY, args, "", nullptr, SIGKILL, [=] {
    ::unsetenv("NETADJ_FAILPOINT");
    ::unsetenv("NETADJ_FAILPOINT_TRACE");
    ::unsetenv("NETADJ_FAILPOINT_ACTION");
    if (!point.empty()) ::setenv("NETADJ_FAILPOINT", point.c_str(), 1);
    if (!trace.empty()) ::setenv("NETADJ_FAILPOINT_TRACE", trace.c_str(), 1);
    if (!action.empty()) ::setenv("NETADJ_FAILPOINT_ACTION", action.c_str(), 1);
  });
}

// Keys whose values are measured (times, speeds, latencies), not computed: left out of the comparison.
const std::set<std::string> kMeasured = {"seconds", "train_seconds", "fur_seconds", "elapsed_s",
                                         "eta_s",   "latency_ms",    "images_per_s"};

json without_measured(json j) {
  if (j.is_object()) {
    for (const std::string& k : kMeasured) j.erase(k);
    for (auto& [k, v] : j.items()) v = without_measured(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = without_measured(v);
  }
  return j;
}

// A run directory as the comparison sees it: every file by its path (event files by their folder), with the
// computed content of the records (JSON files and metrics.jsonl less what is measured; times.json is all
// timing) and the presence of the rest (archives, the log, the lock, event files).
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), dir).string();
    const std::string name = e.path().filename().string();
    if (name.rfind("events.out.tfevents.", 0) == 0 && !is_temp_name(name))
      rel = fs::relative(e.path().parent_path(), dir).string() + "/events.out.tfevents";
    std::string content = "(present)";
    if (e.path().extension() == ".json" && name != "times.json") {
      try {
        content = without_measured(read_json(e.path().string())).dump();
      } catch (const std::exception& ex) {
        content = std::string("unreadable: ") + ex.what();
      }
    } else if (name == "metrics.jsonl") {
      std::istringstream in(read_file(e.path().string()));
      content.clear();
      for (std::string line; std::getline(in, line);) content += without_measured(json::parse(line)).dump() + "\n";
    }
    out[rel] = content;
  }
  return out;
}

// The uninterrupted run of a scenario and the failpoints it passed, made once per build of netadj (and scenario) and
// shared by every test that needs it (tests run in separate processes, side by side: the first makes it under a lock).
struct Reference {
  std::string dir;
  std::vector<std::string> trace;  ///< every failpoint passed, in order
};

const Reference& reference(const Scenario& s) {
  static std::map<std::string, Reference> made;
  if (auto it = made.find(s.name); it != made.end()) return it->second;
  struct stat st {};
  ::stat(NETADJ_BINARY, &st);
  std::string args;
  for (const std::string& a : s.start) args += a + "\n";
  const std::string base = ::testing::TempDir() + "/netadj_crash_ref_" + s.name + "_" +
                           std::to_string(int64_t(st.st_mtime)) + "_" + std::to_string(int64_t(st.st_size)) + "_" +
                           std::to_string(std::hash<std::string>{}(args));
  const int lock = ::open((base + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ::flock(lock, LOCK_EX);
  Reference r{base + "/run", {}};
  if (!file_exists(base + "/done")) {
    remove_tree(base);
    make_dirs(base);
    auto run = run_with(with_nproc(concat(s.start, {"--out", r.dir}), s.nproc), "", base + "/trace.txt");
    EXPECT_EQ(run.status, 0) << s.name << ": " << run.err;
    if (run.status == 0) std::ofstream(base + "/done") << "1\n";  // a failed one is made again by the next test
  }
  std::istringstream in(file_exists(base + "/trace.txt") ? read_file(base + "/trace.txt") : "");
  for (std::string line; std::getline(in, line);) r.trace.push_back(line);
  ::close(lock);
  return made[s.name] = r;
}

// Where a scenario is killed: every failpoint it passes, at its first pass and at its last.
std::vector<std::string> kill_points(const std::vector<std::string>& trace) {
  std::map<std::string, int> count;
  std::vector<std::string> order;
  for (const std::string& name : trace)
    if (count[name]++ == 0) order.push_back(name);
  std::vector<std::string> out;
  for (const std::string& name : order) {
    out.push_back(name + "#1");
    if (count[name] > 1) out.push_back(name + "#" + std::to_string(count[name]));
  }
  return out;
}

struct Shard {
  std::string scenario;
  int index;
};

void PrintTo(const Shard& s, std::ostream* os) { *os << s.scenario << " " << s.index; }

std::string shard_name(const ::testing::TestParamInfo<Shard>& info) {
  return info.param.scenario + "_" + std::to_string(info.param.index);
}

class KillAtEveryFailpoint : public ::testing::TestWithParam<Shard> {};

}  // namespace

// Killed at a failpoint and resumed (or, when the kill came before config.json, started again with the same
// --out, as a user would), each run ends with the uninterrupted run's records and files, nothing more.
TEST_P(KillAtEveryFailpoint, ResumesToTheUninterruptedRecordsWithNothingLeftOver) {
  const Scenario& s = scenario(GetParam().scenario);
  const Reference& ref = reference(s);
  const auto want = snapshot(ref.dir);
  const std::vector<std::string> points = kill_points(ref.trace);
  ASSERT_GT(points.size(), 10u) << "the reference run passed too few failpoints";
  const std::string d = testing_util::fresh_dir("crash_" + s.name + "_" + std::to_string(GetParam().index));
  int killed = 0;
  for (size_t i = size_t(GetParam().index); i < points.size(); i += size_t(s.shards)) {
    const std::string run = d + "/run";
    remove_tree(run);
    auto cut = run_with(with_nproc(concat(s.start, {"--out", run}), s.nproc), points[i]);
    ASSERT_NE(cut.status, 0) << points[i] << ": the run was not killed there";
    ++killed;
    const bool begun = file_exists(run + "/config.json");
    auto again = run_with(
        with_nproc(begun ? std::vector<std::string>{s.command, "--resume", run} : concat(s.start, {"--out", run}),
                   s.nproc),
        "");
    ASSERT_EQ(again.status, 0) << points[i] << (begun ? ": resume: " : ": start again: ") << again.err;
    const auto got = snapshot(run);
    EXPECT_EQ(got, want) << "killed at " << points[i];
    if (got != want) {
      std::set<std::string> a, b;
      for (const auto& [k, v] : got) a.insert(k);
      for (const auto& [k, v] : want) b.insert(k);
      for (const auto& k : a)
        if (!b.count(k)) ADD_FAILURE() << points[i] << ": left over: " << k;
      for (const auto& k : b)
        if (!a.count(k)) ADD_FAILURE() << points[i] << ": missing: " << k;
      for (const auto& [k, v] : want)
        if (got.count(k) && got.at(k) != v) ADD_FAILURE() << points[i] << ": differs: " << k;
    }
  }
  EXPECT_GT(killed, 0);
}

namespace {
std::vector<Shard> all_shards() {
  std::vector<Shard> out;
  for (const Scenario& s : scenarios())
    for (int i = 0; i < s.shards; ++i) out.push_back({s.name, i});
  return out;
}
}  // namespace

INSTANTIATE_TEST_SUITE_P(Crash, KillAtEveryFailpoint, ::testing::ValuesIn(all_shards()), shard_name);

// A data-parallel search whose writing rank is killed at a failpoint: the launcher stops the other rank, and the
// resumed two-rank search ends with the uninterrupted two-rank run's records.
TEST(Crash, KilledRankOfATwoRankSearchResumesToTheSameRecords) {
  const Scenario& s = scenario("search2");
  const Reference& ref = reference(s);
  const auto want = snapshot(ref.dir);
  const std::string d = testing_util::fresh_dir("crash_ranks");
  for (const std::string point : {"renamed:fur_partial.json#1", "renamed:checkpoint.pt#2", "renamed:search.json#1"}) {
    ASSERT_NE(std::find(ref.trace.begin(), ref.trace.end(), point.substr(0, point.find('#'))), ref.trace.end())
        << point;
    const std::string run = d + "/run";
    remove_tree(run);
    auto cut = run_with(with_nproc(concat(s.start, {"--out", run}), 2), point);
    ASSERT_NE(cut.status, 0) << point << ": the job was not stopped";
    auto again = run_with({"search", "--resume", run, "--nproc", "2"}, "");
    ASSERT_EQ(again.status, 0) << point << ": " << again.err;
    EXPECT_EQ(snapshot(run), want) << "killed at " << point;
  }
}

// A search killed while it measures its latency table (between two layers, and with a table's temp file
// written) resumes the measurement and finishes, with the uninterrupted run's files and nothing else.
TEST(Crash, LatencyTableMeasurementResumesAfterAKill) {
  const Scenario& s = scenario("latency");
  const Reference& ref = reference(s);
  std::set<std::string> want;
  for (const auto& [file, content] : snapshot(ref.dir)) want.insert(file);
  const std::string d = testing_util::fresh_dir("crash_latency");
  for (const std::string point : {"renamed:latency_table.json#3", "written:latency_table.json#6"}) {
    const std::string run = d + "/run";
    remove_tree(run);
    auto cut = run_with(concat(s.start, {"--out", run}), point);
    ASSERT_NE(cut.status, 0) << point;
    auto again = run_with({"search", "--resume", run}, "");
    ASSERT_EQ(again.status, 0) << point << ": " << again.err;
    std::set<std::string> got;
    for (const auto& [file, content] : snapshot(run)) got.insert(file);
    EXPECT_EQ(got, want) << point;
    EXPECT_TRUE(read_json(run + "/search.json")["done"].get<bool>()) << point;
  }
}

// docs/run-directory.md lists every failpoint, and every one it lists is passed by one of the runs above: a new
// durable write (it goes through util/fs, so it has a failpoint) fails here until it is documented.
TEST(Failpoints, TheDocumentedListIsWhatTheRunsPass) {
  std::set<std::string> passed;
  for (const Scenario& s : scenarios())
    for (const std::string& name : reference(s).trace) passed.insert(name);
  // What only a resume passes (an event file replaced): a search killed in its second iteration, resumed.
  const std::string d = testing_util::fresh_dir("failpoints_doc");
  auto cut = run_with(concat(scenario("search").start, {"--out", d + "/run"}), "renamed:checkpoint.pt#3");
  ASSERT_NE(cut.status, 0) << cut.err;
  auto again = run_with({"search", "--resume", d + "/run"}, "", d + "/trace.txt");
  ASSERT_EQ(again.status, 0) << again.err;
  std::istringstream trace(read_file(d + "/trace.txt"));
  for (std::string line; std::getline(trace, line);) passed.insert(line);
  const std::string doc = read_file(std::string(NETADJ_SOURCE_DIR) + "/docs/run-directory.md");
  const size_t begin = doc.find("<!-- failpoints -->"), end = doc.find("<!-- /failpoints -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  std::set<std::string> listed;
  const std::regex row(R"(^\| `([a-z]+:[^`]+)` \|)");
  std::istringstream in(doc.substr(begin, end - begin));
  for (std::string line; std::getline(in, line);)
    if (std::smatch m; std::regex_search(line, m, row)) listed.insert(m[1]);
  for (const std::string& p : passed) EXPECT_TRUE(listed.count(p)) << p << " is not in docs/run-directory.md";
  for (const std::string& p : listed) EXPECT_TRUE(passed.count(p)) << p << " is listed but no run passes it";
}

// Every durable write in src/ goes through util/fs (or run_dir.cpp's mkdir and lock file), whose steps pass
// failpoints: no other file opens files for writing, renames, links, unlinks or saves.
TEST(Failpoints, NoDurableWriteBypassesUtilFs) {
  const std::regex write_call(
      R"((std::ofstream|\bfopen\s*\(|\brename\s*\(|\blink\s*\(|\bunlink\s*\(|torch::save\s*\(|\bmkdir\s*\()"
      R"(|create_director|remove_all|\bfwrite\s*\(|\bpwrite\s*\(|\bftruncate\s*\(|O_WRONLY|O_RDWR|O_CREAT))");
  // file -> what it may do: the writers themselves, the run directory's mkdir and lock, /dev/null for a child.
  const std::map<std::string, std::string> allowed = {
      {"util/fs.cpp", ""}, {"util/failpoint.cpp", ""}, {"run/run_dir.cpp", ""}, {"util/paths.cpp", "/dev/null"}};
  const std::string src = std::string(NETADJ_SOURCE_DIR) + "/src";
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    if (e.path().extension() != ".cpp") continue;
    ++files;
    const std::string rel = fs::relative(e.path(), src).string();
    std::istringstream in(read_file(e.path().string()));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (!std::regex_search(line, write_call)) continue;
      auto it = allowed.find(rel);
      if (it != allowed.end() && (it->second.empty() || line.find(it->second) != std::string::npos)) continue;
      ADD_FAILURE() << "src/" << rel << ":" << n << " writes without util/fs (and its failpoints): " << line;
    }
  }
  EXPECT_GT(files, 50);
}

TEST(Failpoints, NamesDropFoldersDigitsAndTempSuffixes) {
  EXPECT_EQ(failpoint_name("renamed", "/r/x1/iter_12/fur.json"), "renamed:fur.json");
  EXPECT_EQ(failpoint_name("written", "/r/select/c1_s2/checkpoint.pt.tmp.4242"), "written:checkpoint.pt");
  EXPECT_EQ(failpoint_name("removed", "/r/events.out.tfevents.1700000000.host-7.99.netadj"),
            "removed:events.out.tfevents");
  EXPECT_EQ(failpoint_name("written", "/r/c3.json"), "written:cN.json");
  EXPECT_EQ(failpoint_name("written", "/r/a.tmp.x"), "written:a.tmp.x");  // not a temp name: no pid
}

// ---- starts that must not take anything from another process, or leave anything behind ---------------------

// Polls until `path` exists (at most 60 s).
bool wait_for_path(const std::string& path) {
  for (int i = 0; i < 12000 && !fs::exists(path); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return fs::exists(path);
}

// Two searches started on one --out at once, the first stalled between making the directory and locking it
// (1.5 s: the second holds the lock when the first takes it; 6 s: the second has finished): one runs, the other is
// refused in one line, and nothing of the run is deleted, whichever locks first.
TEST(RunDirStart, TwoStartsOnOneOutEndWithOneRunAndOneRefusal) {
  const std::string d = testing_util::fresh_dir("two_starts");
  const std::vector<std::string> search = concat(concat({"search"}, kTiny), {"--set", "search.iterations=1"});
  for (const char* stall : {"sleep:1500", "sleep:6000"}) {
    const std::string out = d + "/run";
    remove_tree(out);
    testing_util::CliRun first, second;
    std::thread slow([&] { first = run_with(concat(search, {"--out", out}), "created:run directory", "", stall); });
    const bool made = wait_for_path(out);  // the first has made the directory and stalls
    if (made) second = run_with(concat(search, {"--out", out}), "");
    slow.join();
    ASSERT_TRUE(made) << stall << ": " << first.err;
    // On a loaded machine the second may reach the lock only after the first woke: then the roles swap.
    const testing_util::CliRun& ran = second.status == 0 ? second : first;
    const testing_util::CliRun& refused = second.status == 0 ? first : second;
    EXPECT_EQ(ran.status, 0) << stall << ": " << ran.err;
    EXPECT_EQ(refused.status, 2) << stall << ": " << refused.err;
    const bool in_use = refused.err.find("in use by another netadj process") != std::string::npos;
    const bool holds = refused.err.find("already holds a run") != std::string::npos;
    EXPECT_TRUE(in_use || holds) << stall << ": " << refused.err;
    ASSERT_TRUE(file_exists(out + "/search.json")) << stall << ": the run was deleted";
    EXPECT_TRUE(read_json(out + "/search.json")["done"].get<bool>()) << stall;
  }
}

namespace {
// The names in `dir` (recursively), for "nothing changed" checks.
std::set<std::string> listing(const std::string& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(fs::relative(e.path(), dir).string());
  return out;
}
}  // namespace

// A full disk at config.json: exit 5 naming the file, and the --out directory this start made is gone (a folder
// that was there before stays, with what it held).
TEST(RunDirStart, DiskFullAtConfigJsonLeavesNothing) {
  const std::string d = testing_util::fresh_dir("start_enospc");
  const std::vector<std::string> train = concat({"train"}, kTiny);
  auto made = run_with(concat(train, {"--out", d + "/new"}), "written:config.json", "", "enospc");
  EXPECT_EQ(made.status, 5) << made.err;
  EXPECT_NE(made.err.find(d + "/new/config.json"), std::string::npos) << made.err;
  EXPECT_FALSE(fs::exists(d + "/new"));
  make_dirs(d + "/given");
  { std::ofstream(d + "/given/notes.txt") << "mine\n"; }
  auto given = run_with(concat(train, {"--out", d + "/given"}), "written:config.json", "", "enospc");
  EXPECT_EQ(given.status, 5) << given.err;
  EXPECT_EQ(listing(d + "/given"), std::set<std::string>{"notes.txt"});
  // The same folder then takes the run.
  EXPECT_EQ(run_with(concat(train, {"--out", d + "/given"}), "").status, 0);
}

namespace {
// A coarse latency table of the tiny runs' network (batch 1, one thread), in `file`.
void measure_small_table(const std::string& file) {
  auto lut = testing_util::run_cli_full(concat(concat({"--quiet", "bench", "lut"}, kTiny),
                                               {"--threads", "1", "--points", "2", "--reps", "2", "--out", file}));
  ASSERT_EQ(lut.status, 0) << lut.err;
}
}  // namespace

// A latency budget whose table was measured for another batch size is refused before the run directory exists:
// nothing is left, and the same --out then runs with --force.
TEST(RunDirStart, RefusedLatencyTableLeavesNoRunDirectory) {
  const std::string d = testing_util::fresh_dir("start_latency");
  ASSERT_NO_FATAL_FAILURE(measure_small_table(d + "/table.json"));
  const std::vector<std::string> search =
      concat(concat({"search"}, kTiny),
             {"--set", "search.iterations=1", "--set", "search.budget=latency", "--set",
              "search.latency_table=" + d + "/table.json", "--set", "search.latency_batch=4", "--out", d + "/run"});
  auto refused = testing_util::run_cli_full(search);
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_FALSE(fs::exists(d + "/run")) << refused.err;
  auto forced = testing_util::run_cli_full(concat(search, {"--force"}));
  EXPECT_EQ(forced.status, 0) << forced.err;
}

// A directory where a file is expected is named as one, not parsed as empty JSON.
TEST(RunDirStart, ADirectoryGivenForAFileIsNamed) {
  const std::string d = testing_util::fresh_dir("start_dir_args");
  make_dirs(d + "/cfg.json");
  make_dirs(d + "/ch.json");
  make_dirs(d + "/run/config.json");
  for (const auto& args : {std::vector<std::string>{"flops", "--config", d + "/cfg.json"},
                           concat(concat({"train"}, kTiny), {"--channels", d + "/ch.json", "--out", d + "/o"}),
                           std::vector<std::string>{"search", "--resume", d + "/run"}}) {
    auto r = testing_util::run_cli_full(args);
    EXPECT_NE(r.status, 0) << args[0];
    EXPECT_NE(r.err.find("is a directory"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("unexpected end of input"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(d + "/o"));
}

// A comparison held to a latency budget runs, is killed after its first run, and resumes to the end with what it
// planned.
TEST(RunDirStart, LatencyBudgetCompareRunsAndResumes) {
  const std::string d = testing_util::fresh_dir("compare_latency");
  ASSERT_NO_FATAL_FAILURE(measure_small_table(d + "/table.json"));
  const std::vector<std::string> compare =
      concat(concat({"compare"}, kTiny),
             {"--set", "search.budget=latency", "--set", "search.latency_table=" + d + "/table.json", "--seeds", "1",
              "--controls", "random", "--set", "train.epochs=1", "--out", d + "/run"});
  auto cut = run_with(compare, "renamed:result.json#1");
  ASSERT_NE(cut.status, 0) << cut.err;
  const json planned = read_json(d + "/run/compare.json");
  EXPECT_EQ(planned["budget"], "latency");
  auto resumed = run_with({"compare", "--resume", d + "/run"}, "");
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  const json c = read_json(d + "/run/compare.json");
  EXPECT_TRUE(c["done"].get<bool>());
  ASSERT_EQ(c["entries"].size(), 2u);
  // A random control's predicted latency differs from the original's a little: its error is kept over the resume.
  EXPECT_NE(planned["entries"][1]["budget_error"].get<double>(), 0.0);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(c["entries"][i]["test_top1"].size(), 1u) << c["entries"][i].dump();
    EXPECT_EQ(c["entries"][i]["budget_error"], planned["entries"][i]["budget_error"]) << i;
  }
}

// `bench search --out D` replaces its earlier runs in D/cold and D/warm, but never a run a live process holds:
// with a search working in D/cold, the bench is refused and that search finishes with its run intact.
TEST(RunDirStart, BenchReplacesOnlyRunsNoProcessHolds) {
  const std::string d = testing_util::fresh_dir("bench_replace");
  const std::vector<std::string> search = concat(concat({"search"}, kTiny), {"--set", "search.iterations=1"});
  testing_util::CliRun held;
  std::thread slow([&] {
    held = run_with(concat(search, {"--out", d + "/cold"}), "renamed:config.json", "", "sleep:8000");
  });
  const bool holds = wait_for_path(d + "/cold/config.json");  // the search holds d/cold and stalls there
  testing_util::CliRun bench;
  if (holds) bench = run_with(concat(concat({"bench", "search"}, kTiny), {"--out", d}), "");
  slow.join();
  ASSERT_TRUE(holds) << held.err;
  EXPECT_EQ(bench.status, 2) << bench.err;
  EXPECT_NE(bench.err.find("in use by another netadj process"), std::string::npos) << bench.err;
  ASSERT_EQ(held.status, 0) << held.err;
  EXPECT_TRUE(read_json(d + "/cold/search.json")["done"].get<bool>());
}
