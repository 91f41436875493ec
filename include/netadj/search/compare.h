#pragma once
// `netadj compare`: the original channel vector, candidates and controls at the same budget, each trained
// with several seeds; test accuracy per seed, and every entry against the original by Welch's t-test.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netadj/run/records.h"
#include "netadj/search/search.h"

namespace netadj {

/// The original scaled by one width factor to the budget (exact rescaling, search.channel_multiple).
/// `grid`: the widths each layer may take (channel_grid); empty: search.channel_multiple's for every layer.
std::vector<int64_t> uniform_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                     const SearchOptions& s, const ChannelGrid& grid = {});
/// Every width of the original times exp(sigma * N(0, 1)) (seeded), then rescaled to the budget.
constexpr double kRandomControlSigma = 0.3;
std::vector<int64_t> random_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                    const SearchOptions& s, uint64_t seed, double sigma = kRandomControlSigma,
                                    const ChannelGrid& grid = {});

/// The networks that calibrate a latency table (measure_latency_table): kLatencyCalibrationVectors random controls
/// of `spec` at its FLOPs (seeded by `seed`; other draws than `bench latency-model`'s).
std::vector<ArchSpec> latency_calibration_specs(const ModelOptions& m, const ArchSpec& spec, const SearchOptions& s,
                                                uint64_t seed);

/// Fills an entry's statistics from its test_top1: mean, sd, mean_ci95 and, against `original` (null for
/// the original itself), diff, ci95 (Welch) and p (two-sided Welch t-test); nullopt where undefined.
void set_statistics(CompareEntry& e, const std::vector<double>* original);

}  // namespace netadj
