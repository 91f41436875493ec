// The command line as a user meets it: flags anywhere, shipped configs by name, warnings about input
// resolution, SIGINT/SIGTERM with resume, run records of an unknown schema, and an installed copy.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli_util.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;
using testing_util::run_cli_full;

namespace {

const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ResNet-18 (ImageNet) counted on 32x32 CIFAR input: far from its 224x224 design.
const std::vector<std::string> kImagenetOnCifar = {
    "--set", "model.arch=resnet_imagenet", "--set", "model.depth=18",
    "--set", "data.dataset=cifar10",       "--set", "model.num_classes=10"};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(Cli, GlobalFlagsAreAcceptedAfterTheCommand) {
  for (auto args : {std::vector<std::string>{"flops", "--config", kSmoke, "--quiet"},
                    std::vector<std::string>{"flops", "-q", "--config", kSmoke},
                    std::vector<std::string>{"-v", "flops", "--config", kSmoke}}) {
    auto r = run_cli_full(args);
    EXPECT_EQ(r.status, 0) << args[1] << ": " << r.err;
  }
  // --quiet after the command takes effect: the search's info lines stay out of the console.
  std::string d = testing_util::fresh_dir("cli_quiet");
  std::vector<std::string> search = {"search", "--config", kSmoke, "--set", "search.iterations=1", "--out"};
  auto loud = run_cli_full(concat(search, {d + "/loud"}));
  auto quiet = run_cli_full(concat(search, {d + "/quiet", "--quiet"}));
  ASSERT_EQ(loud.status, 0) << loud.err;
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_TRUE(contains(loud.err, "iteration 0/1")) << loud.err;
  EXPECT_FALSE(contains(quiet.err, "iteration 0/1")) << quiet.err;
}

TEST(Cli, FlopsNamesTheResolutionAndWarnsFarFromTheDesign) {
  auto r = run_cli_full(concat({"flops"}, kImagenetOnCifar));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "resolution 32x32 (from data.dataset = cifar10)")) << r.out;
  auto at224 = run_cli_full(concat({"flops", "--set", "model.resolution=224"}, kImagenetOnCifar));
  ASSERT_EQ(at224.status, 0) << at224.err;
  EXPECT_TRUE(contains(at224.out, "resolution 224x224 (from model.resolution)")) << at224.out;
  // ResNet-18 at 224x224: 1,814,073,344 MACs with 1000 classes, 512 x 990 fewer with 10.
  EXPECT_TRUE(contains(at224.out, "= 1813566464 multiply-accumulates")) << at224.out;
  EXPECT_FALSE(contains(at224.err, "designed for")) << at224.err;
}

