#pragma once
// `netadj compare` as a run: the comparison is planned (or loaded) and checked, its directory created (or
// resumed) and locked, then whatever is missing is trained, seed by seed, with compare.json rewritten after
// each run. cli/cmd_compare.cpp only parses the arguments and prints the table.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "netadj/run/run_dir.h"
#include "netadj/run/session.h"
#include "netadj/search/compare.h"

namespace netadj {

/// A new comparison.
struct ComparePlan {
  Config config;
  std::vector<std::pair<std::string, std::string>> candidates;  ///< entry name, channel file
  std::vector<std::pair<std::string, int>> controls;            ///< "uniform" or "random", how many of it
  int seeds = 3;                                                ///< 1..100
  std::string out;  ///< "" = <runtime.out_dir>/<runtime.name or arch>-compare-<timestamp>
};

/// A comparison: its config (config.json), its directory and compare.json.
struct Comparison {
  Config cfg;
  std::string dir;
  CompareRecord record;
  int seeds() const { return int(record.seeds.size()); }
};

/// --controls: "uniform", "random", "random:N" (N seeded random vectors, N in 1..100) or "none",
/// comma-separated; ConfigError naming the item otherwise.
std::vector<std::pair<std::string, int>> parse_controls(const std::string& text);

/// --channels [NAME=]FILE: (entry name, channel file); the name is the part before '=' unless the whole
/// argument is a file, else the file's stem. ConfigError when the name is not valid_entry_name.
std::pair<std::string, std::string> parse_candidate(const std::string& arg);

class CompareRun {
 public:
  /// A new comparison: the session first (dataset, device, model), then every entry, planned at the
  /// resolution the runs train at, then the directory, created with compare.json and config.json.
  static std::unique_ptr<CompareRun> start(const ComparePlan& plan);
  /// The comparison in `dir`: compare.json read with its range checks (exit 3 when damaged), the directory
  /// locked.
  static std::unique_ptr<CompareRun> resume(const std::string& dir);

  const std::string& dir() const { return c_.dir; }
  /// Measures the latencies not yet measured and trains the runs not yet finished (an Interrupted error
  /// leaves compare.json with every finished run); returns the finished comparison.
  const Comparison& run();

 private:
  explicit CompareRun(Comparison c);
  Comparison c_;
  RunSession base_;
  std::optional<RunDir> dir_;
};

}  // namespace netadj
