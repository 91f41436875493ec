#pragma once
// Small-sample statistics for comparing runs (seeds): Student t distribution, mean confidence intervals and
// Welch's two-sample t test. Plain C++, no torch. No function throws, crashes or loops without bound on any
// input; NaN inputs (or non-finite values in a sample) give NaN results.
#include <array>
#include <optional>
#include <vector>

namespace netadj {

/// P(T <= t) for Student's t with `df` degrees of freedom; df may be any real > 0, including +infinity (normal).
/// t = +-infinity gives 1 / 0. NaN t or df, or df <= 0, gives NaN.
double student_t_cdf(double t, double df);
/// The t with student_t_cdf(t, df) == p, for 0 < p < 1 (to ~1e-12 relative, ~1e-16 absolute near p = 0.5). p == 0 / 1
/// give -/+infinity, as does a quantile beyond the double range (tiny df); NaN p or df, p outside [0, 1], or df <= 0
/// give NaN.
double student_t_quantile(double p, double df);

struct SampleSummary {
  int n = 0;
  double mean = 0;  ///< 0 when n == 0
  double sd = 0;    ///< sample standard deviation (divisor n - 1); 0 when n < 2
};
/// The median (the mean of the middle two for an even count); 0 for no values. NaN values sort after every number.
double median(std::vector<double> x);

/// Count, mean and sample sd. A NaN or infinite value (or a sum beyond the double range) makes mean and sd NaN.
SampleSummary summarize(const std::vector<double>& x);

/// The 95% t interval of the mean, mean -+ t_{0.975, n-1} * sd / sqrt(n); [mean, mean] when sd == 0.
/// nullopt when n < 2; [NaN, NaN] when a value is non-finite or the bounds overflow.
std::optional<std::array<double, 2>> mean_ci95(const std::vector<double>& x);

/// Welch's comparison of mean(a) - mean(b).
struct WelchResult {
  double diff;                 ///< mean(a) - mean(b)
  double se;                   ///< sqrt(sd_a^2 / n_a + sd_b^2 / n_b)
  double df;                   ///< Welch-Satterthwaite degrees of freedom; n_a + n_b - 2 when se == 0
  double t;                    ///< diff / se; +-infinity when se == 0 (or |diff| / se overflows) and diff != 0
  double p;                    ///< two-sided p value; 1 when diff == se == 0
  std::array<double, 2> ci95;  ///< diff -+ t_{0.975, df} * se; [diff, diff] when se == 0
};
/// nullopt when either sample has fewer than 2 values. Every field is NaN when a value is non-finite or the
/// statistics overflow; otherwise every field is finite except t as documented.
std::optional<WelchResult> welch(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace netadj