TEST(Cli, ShippedConfigsByBareNameAndList) {
  auto r = run_cli_full({"config", "--config", "resnet20_cifar100"});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["model"]["depth"], 20);
  EXPECT_EQ(j["data"]["dataset"], "cifar100");
  auto list = run_cli_full({"config", "--list"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_TRUE(contains(list.out, "resnet20_cifar100")) << list.out;
  EXPECT_TRUE(contains(list.out, "quickstart ")) << list.out;
  EXPECT_TRUE(contains(list.out, "resnet_cifar depth 20 on cifar100")) << list.out;
  auto datasets = run_cli_full({"config", "--list-datasets"});
  EXPECT_TRUE(contains(datasets.out, "fashion_mnist")) << datasets.out;
  auto missing = run_cli_full({"config", "--config", "no_such_config"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_TRUE(contains(missing.err, "no_such_config: config file not found")) << missing.err;
}

TEST(Cli, UnknownDatasetListsTheRegisteredOnes) {
  auto r = run_cli_full({"config", "--set", "data.dataset=imagenet21k"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "data.dataset = \"imagenet21k\": expected one of cifar10|cifar100|")) << r.err;
}

namespace {

// The checkpoint's "meta" record (epoch, history, and "partial" for a mid-epoch stop).
json checkpoint_meta(const std::string& path) {
  torch::serialize::InputArchive ar;
  ar.load_from(path);
  c10::IValue meta;
  ar.read("meta", meta);
  return json::parse(meta.toStringRef());
}

// `netadj train` on the smoke data with 64 small steps per epoch, so that a signal sent once the first
// epoch's checkpoint exists lands inside the second (and last) epoch.
std::vector<std::string> train_args(const std::string& out, const std::vector<std::string>& extra) {
  return concat({"train", "--config", kSmoke, "--out", out, "--set", "train.epochs=2", "--set",
                 "data.synthetic.train_size=1024", "--set", "train.batch_size=16", "--set", "runtime.threads=1"},
                extra);
}

// metrics.jsonl without timings, the last line per epoch (a resumed run may repeat one).
std::map<int, json> epoch_metrics(const std::string& file) {
  std::map<int, json> by_epoch;
  std::istringstream lines(read_file(file));
  for (std::string line; std::getline(lines, line);) {
    json m = json::parse(line);
    m.erase("seconds");
    m.erase("images_per_s");
    by_epoch[m["epoch"].get<int>()] = m;
  }
  return by_epoch;
}

void interrupt_and_resume_train(int signal, const std::vector<std::string>& extra) {
  std::string d = testing_util::fresh_dir("cli_signal_" + std::to_string(signal));
  auto ref = run_cli_full(train_args(d + "/ref", extra));
  ASSERT_EQ(ref.status, 0) << ref.err;
  const std::string run = d + "/run", ckpt = run + "/checkpoint.pt";
  auto cut = run_cli_full(
      train_args(run, extra), [&] { return file_exists(ckpt); }, signal);
  ASSERT_EQ(cut.status, 130) << cut.err;
  EXPECT_TRUE(contains(cut.err, "resume with: netadj train --resume " + run)) << cut.err;
  EXPECT_FALSE(file_exists(run + "/result.json"));
  json meta = checkpoint_meta(ckpt);
  EXPECT_TRUE(meta.contains("partial")) << "stopped between epochs: " << meta.dump();
  auto resumed = run_cli_full({"train", "--resume", run});
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  json want = read_json(d + "/ref/result.json"), got = read_json(run + "/result.json");
  EXPECT_EQ(got["test"], want["test"]);  // bit-identical: same weights after the same steps
  EXPECT_EQ(got["channels"], want["channels"]);
  // Every epoch's lr, training loss and accuracy too: the interrupted epoch's running sums carried over.
  EXPECT_EQ(epoch_metrics(run + "/metrics.jsonl"), epoch_metrics(d + "/ref/metrics.jsonl"));
}

}  // namespace

TEST(Cli, SigintMidEpochCheckpointsAndResumeEqualsUninterrupted) { interrupt_and_resume_train(SIGINT, {}); }

TEST(Cli, SigtermWithFp16LossScalingResumesExactly) {
  // Starting at 2^24 the loss scale overflows and backs off: the scale and the skipped steps must carry over.
  interrupt_and_resume_train(SIGTERM, {"--set", "runtime.amp=fp16", "--set", "train.loss_scale=16777216", "--set",
                                       "data.synthetic.train_size=512"});
}

TEST(Cli, SigintDuringASearchResumesToTheSameRecords) {
  std::string d = testing_util::fresh_dir("cli_search_signal");
  std::vector<std::string> args = {"search", "--config", kSmoke, "--set", "runtime.threads=1"};
  auto ref = run_cli_full(concat(args, {"--out", d + "/ref"}));
  ASSERT_EQ(ref.status, 0) << ref.err;
  const std::string run = d + "/run";
  auto cut = run_cli_full(
      concat(args, {"--out", run}), [&] { return file_exists(run + "/iter_1/checkpoint.pt"); }, SIGINT);
  ASSERT_EQ(cut.status, 130) << cut.err;
  EXPECT_TRUE(contains(cut.err, "resume with: netadj search --resume " + run)) << cut.err;
  ASSERT_EQ(run_cli_full({"search", "--resume", run}).status, 0);
  EXPECT_EQ(testing_util::computed_part(read_json(run + "/search.json")),
            testing_util::computed_part(read_json(d + "/ref/search.json")));
}

// A file of another kind where a model, checkpoint or channel file is expected: exit 3 and one error line
// naming the file, what it is and what was expected.
TEST(Cli, FilesOfTheWrongKindAreNamedWithExitThree) {
  std::string d = testing_util::fresh_dir("cli_wrong_kind");
  const std::string run = d + "/run";
  auto train = run_cli_full({"train", "--config", kSmoke, "--out", run, "--set", "train.epochs=1"});
  ASSERT_EQ(train.status, 0) << train.err;
  ASSERT_TRUE(file_exists(run + "/export/model.pt"));
  const std::string exported = run + "/export/model.pt", record = run + "/result.json", model = run + "/model.pt";
  { std::ofstream(d + "/empty.pt"); }
  struct Case {
    std::vector<std::string> args;
    std::string file, what, expected;
  };
  const std::vector<Case> cases = {
      {{"fur", "--checkpoint", exported}, exported, "a TorchScript module", "expected a model.pt or checkpoint.pt"},
      {{"export", "--checkpoint", exported, "--out", d + "/x.pt"},
       exported,
       "a TorchScript module",
       "expected a model.pt or checkpoint.pt"},
      {{"fur", "--checkpoint", record}, record, "a JSON file", "expected a model.pt or checkpoint.pt"},
      {{"fur", "--checkpoint", d + "/empty.pt"}, d + "/empty.pt", "an empty file", "expected a model.pt"},
      {{"train", "--channels", model, "--out", d + "/t"}, model, "a PyTorch archive", "not a channel file"},
      {{"flops", "--channels", model}, model, "a PyTorch archive", "not a channel file"},
  };
  for (const auto& c : cases) {
    auto r = run_cli_full(concat(concat(c.args, {"--config", kSmoke}), {}));
    const std::string what = c.args[0] + " " + c.args[1] + " " + c.file;
    EXPECT_EQ(r.status, 3) << what << ": " << r.err;
    std::vector<std::string> errors;
    std::istringstream lines(r.err);
    for (std::string line; std::getline(lines, line);)
      if (contains(line, "error")) errors.push_back(line);
    ASSERT_EQ(errors.size(), 1u) << what << ": " << r.err;
    EXPECT_TRUE(contains(errors[0], c.file + ": " + c.what)) << what << ": " << errors[0];
    EXPECT_TRUE(contains(errors[0], c.expected)) << what << ": " << errors[0];
  }
  EXPECT_FALSE(file_exists(d + "/x.pt"));
  EXPECT_FALSE(file_exists(d + "/t"));
}

TEST(Cli, RunRecordsOfAnotherSchemaVersionAreRefused) {
  std::string d = testing_util::fresh_dir("cli_schema");
  ASSERT_EQ(run_cli_full({"search", "--config", kSmoke, "--out", d + "/run", "--set", "search.iterations=1"}).status,
            0);
  json s = read_json(d + "/run/search.json");
  EXPECT_EQ(s["schema_version"], 1);
  s["schema_version"] = 99;
  s["done"] = false;
  write_json_atomic(d + "/run/search.json", s);
  auto resume = run_cli_full({"search", "--resume", d + "/run"});
  EXPECT_EQ(resume.status, 2);
  EXPECT_TRUE(contains(resume.err, "search.json: schema_version 99 is not supported")) << resume.err;
  auto report = run_cli_full({"report", d + "/run"});
  EXPECT_EQ(report.status, 2) << report.err;
}

TEST(Cli, InstalledCopyRunsFromAnyDirectory) {
  // A prefix and a run directory with spaces and a quote: nothing goes through a shell.
  std::string d = testing_util::fresh_dir("cli_install");
  std::string prefix = d + "/my prefix", run = d + "/a run's dir";
  std::string build_dir = std::string(NETADJ_BINARY).substr(0, std::string(NETADJ_BINARY).rfind('/'));
  std::string cmd = std::string("\"") + NETADJ_CMAKE_COMMAND + "\" --install \"" + build_dir + "\" --prefix \"" +
                    prefix + "\" > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string bin = prefix + "/bin/netadj";
  auto flops = testing_util::run_cli_in(bin, {"flops", "--config", "resnet20_cifar100"}, "/");
  ASSERT_EQ(flops.status, 0) << flops.err;
  EXPECT_TRUE(contains(flops.out, "40556800")) << flops.out;  // ResNet-20 on CIFAR-100, exact MACs
  auto search = testing_util::run_cli_in(
      bin, {"-q", "search", "--config", "smoke_synthetic", "--out", run, "--set", "search.iterations=1"}, "/");
  ASSERT_EQ(search.status, 0) << search.err;
  auto report = testing_util::run_cli_in(bin, {"report", run}, "/");
  ASSERT_EQ(report.status, 0) << report.err;
  EXPECT_TRUE(file_exists(run + "/report/report.md"));
}

// ---- a full or read-only disk, damaged checkpoints -------------------------------------------------------

namespace {

// A tmpfs mounted on `dir` for the test's lifetime (lazily unmounted, also when an assertion returns early);
// mounted() is false where mounting is not allowed.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& options) : dir_(dir) {
    (void)std::system(("umount -l " + dir_ + " 2>/dev/null").c_str());  // left over from a killed run
    make_dirs(dir_);
    mounted_ = std::system(("mount -t tmpfs -o " + options + " tmpfs " + dir_ + " 2>/dev/null").c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) (void)std::system(("umount -l " + dir_).c_str());
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// No temp file is left in `dir` and every JSON record in it parses: nothing is half-written.
void expect_nothing_half_written(const std::string& dir) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << e.path();
    if (e.path().extension() == ".json") {
      EXPECT_NO_THROW(read_json(e.path().string())) << e.path();
    }
  }
}

const std::vector<std::string> kOneIteration = {"search", "--config",           kSmoke, "--set", "runtime.threads=1",
                                                "--set",  "search.iterations=1"};

// A search whose run directory fills up exits 5 naming the file; resumed with room, it ends with the same
// records as a search that never stopped.
void full_disk_then_resume(const std::string& d, const std::string& run, const std::function<void()>& in_child) {
  auto ref = run_cli_full(concat(kOneIteration, {"--out", d + "/ref"}));
  ASSERT_EQ(ref.status, 0) << ref.err;
  auto full =
      testing_util::run_cli_in(NETADJ_BINARY, concat(kOneIteration, {"--out", run}), "", nullptr, SIGKILL, in_child);
  ASSERT_EQ(full.status, 5) << full.err;
  EXPECT_TRUE(contains(full.err, run + "/")) << full.err;  // names the file
  expect_nothing_half_written(run);
  ASSERT_TRUE(file_exists(run + "/config.json"));
}

}  // namespace

// A file-size limit makes writes past 64 KiB fail (EFBIG) as a full disk does (ENOSPC), on any machine.
TEST(Cli, FullDiskExitsFiveAndTheResumedSearchLosesNothing) {
  std::string d = testing_util::fresh_dir("cli_disk_full");
  const std::string run = d + "/run";
  full_disk_then_resume(d, run, [] {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit r = {64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &r);
  });
  auto resumed = run_cli_full({"search", "--resume", run});
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(testing_util::computed_part(read_json(run + "/search.json")),
            testing_util::computed_part(read_json(d + "/ref/search.json")));
  // Each epoch once in metrics.jsonl, as in the uninterrupted run (times aside).
  auto epochs = [](const std::string& f) {
    std::vector<std::pair<std::string, int>> e;
    std::istringstream in(read_file(f));
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);
      e.emplace_back(j["label"].get<std::string>(), j["epoch"].get<int>());
    }
    return e;
  };
  EXPECT_EQ(epochs(run + "/metrics.jsonl"), epochs(d + "/ref/metrics.jsonl"));
}

