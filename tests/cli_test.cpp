// The command line as a user meets it: flags anywhere, shipped configs by name, warnings about input
// resolution, SIGINT/SIGTERM with resume, run records of an unknown schema, and an installed copy.
#include <gtest/gtest.h>

#include <cstdlib>
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

// `netadj train` on the smoke data with 64 steps per epoch, so that a signal sent once the first epoch's
// checkpoint exists lands inside the second epoch.
std::vector<std::string> train_args(const std::string& out, const std::vector<std::string>& extra) {
  return concat({"train", "--config", kSmoke, "--out", out, "--set", "train.epochs=3", "--set",
                 "data.synthetic.train_size=4096", "--set", "runtime.threads=1"},
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
                                       "data.synthetic.train_size=2048"});
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
  EXPECT_EQ(read_json(run + "/search.json"), read_json(d + "/ref/search.json"));
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
