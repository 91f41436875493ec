#pragma once
// `netadj compare`'s statistics: test accuracy per seed of the original, the candidates and the controls
// (search.h), and every entry against the original by Welch's t-test.
#include <vector>

#include "netadj/records/records.h"

namespace netadj {

/// Fills an entry's statistics from its test_top1: mean, sd, mean_ci95 and, against `original` (null for
/// the original itself), diff, ci95 (Welch) and p (two-sided Welch t-test); nullopt where undefined.
void set_statistics(CompareEntry& e, const std::vector<double>* original);

}  // namespace netadj
