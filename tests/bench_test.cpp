// The benchmarks behind `netadj bench`: each returns the keys its JSON line documents, with values that
// follow from what it measured.
#include <gtest/gtest.h>

#include "netadj/bench/bench.h"
#include "netadj/nets/spec.h"
#include "test_util.h"

using namespace netadj;

TEST(Bench, FlopsChecksumIsTheSumOfTheCountsItTimed) {
  Config c = testing_util::small_config();
  auto j = bench_flops(c, 12);
  auto ch = default_channels(c.model);
  int64_t want = 0;
  for (int i = 0; i < 12; ++i) {
    auto v = ch;
    v[size_t(i) % v.size()] += 1;
    want += spec_flops(build_spec(c.model, 12, v));
  }
  EXPECT_EQ(j["checksum"].get<int64_t>(), want);
  EXPECT_EQ(j["evals"], 12);
  EXPECT_GT(j["microseconds_per_eval"].get<double>(), 0.0);
}

TEST(Bench, OptimAndTrainReportTheirRates) {
  Config c = testing_util::small_config();
  auto o = bench_optim(c, 3);
  for (const char* k : {"torch_optim_sgd_us", "foreach_us", "foreach_speedup", "tensors", "parameters"})
    EXPECT_TRUE(o.contains(k)) << k;
  EXPECT_GT(o["foreach_us"].get<double>(), 0.0);
  RunSession session(c);
  auto t = bench_train(session, 1, 2);
  EXPECT_EQ(t["steps"], 2);
  EXPECT_GT(t["train_images_per_s"].get<double>(), 0.0);
  EXPECT_GT(t["eval_images_per_s"].get<double>(), 0.0);
  auto d = bench_data(c, 3);
  EXPECT_EQ(d["images"].get<int64_t>(), 3 * c.train.batch_size);
}

TEST(Bench, RescaleReportsBothRescalingsAndLatencyIsPositive) {
  Config c;  // ResNet-20 on CIFAR-100 defaults: nothing is loaded
  nlohmann::json j = bench_rescale(c, 4);
  EXPECT_EQ(j["steps"], 4);
  EXPECT_EQ(j["exact"]["within_tolerance"], 4);  // the exact rescaling lands every step
  EXPECT_LE(j["exact"]["max_abs_rel_error"].get<double>(), c.search.flops_tolerance);
  ASSERT_TRUE(j["reference"].is_object());
  EXPECT_GE(j["reference"]["max_abs_rel_error"].get<double>(), 0.0);
  c.search.channel_multiple = 8;  // the reference cannot round to multiples: not run
  EXPECT_TRUE(bench_rescale(c, 1)["reference"].is_null());
  Config s = testing_util::small_config();
  nlohmann::json l = bench_latency(s, 1, 1, 5);
  EXPECT_GT(l["median_ms"].get<double>(), 0.0);
  EXPECT_GE(l["p90_ms"].get<double>(), l["median_ms"].get<double>());
  EXPECT_GT(l["torchscript_fold_bn_median_ms"].get<double>(), 0.0);
  EXPECT_GE(l["torchscript_fold_bn_p90_ms"].get<double>(), l["torchscript_fold_bn_median_ms"].get<double>());
}

// bench fur: the cached FUR equals the uncached one, and the times and shares follow from each other.
TEST(Bench, FurWithAndWithoutCacheAgree) {
  Config c = testing_util::small_config();
  c.fur.repeats = 2;
  nlohmann::json j = bench_fur(RunSession(c), "", 2);
  EXPECT_LE(j["max_abs_fur_diff"].get<double>(), 1e-6);
  EXPECT_EQ(j["layers"], 6);
  EXPECT_EQ(j["val_images"], c.data.val_size);
  const double off = j["fur_seconds_uncached"].get<double>(), on = j["fur_seconds_cached"].get<double>();
  ASSERT_GT(off, 0.0);
  ASSERT_GT(on, 0.0);
  EXPECT_NEAR(j["speedup"].get<double>(), off / on, 1e-9);
  const double train = j["iteration_train_seconds_estimate"].get<double>();
  ASSERT_GT(train, 0.0);
  EXPECT_NEAR(j["fur_share_cached"].get<double>(), on / (on + train), 1e-9);
}

// bench search: the same search cold and warm-started (and cold without the FUR cache): the warm one
// trains ceil(30%) of the epochs after its first iteration; both report their vectors and FUR share.
TEST(Bench, SearchColdAndWarm) {
  Config c = testing_util::small_config();
  c.search.iterations = 2;
  c.search.update_num = 2;
  c.fur.repeats = 2;
  c.search.select = SelectMode::kRetrain;  // the bench searches with argmax whatever the config says
  const std::string d = testing_util::fresh_dir("bench_search");
  nlohmann::json j = bench_search(c, std::make_shared<const dist::World>(), d, true);
  EXPECT_EQ(j["cold"]["epochs"], nlohmann::json({3, 3}));
  EXPECT_EQ(j["warm"]["epochs"], nlohmann::json({3, 1}));
  EXPECT_EQ(j["cold_uncached"]["epochs"], nlohmann::json({3, 3}));
  for (const char* mode : {"cold", "warm", "cold_uncached"}) {
    const auto& r = j[mode];
    EXPECT_EQ(r["best_channels"].size(), 6u) << mode;
    EXPECT_EQ(r["last_channels"].size(), 6u) << mode;
    EXPECT_GT(r["fur_share"].get<double>(), 0.0) << mode;
    EXPECT_LT(r["fur_share"].get<double>(), 1.0) << mode;
    EXPECT_TRUE(file_exists(d + "/" + mode + "/search.json")) << mode;
    EXPECT_FALSE(read_json(d + "/" + mode + "/search.json").contains("selection") &&
                 !read_json(d + "/" + mode + "/search.json")["selection"].is_null())
        << mode;
  }
  // The uncached search computes the same FUR, so it is the same search.
  EXPECT_EQ(j["cold_uncached"]["best_channels"], j["cold"]["best_channels"]);
  EXPECT_NEAR(j["speedup"].get<double>(), j["cold"]["seconds"].get<double>() / j["warm"]["seconds"].get<double>(),
              1e-9);
}
