// Replays the kept fuzz corpus (tests/corpus/<target>/: seeds and every input a fuzzer ever found
// failing) through the same targets libFuzzer runs. Each input must be accepted or refused with a
// netadj::Error; any other exception fails the test naming the file, and a crash fails the run.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "../fuzz/targets.h"
#include "build_paths.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
namespace {
namespace fs = std::filesystem;

class FuzzCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpus, EveryKeptInputIsAcceptedOrRefusedCleanly) {
  const fuzz::Target* t = fuzz::find_target(GetParam());
  ASSERT_NE(t, nullptr);
  fs::path dir = fs::path(NETADJ_SOURCE_DIR) / "tests" / "corpus" / t->name;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << ": every fuzz target keeps a corpus";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 3u) << dir << ": the seed corpus is missing";
  auto level = logger()->level();
  logger()->set_level(spdlog::level::off);
  int refused = 0;
  for (const auto& f : files) {
    std::string bytes = read_file(f.string());
    try {
      refused += fuzz::run_one(*t, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << f << ": escaped as " << typeid(e).name() << ": " << e.what();
    }
  }
  logger()->set_level(level);
  // The corpus holds both inputs that load and inputs that are refused: a reader that refuses
  // everything (or nothing) is broken.
  EXPECT_GT(refused, 0) << t->name;
  EXPECT_LT(refused, static_cast<int>(files.size())) << t->name;
}

std::vector<std::string> target_names() {
  std::vector<std::string> n;
  for (const auto& t : fuzz::targets()) n.push_back(t.name);
  return n;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(target_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace netadj
