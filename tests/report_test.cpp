#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "build_paths.h"
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

// report.py's table cells (UTF-8): the plus-minus sign between mean and sd, and the em dash for a value that
// is null or not there yet.
const std::string kPlusMinus = "\xc2\xb1";
const std::string kDash = "\xe2\x80\x94";

// printf-formatted `v`, e.g. formatted("%.2f", 100 * mean) for report.py's percentages.
std::string formatted(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// The line of the markdown table `md` whose first cell is `name`; empty when there is none.
std::string table_row(const std::string& md, const std::string& name) {
  size_t at = md.find("\n| " + name + " |");
  if (at == std::string::npos) return "";
  size_t end = md.find('\n', at + 1);
  return md.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
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
    ASSERT_EQ(rows[i]["widened"].size(), it["moved_top"].size());
    for (size_t k = 0; k < it["moved_top"].size(); ++k)
      EXPECT_EQ(rows[i]["widened"][k], names[it["moved_top"][k].get<size_t>()]);
    EXPECT_EQ(rows[i]["budget_error"], it["budget_error"]);
    // Every iteration's vector is timed (batch 1 on the search's device) and the table shows it.
    ASSERT_TRUE(it["latency_ms"].is_number()) << i;
    EXPECT_GT(it["latency_ms"].get<double>(), 0.0);
    EXPECT_EQ(rows[i]["latency_ms"], it["latency_ms"]);
  }
  EXPECT_EQ(search["device"], "cpu");
  // The search exports the best vector's trained network (export.enabled defaults to true).
  json card = read_json(d + "/export/model.json");
  EXPECT_EQ(card["channels"], search["best"]["channels"]);
  EXPECT_TRUE(file_exists(d + "/export/model.pt"));
  std::string md = read_file(d + "/report/report.md");
  EXPECT_NE(md.find(std::to_string(search["iterations"][0]["flops"].get<int64_t>()).substr(0, 1)), std::string::npos);
  EXPECT_NE(md.find("Best channels"), std::string::npos);
  if (!have_matplotlib()) GTEST_SKIP() << "matplotlib not installed: figures not checked";
  for (const char* f : {"channels", "fur", "accuracy_flops", "accuracy_cost"}) {
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

// A compare.json as `netadj compare` leaves it mid-way: not done, one entry with a single seed and nulls.
TEST(Report, CompareTableMatchesCompareJson) {
  std::string d = ::testing::TempDir() + "/netadj_report_compare";
  remove_tree(d);
  make_dirs(d);
  std::ofstream(d + "/compare.json") << R"({"schema_version": 1, "arch": "resnet_cifar", "dataset": "fashion_mnist",
    "budget": "flops", "budget_target": 9150000, "epochs": 4, "device": "cpu", "seeds": [1, 2, 3], "done": false,
    "entries": [
     {"name": "original", "kind": "original", "source": null, "channels": [16, 16, 32, 32, 64, 64],
      "flops": 9150000, "params": 78000, "latency_ms": 1.23, "test_top1": [0.8912, 0.8890, 0.8931],
      "mean": 0.8911, "sd": 0.0021, "mean_ci95": [0.886, 0.896], "diff": null, "ci95": null, "p": null,
      "runs": ["runs/original_s1", "runs/original_s2", "runs/original_s3"]},
     {"name": "searched", "kind": "candidate", "source": "runs/qs/best_channels.json",
      "channels": [12, 20, 42, 17, 83, 67], "flops": 9140000, "params": 91000, "latency_ms": 1.31,
      "test_top1": [0.8950, 0.8921, 0.8955], "mean": 0.8942, "sd": 0.0018, "mean_ci95": [0.8897, 0.8987],
      "diff": 0.0031, "ci95": [-0.002, 0.008], "p": 0.17,
      "runs": ["runs/searched_s1", "runs/searched_s2", "runs/searched_s3"]},
     {"name": "random", "kind": "random", "source": null, "channels": [20, 10, 40, 30, 50, 70],
      "flops": 9160000, "params": 80100, "latency_ms": 1.4, "test_top1": [0.8702], "mean": 0.8702, "sd": null,
      "mean_ci95": null, "diff": null, "ci95": null, "p": null, "runs": ["runs/random_s1"]}]})";
  std::string bin = NETADJ_BINARY;
  ASSERT_EQ(sh(bin + " report " + d), 0);
  for (const char* f : {"compare.md", "report.md", "report.html"}) EXPECT_TRUE(file_exists(d + "/report/" + f)) << f;
  json cmp = read_json(d + "/compare.json");
  std::string table = read_file(d + "/report/compare.md");
  for (const json& e : cmp["entries"]) {
    std::string row = table_row(table, e["name"].get<std::string>());
    ASSERT_FALSE(row.empty()) << e["name"] << "\n" << table;
    std::string sd = e["sd"].is_null() ? kDash : formatted("%.2f", 100 * e["sd"].get<double>());
    std::string mean = formatted("%.2f", 100 * e["mean"].get<double>());
    EXPECT_NE(row.find("| " + mean + " " + kPlusMinus + " " + sd + " |"), std::string::npos) << row;
    EXPECT_NE(row.find("| " + std::to_string(e["test_top1"].size()) + " |"), std::string::npos) << row;
    // p is the last cell.
    std::string p = e["p"].is_null() ? kDash : formatted("%.3f", e["p"].get<double>());
    EXPECT_EQ(row.substr(row.rfind("| ")), "| " + p + " |") << row;
    std::string diff = e["diff"].is_null() ? kDash : formatted("%+.2f", 100 * e["diff"].get<double>());
    EXPECT_NE(row.find("| " + diff + " |"), std::string::npos) << row;
  }
  std::string md = read_file(d + "/report/report.md");
  EXPECT_NE(md.find("in progress"), std::string::npos);
  if (!have_matplotlib()) GTEST_SKIP() << "matplotlib not installed: figure not checked";
  auto [w, h] = png_size(d + "/report/compare.png");
  EXPECT_GE(w, 400u);
  EXPECT_GE(h, 200u);
  EXPECT_LE(w, 4000u);
  EXPECT_TRUE(file_exists(d + "/report/compare.svg"));
  EXPECT_NE(md.find("(compare.png)"), std::string::npos);
}

// Like the other records: another schema_version is refused with exit code 2, a damaged file with 3.
TEST(Report, CompareJsonOfAnotherSchemaOrMalformedIsRefused) {
  std::string d = ::testing::TempDir() + "/netadj_report_compare_bad";
  remove_tree(d);
  make_dirs(d);
  std::string bin = NETADJ_BINARY;
  std::ofstream(d + "/compare.json") << R"({"schema_version": 2, "seeds": [1], "done": true, "entries": []})";
  EXPECT_EQ(sh(bin + " report " + d), 2);
  EXPECT_FALSE(file_exists(d + "/report/compare.md"));
  // test_top1 in percent instead of fractions.
  std::ofstream(d + "/compare.json") << R"({"schema_version": 1, "seeds": [1], "done": true,
    "entries": [{"name": "original", "kind": "original", "test_top1": [89.1]}]})";
  EXPECT_EQ(sh(bin + " report " + d), 3);
  std::ofstream(d + "/compare.json") << R"({"schema_version": 1, "seeds": [1], )";
  EXPECT_EQ(sh(bin + " report " + d), 3);
}
