#pragma once
// `netadj compare`: the original channel vector, candidates and controls at the same budget, each trained
// with several seeds; test accuracy per seed, and every entry against the original by Welch's t-test.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/search/search.h"

namespace netadj {

/// The original scaled by one width factor to the budget (exact rescaling, search.channel_multiple).
std::vector<int64_t> uniform_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                     const SearchOptions& s);
/// Every width of the original times exp(sigma * N(0, 1)) (seeded), then rescaled to the budget.
std::vector<int64_t> random_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                    const SearchOptions& s, uint64_t seed, double sigma = 0.3);

/// One vector of a comparison.
struct CompareEntry {
  std::string name;                   ///< also its runs' folder names: [A-Za-z0-9._-]+
  std::string kind;                   ///< "original" | "candidate" | "uniform" | "random"
  std::optional<std::string> source;  ///< a candidate's channel file
  std::vector<int64_t> channels;
  int64_t flops = 0, params = 0;
  double latency_ms = 0;
  std::vector<double> test_top1;  ///< one per finished seed
  std::vector<std::string> runs;  ///< run directories, relative to the comparison's directory
};

/// The statistics keys of one entry in compare.json: mean, sd, mean_ci95 and, against `original` (null
/// for the original itself), diff, ci95 (Welch) and p (two-sided Welch t-test); null where undefined.
nlohmann::json entry_statistics(const std::vector<double>& x, const std::vector<double>* original);

/// compare.json's entry object (channels, costs, latency, accuracies and statistics).
nlohmann::json entry_json(const CompareEntry& e, const std::vector<double>* original);
/// An entry as compare.json records it (the statistics are recomputed, not read).
CompareEntry entry_from_json(const nlohmann::json& j, const std::string& file);

}  // namespace netadj