// A real full disk: a 192 KiB tmpfs (needs the right to mount, as root in a container has; else skipped,
// the file-size test above covers the same path).
TEST(Cli, FullTmpfsExitsFive) {
  const std::string d = testing_util::fresh_dir("cli_tmpfs"), mnt = ::testing::TempDir() + "/netadj_cli_tmpfs_mnt";
  TmpfsMount tmpfs(mnt, "size=192k");
  if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here";
  full_disk_then_resume(d, mnt + "/run", nullptr);
  auto again = run_cli_full({"search", "--resume", mnt + "/run"});
  EXPECT_EQ(again.status, 5) << again.err;  // still full: the same clear exit, nothing lost
  expect_nothing_half_written(mnt + "/run");
  EXPECT_TRUE(contains(again.err, "No space left on device")) << again.err;
}

// A read-only run directory: a read-only tmpfs where mounting is allowed, else permission bits (which
// root ignores: then the test is skipped).
TEST(Cli, ReadOnlyRunDirectoryExitsFive) {
  const std::string ro = ::testing::TempDir() + "/netadj_cli_readonly";
  TmpfsMount tmpfs(ro, "size=1m,ro");
  if (!tmpfs.mounted()) {
    if (::geteuid() == 0) GTEST_SKIP() << "root ignores permission bits and cannot mount here";
    ::chmod(ro.c_str(), 0555);
  }
  auto r = run_cli_full(concat(kOneIteration, {"--out", ro + "/run"}));
  EXPECT_EQ(r.status, 5) << r.err;
  // One error line, naming the folder and the reason.
  auto at = r.err.find("netadj: error: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  std::string line = r.err.substr(at);
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  EXPECT_TRUE(contains(line, ro + "/run")) << line;
}

// Both the checkpoint and the one before it damaged: exit 3 naming the file, and the checkpoint is left as
// it was for the user to inspect.
TEST(Cli, DamagedCheckpointsOnResumeExitThreeNamingTheFile) {
  std::string d = testing_util::fresh_dir("cli_bad_ckpt");
  const std::string run = d + "/run";
  std::vector<std::string> args = {"train", "--config",       kSmoke,  "--set", "runtime.threads=1",
                                   "--set", "train.epochs=6", "--out", run};
  auto cut = run_cli_full(
      args, [&] { return file_exists(run + "/checkpoint.pt.prev"); }, SIGINT);
  ASSERT_EQ(cut.status, 130) << cut.err;
  for (const std::string& f : {run + "/checkpoint.pt", run + "/checkpoint.pt.prev"}) {
    std::string b = read_file(f);
    write_file_atomic(f, b.substr(0, b.size() / 2));
  }
  auto r = run_cli_full({"train", "--resume", run});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(contains(r.err, run + "/checkpoint.pt.prev: ")) << r.err;
  EXPECT_TRUE(contains(r.err, run + "/checkpoint.pt: ")) << r.err;  // the warning named the first
}

namespace {

// Holds DIR/.lock as a live netadj run does (flock, released when the descriptor closes).
struct HeldLock {
  int fd = -1;
  explicit HeldLock(const std::string& dir) {
    make_dirs(dir);
    fd = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~HeldLock() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

// Every command that writes a run directory checks everything that can fail before the directory exists
// (nothing is left behind), and refuses, with exit 2, a directory another live process holds.
TEST(RunDirectory, FailedChecksLeaveNoDirectoryAndAHeldOneIsRefused) {
  const std::string d = testing_util::fresh_dir("cli_run_dirs");
  const std::string runs = d + "/runs";
  write_file_atomic(d + "/short.json", "[8, 8]\n");  // resnet_cifar depth 8 has more layers
  const std::vector<std::string> base = {"--config", kSmoke, "--set", "runtime.out_dir=" + runs};
  const std::vector<std::string> no_data = {"--set", "data.dataset=cifar10", "--set", "data.root=" + d + "/nowhere",
                                            "--set", "model.num_classes=10", "--set", "model.in_channels=3"};
  struct Case {
    std::string what;
    std::vector<std::string> args;
    std::string says;  ///< part of the one error line
    int status = 2;
  };
  const std::vector<Case> cases = {
      {"search without its dataset", concat(concat({"search"}, base), no_data), "nowhere", 3},
      {"train without its dataset", concat(concat({"train"}, base), no_data), "nowhere", 3},
      {"compare without its dataset", concat(concat({"compare", "--seeds", "1"}, base), no_data), "nowhere", 3},
      {"bench search without its dataset", concat(concat({"bench", "search", "--out", runs + "/bench"}, base), no_data),
       "nowhere", 3},
      {"search with a wrong channel count", concat(concat({"search"}, base), {"--set", "model.channels=[8,8]"}),
       "model.channels"},
      {"train with a wrong channel file", concat(concat({"train"}, base), {"--channels", d + "/short.json"}),
       "short.json"},
      {"compare with a wrong channel file", concat(concat({"compare"}, base), {"--channels", d + "/short.json"}),
       "short.json"},
      {"search, batch 64 over 3 ranks", concat(concat({"search"}, base), {"--nproc", "3"}), "train.batch_size"},
      {"train, batch 64 over 3 ranks", concat(concat({"train"}, base), {"--nproc", "3"}), "train.batch_size"},
      {"compare on 2 ranks", concat(concat({"compare"}, base), {"--nproc", "2"}), "does not run data-parallel"},
  };
  for (const Case& c : cases) {
    auto r = run_cli_full(c.args);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.says)) << c.what << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(runs)) << c.what << " left " << runs << " behind";
    remove_tree(runs);
  }

  // compare started as one rank of two by torchrun's variables is refused as --nproc 2 is, before it joins.
  auto as_rank = testing_util::run_cli_in(NETADJ_BINARY, concat({"compare"}, base), "", nullptr, SIGKILL, [] {
    for (const auto& [k, v] : std::map<std::string, std::string>{{"RANK", "1"},
                                                                 {"WORLD_SIZE", "2"},
                                                                 {"LOCAL_RANK", "1"},
                                                                 {"LOCAL_WORLD_SIZE", "2"},
                                                                 {"MASTER_ADDR", "127.0.0.1"},
                                                                 {"MASTER_PORT", "1"}})
      ::setenv(k.c_str(), v.c_str(), 1);
  });
  EXPECT_EQ(as_rank.status, 2) << as_rank.err;
  EXPECT_TRUE(contains(as_rank.err, "WORLD_SIZE=2: compare trains its runs one after another")) << as_rank.err;
  EXPECT_FALSE(std::filesystem::exists(runs));

  // A directory held by a live process: a new run in it and a resume of it are refused; the directory is
  // left as it was.
  const std::string held = d + "/held";
  HeldLock lock(held);
  ASSERT_GE(lock.fd, 0);
  write_json_atomic(held + "/config.json", read_json(kSmoke));
  for (const std::vector<std::string>& args :
       {concat({"search", "--config", kSmoke, "--out"}, {held}), std::vector<std::string>{"search", "--resume", held},
        std::vector<std::string>{"train", "--resume", held}, concat({"train", "--config", kSmoke, "--out"}, {held}),
        concat({"compare", "--config", kSmoke, "--out"}, {held})}) {
    auto r = run_cli_full(args);
    EXPECT_EQ(r.status, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_TRUE(contains(r.err, held + ": in use by another netadj process")) << r.err;
  }
  EXPECT_FALSE(file_exists(held + "/log.txt"));
  EXPECT_FALSE(file_exists(held + "/search.json"));
}

// A default name (runs/<name>-<timestamp>) already taken by another run: the new run takes <name>-<timestamp>-2
// rather than writing into it.
TEST(RunDirectory, DefaultNamesNeverCollide) {
  const std::string d = testing_util::fresh_dir("cli_run_names");
  std::vector<std::string> taken;
  for (std::time_t t = std::time(nullptr), end = t + 30; t <= end; ++t) {  // every second this test may start in
    char ts[32];
    std::strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", std::localtime(&t));
    taken.push_back(d + "/same-" + ts);
    write_file_atomic(taken.back() + "/config.json", "{}\n");
  }
  auto r = run_cli_full({"train", "--config", kSmoke, "--set", "runtime.out_dir=" + d, "--set", "train.epochs=1",
                         "--set", "runtime.name=same"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> runs;
  for (const auto& e : std::filesystem::directory_iterator(d))
    if (file_exists(e.path().string() + "/result.json")) runs.push_back(e.path().string());
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].substr(runs[0].size() - 2), "-2") << runs[0];
  for (const std::string& t : taken) EXPECT_EQ(read_file(t + "/config.json"), "{}\n") << t;
}
