#include <gtest/gtest.h>

#include "netadj/config/config.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

#include <filesystem>

using namespace netadj;
using nlohmann::json;

TEST(Config, DefaultsArePaperCifar100Setting) {
  Config c = config_from_json(json::object());
  EXPECT_EQ(c.model.arch, "resnet_cifar");
  EXPECT_EQ(c.model.depth, 20);
  EXPECT_EQ(c.train.epochs, 200);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.15);
  EXPECT_DOUBLE_EQ(c.train.lr_min, 1e-3);
  EXPECT_DOUBLE_EQ(c.train.weight_decay, 3e-4);
  EXPECT_EQ(c.train.batch_size, 128);
  EXPECT_EQ(c.data.val_size, 5000);
  EXPECT_EQ(c.search.iterations, 10);
  EXPECT_DOUBLE_EQ(c.fur.base_drop_rate, 0.05);
}

TEST(Config, RoundTrip) {
  Config c = config_from_json(json::parse(R"({"model":{"arch":"vgg_cifar","depth":16,"channels":[1,2,3]},
      "train":{"epochs":7,"drop":{"type":"gaussian"}},"runtime":{"seed":42,"device":"cuda:1"}})"));
  json j = config_to_json(c);
  Config d = config_from_json(j);
  EXPECT_EQ(config_to_json(d), j);
  EXPECT_EQ(d.model.channels, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(d.train.drop.type, DropType::kGaussian);
  EXPECT_EQ(d.runtime.device.str(), "cuda:1");
}

static std::string error_of(const std::string& text) {
  try {
    config_from_json(json::parse(text), "x.json");
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    return e.what();
  }
  return "";
}

TEST(Config, RejectsUnknownKeysWithPath) {
  std::string e = error_of(R"({"train":{"epohcs":3}})");
  EXPECT_NE(e.find("x.json: train.epohcs"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
  EXPECT_NE(error_of(R"({"modle":{}})").find("modle: unknown key"), std::string::npos);
}

struct BadCase {
  const char* json;
  const char* expect;
};

class ConfigValidation : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigValidation, OneLineNamingKeyAndValue) {
  std::string e = error_of(GetParam().json);
  ASSERT_FALSE(e.empty()) << GetParam().json << " was accepted";
  EXPECT_NE(e.find(GetParam().expect), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(
    AllPaths, ConfigValidation,
    ::testing::Values(
        BadCase{R"({"train":{"epochs":-1}})", "train.epochs = -1: must be >= 0"},
        BadCase{R"({"train":{"epochs":"ten"}})", "train.epochs = \"ten\": expected an integer"},
        BadCase{R"({"train":{"epochs":2.5}})", "train.epochs = 2.5: expected an integer"},
        BadCase{R"({"train":{"batch_size":0}})", "train.batch_size = 0"},
        BadCase{R"({"train":{"lr":0}})", "train.lr = 0"},
        BadCase{R"({"train":{"lr":0.1,"lr_min":0.2}})", "train.lr_min = 0.2: must be <= train.lr"},
        BadCase{R"({"train":{"momentum":1.0}})", "train.momentum = 1.0"},
        BadCase{R"({"train":{"drop":{"rate":1.0}}})", "train.drop.rate = 1.0: must be in [0.0, 1.0)"},
        BadCase{R"({"train":{"drop":{"type":"uniform"}}})", "train.drop.type = \"uniform\": expected one of"},
        BadCase{R"({"train":{"nesterov":1}})", "train.nesterov = 1: expected true or false"},
        BadCase{R"({"train":{"label_smoothing":-0.1}})", "train.label_smoothing"},
        BadCase{R"({"train":{"loss_scale":0.5}})", "train.loss_scale = 0.5: must be in [1, 1e30]"},
        BadCase{R"({"train":{"nesterov":true,"momentum":0}})", "train.nesterov = true: needs train.momentum > 0"},
        BadCase{R"({"train":{"kd":{"temperature":0}}})", "train.kd.temperature"},
        BadCase{R"({"model":{"channels":[16,0,16]}})", "model.channels[1] = 0: channel numbers must be >= 1"},
        BadCase{R"({"model":{"channels":[16,"a"]}})", "model.channels[1] = \"a\": expected an integer"},
        BadCase{R"({"model":{"channels":5}})", "model.channels = 5: expected an array"},
        BadCase{R"({"model":{"padding":"zero"}})", "model.padding = \"zero\": expected one of max|local"},
        BadCase{R"({"model":{"width":0}})", "model.width = 0"},
        BadCase{R"({"model":{"num_classes":1}})", "model.num_classes = 1"},
        BadCase{R"({"data":{"dataset":"svhn"}})", "data.dataset = \"svhn\""},
        BadCase{R"({"data":{"val_fraction":1.5}})", "data.val_fraction = 1.5"},
        BadCase{R"({"data":{"val_size":-5}})", "data.val_size = -5"},
        BadCase{R"({"data":{"synthetic":{"classes":1}}})", "data.synthetic.classes = 1"},
        BadCase{R"({"data":{"synthetic":{"colour":1}}})", "data.synthetic.colour: unknown key"},
        BadCase{R"({"fur":{"metric":"f1"}})", "fur.metric = \"f1\""},
        BadCase{R"({"fur":{"repeats":0}})", "fur.repeats = 0"},
        BadCase{R"({"fur":{"base_drop_rate":0}})", "fur.base_drop_rate = 0"},
        BadCase{R"({"fur":{"max_drop_rate":1}})", "fur.max_drop_rate = 1"},
        BadCase{R"({"search":{"iterations":0}})", "search.iterations = 0"},
        BadCase{R"({"search":{"min_channels":0}})", "search.min_channels = 0"},
        BadCase{R"({"search":{"adjust_rate":1.5}})", "search.adjust_rate = 1.5"},
        BadCase{R"({"search":{"flops_tolerance":0}})", "search.flops_tolerance = 0"},
        BadCase{R"({"search":{"channel_multiple":0}})", "search.channel_multiple = 0"},
        BadCase{R"({"search":{"rescale":"reference","channel_multiple":8}})", "search.channel_multiple = 8"},
        BadCase{R"({"search":{"rescale":"bisect"}})", "search.rescale = \"bisect\": expected one of exact|reference"},
        BadCase{R"({"search":{"budget":"latnecy"}})",
                "search.budget = \"latnecy\": expected one of flops|params|latency"},
        BadCase{R"({"search":{"latency_batch":0}})", "search.latency_batch = 0: must be >= 1"},
        BadCase{R"({"search":{"latency_batch":5000}})", "search.latency_batch = 5000: must be <= 4096"},
        BadCase{R"({"search":{"latency_threads":-1}})", "search.latency_threads = -1: must be >= 0"},
        BadCase{R"({"search":{"latency_force":"yes"}})", "search.latency_force = \"yes\": expected true or false"},
        BadCase{R"({"fur":{"equalize":"macs"}})", "fur.equalize = \"macs\": expected one of budget|flops"},
        BadCase{R"({"search":{"select":"best"}})", "expected one of argmax|retrain"},
        BadCase{R"({"search":{"select_seeds":0}})", "search.select_seeds = 0"},
        BadCase{R"({"search":{"gate_z":-1}})", "search.gate_z = -1"},
        BadCase{R"({"fur":{"repeats":4,"max_repeats":3}})", "fur.max_repeats = 3: must be 0 (off) or >= fur.repeats"},
        BadCase{R"({"runtime":{"device":"tpu"}})", "runtime.device = \"tpu\""},
        BadCase{R"({"export":{"fold":true}})", "export.fold: unknown key"},
        BadCase{R"({"runtime":{"device":"cuda:x"}})", "runtime.device = \"cuda:x\""},
        BadCase{R"({"eval":{"batch_size":0}})", "eval.batch_size = 0: must be >= 1"},
        BadCase{R"({"fur":{"metric":"f2"}})", "fur.metric = \"f2\": expected one of loss|accuracy"},
        BadCase{R"({"runtime":{"amp":"fp8"}})", "runtime.amp = \"fp8\""},
        BadCase{R"({"runtime":{"threads":-2}})", "runtime.threads = -2"},
        BadCase{R"({"runtime":{"memory_format":"nhwc"}})", "runtime.memory_format = \"nhwc\": expected one of"},
        BadCase{R"({"train":[]})", "train = []: expected a JSON object"}));

TEST(Config, OverridesParseJsonValuesAndStrings) {
  json doc = json::parse(R"({"train":{"epochs":200}})");
  apply_override(doc, "train.epochs=2");
  apply_override(doc, "model.depth=32");
  apply_override(doc, "model.arch=vgg_cifar");
  apply_override(doc, "model.channels=[1,2]");
  apply_override(doc, "train.nesterov=true");
  apply_override(doc, "train.lr=0.5");
  EXPECT_EQ(doc["train"]["epochs"], 2);
  EXPECT_EQ(doc["model"]["depth"], 32);
  EXPECT_EQ(doc["model"]["arch"], "vgg_cifar");
  EXPECT_EQ(doc["model"]["channels"], json::parse("[1,2]"));
  EXPECT_EQ(doc["train"]["nesterov"], true);
  EXPECT_DOUBLE_EQ(doc["train"]["lr"].get<double>(), 0.5);
}

TEST(Config, BadOverridesAreUsageErrors) {
  json doc = json::object();
  EXPECT_THROW(apply_override(doc, "train.epochs"), ConfigError);
  EXPECT_THROW(apply_override(doc, "=3"), ConfigError);
  EXPECT_THROW(apply_override(doc, "train..epochs=3"), ConfigError);
  doc = json::parse(R"({"train":5})");
  EXPECT_THROW(apply_override(doc, "train.epochs=3"), ConfigError);
}

TEST(Config, OverrideTypoIsCaughtByStrictParse) {
  try {
    load_config("", {"train.epoch=3"});
    FAIL() << "typo accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.epoch: unknown key"), std::string::npos) << e.what();
  }
}

TEST(Config, MissingFileIsUsageError) {
  try {
    load_config("configs/does-not-exist.json", {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("configs/does-not-exist.json: config file not found"), std::string::npos);
  }
}

TEST(Files, AtomicWriteFailureNamesFileAndKeepsOldContent) {
  std::string d = ::testing::TempDir() + "/netadj_atomic";
  make_dirs(d);
  write_file_atomic(d + "/a.json", "old");
  EXPECT_EQ(read_file(d + "/a.json"), "old");
  write_file_atomic(d + "/a.json", "new");
  EXPECT_EQ(read_file(d + "/a.json"), "new");
  try {
    write_file_atomic("/proc/netadj-cannot-write/x.json", "x");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(e.code(), ExitCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/proc/netadj-cannot-write"), std::string::npos) << e.what();
  }
  // Writing into a directory that is in the way fails at the rename and leaves it untouched.
  make_dirs(d + "/dir.json");
  EXPECT_THROW(write_file_atomic(d + "/dir.json", "x"), IoError);
  EXPECT_TRUE(std::filesystem::is_directory(d + "/dir.json"));
  EXPECT_THROW(read_json(d + "/missing.json"), DataError);
  write_file_atomic(d + "/bad.json", "{\"a\": ");
  try {
    read_json(d + "/bad.json");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json: invalid JSON"), std::string::npos) << e.what();
  }
}
