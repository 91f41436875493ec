#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

#include "netadj/util/fs.h"

using namespace netadj;
using nlohmann::json;

namespace {

int sh(const std::string& cmd) {
  int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Width and height from a PNG's IHDR chunk; 0 when the file is not a PNG.
std::pair<uint32_t, uint32_t> png_size(const std::string& path) {
  std::string b = read_file(path);
  const std::string magic = "\x89PNG\r\n\x1a\n";
  if (b.size() < 24 || b.compare(0, 8, magic) != 0 || b.compare(12, 4, "IHDR") != 0) return {0, 0};
  auto be = [&](size_t o) {
    return (uint32_t(uint8_t(b[o])) << 24) | (uint32_t(uint8_t(b[o + 1])) << 16) | (uint32_t(uint8_t(b[o + 2])) << 8) |
           uint32_t(uint8_t(b[o + 3]));
  };
  return {be(16), be(20)};
}

bool have_matplotlib() {
  return sh("/usr/bin/python3 -c 'import matplotlib'") == 0 || sh("python3 -c 'import matplotlib'") == 0;
}

}  // namespace

TEST(Report, SearchRunTablesMatchSearchJsonAndFiguresArePngs) {
  std::string d = ::testing::TempDir() + "/netadj_report_run";
  remove_tree(d);
  std::string bin = NETADJ_BINARY;
  std::string cfg = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";
  ASSERT_EQ(sh(bin + " search --config " + cfg + " --out " + d), 0);
  ASSERT_EQ(sh(bin + " report " + d), 0);
  for (const char* f : {"report.md", "report.html", "iterations.md", "iterations.json"})
    EXPECT_TRUE(file_exists(d + "/report/" + f)) << f;
  json search = read_json(d + "/search.json");
  json rows = read_json(d + "/report/iterations.json");
  ASSERT_EQ(rows.size(), search["iterations"].size());
  const json& names = search["layer_names"];
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& it = search["iterations"][i];
    EXPECT_EQ(rows[i]["iteration"], it["iteration"]);
    EXPECT_EQ(rows[i]["val_top1"], it["val"]["top1"]);
    EXPECT_EQ(rows[i]["test_top1"], it["test"]["top1"]);
    EXPECT_EQ(rows[i]["flops"], it["flops"]);
    EXPECT_EQ(rows[i]["params"], it["params"]);
    EXPECT_EQ(rows[i]["k"], it["k"]);
    ASSERT_EQ(rows[i]["widened"].size(), it["top"].size());
    for (size_t k = 0; k < it["top"].size(); ++k) EXPECT_EQ(rows[i]["widened"][k], names[it["top"][k].get<size_t>()]);
  }
  std::string md = read_file(d + "/report/report.md");
  EXPECT_NE(md.find(std::to_string(search["iterations"][0]["flops"].get<int64_t>()).substr(0, 1)), std::string::npos);
  EXPECT_NE(md.find("Best channels"), std::string::npos);
  if (!have_matplotlib()) GTEST_SKIP() << "matplotlib not installed: figures not checked";
  for (const char* f : {"channels", "fur", "accuracy_flops"}) {
    auto [w, h] = png_size(d + "/report/" + std::string(f) + ".png");
    EXPECT_GE(w, 400u) << f;
    EXPECT_GE(h, 200u) << f;
    EXPECT_LE(w, 4000u) << f;
    EXPECT_TRUE(file_exists(d + "/report/" + std::string(f) + ".svg")) << f;
    EXPECT_NE(md.find(std::string("(") + f + ".png)"), std::string::npos) << f;
  }
  // The HTML report is self-contained: figures are embedded.
  EXPECT_NE(read_file(d + "/report/report.html").find("data:image/png;base64,"), std::string::npos);
}

TEST(Report, MissingRunDirectoryFails) { EXPECT_EQ(sh(std::string(NETADJ_BINARY) + " report /nonexistent/run"), 3); }

TEST(Report, TrainRunAndFlopsCompare) {
  std::string d = ::testing::TempDir() + "/netadj_report_train";
  remove_tree(d);
  std::string bin = NETADJ_BINARY;
  std::string cfg = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";
  ASSERT_EQ(sh(bin + " train --config " + cfg + " --set train.epochs=2 --out " + d), 0);
  json result = read_json(d + "/result.json");
  EXPECT_EQ(result["epochs"], 2);
  EXPECT_EQ(result["train_split"], "train_full");
  EXPECT_GT(result["test"]["n"].get<int64_t>(), 0);
  EXPECT_TRUE(file_exists(d + "/model.pt"));
  ASSERT_EQ(sh(bin + " report " + d), 0);
  std::string md = read_file(d + "/report/report.md");
  EXPECT_NE(md.find("Training result"), std::string::npos);
  if (have_matplotlib()) EXPECT_GE(png_size(d + "/report/training.png").first, 400u);
  // --resume of a finished training run is refused with --channels, accepted alone.
  EXPECT_EQ(sh(bin + " train --resume " + d + " --channels x.json"), 2);
  // flops --compare takes our channel files and the reference code's dict form.
  {
    std::ofstream(d + "/a.json") << R"({"arch":"resnet_cifar","depth":8,"channels":[16,16,32,32,64,64]})";
    std::ofstream(d + "/b.json") << R"({"c0":12,"c1":20,"c2":42,"c3":17,"c4":83,"c5":67})";
  }
  std::string out = d + "/cmp.txt";
  ASSERT_EQ(
      std::system((bin + " flops --config " + cfg + " --compare " + d + "/a.json " + d + "/b.json > " + out).c_str()),
      0);
  std::string txt = read_file(out);
  EXPECT_NE(txt.find("s3.c0.conv1"), std::string::npos) << txt;
  EXPECT_NE(txt.find("B/A"), std::string::npos) << txt;
  ASSERT_EQ(std::system((bin + " flops --config " + cfg + " --json --channels " + d + "/b.json > " + out).c_str()), 0);
  json j = json::parse(read_file(out));
  EXPECT_EQ(j["channels"], json::parse("[12,20,42,17,83,67]"));
  EXPECT_EQ(j["resolution"], 12);  // from the synthetic data config
}
