#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "netadj/util/stats.h"

using namespace netadj;

// Reference values: "scipy" = scipy 1.17 stats.t / stats.ttest_ind(equal_var=False); "mpmath" = the regularized
// incomplete beta in mpmath at 50 digits (independent of this code); the rest are closed forms or t tables.

namespace {
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kPi = 3.14159265358979323846;

::testing::AssertionResult RelNear(double got, double want, double rel) {
  if (std::fabs(got - want) <= rel * std::fabs(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want << " (relative error "
                                       << std::fabs(got - want) / std::fabs(want) << " > " << rel << ")";
}
}  // namespace

TEST(StudentT, CdfMatchesClosedFormsForOneAndTwoDf) {
  // df = 1 is Cauchy: 1/2 + atan(t)/pi; df = 2: 1/2 + t / (2 sqrt(2 + t^2)).
  for (double t : {-1e6, -30.0, -2.5, -1.0, -0.1, 0.0, 1e-8, 0.3, 1.0, 4.0, 1e3}) {
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / kPi, 1e-15) << t;
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-15) << t;
  }
  EXPECT_DOUBLE_EQ(student_t_cdf(1, 1), 0.75);
  // Lower tails keep their relative precision (mpmath; ~1/(pi |t|) and 1/(2 t^2)).
  EXPECT_TRUE(RelNear(student_t_cdf(-1e6, 1), 3.1830988618368455e-07, 1e-13));
  EXPECT_TRUE(RelNear(student_t_cdf(-1e6, 2), 4.9999999999925e-13, 1e-13));
}

TEST(StudentT, CdfIsSymmetricAndMonotone) {
  for (double df : {0.05, 0.5, 1.0, 3.0, 4.0754716981132075, 30.0, 1e6, 1e12}) {
    EXPECT_EQ(student_t_cdf(0, df), 0.5) << df;
    double prev = 0;
    for (double t = -50; t <= 50; t += 0.37) {
      double c = student_t_cdf(t, df);
      EXPECT_NEAR(c + student_t_cdf(-t, df), 1.0, 1e-15) << "df " << df << " t " << t;
      EXPECT_GE(c, prev) << "df " << df << " t " << t;
      prev = c;
    }
  }
}

TEST(StudentT, CdfMatchesReferenceValues) {
  EXPECT_TRUE(RelNear(student_t_cdf(2.0, 2.5), 0.92130425212101701, 1e-14));      // real-valued df (mpmath)
  EXPECT_TRUE(RelNear(student_t_cdf(1.5, 0.3), 0.69383616658561069, 1e-14));      // df < 1 (mpmath)
  EXPECT_TRUE(RelNear(student_t_cdf(-0.7, 0.05), 0.45606000711626459, 1e-14));    // mpmath
  EXPECT_TRUE(RelNear(student_t_cdf(-40, 3), 1.7190340394579264e-05, 1e-13));     // deep tail (mpmath)
  EXPECT_TRUE(RelNear(student_t_cdf(-3, 1e6), 0.0013499312707108985, 1e-13));     // large df (mpmath)
  EXPECT_TRUE(RelNear(student_t_cdf(-5, 1e10), 2.8665157671103237e-07, 1e-13));   // mpmath
  EXPECT_TRUE(RelNear(student_t_cdf(-1.96, 1e12), 0.024997895148359081, 1e-13));  // not yet the normal (mpmath)
  EXPECT_NEAR(student_t_cdf(1.96, kInf), 0.97500210485177956, 1e-15);             // normal (mpmath ncdf)
  EXPECT_TRUE(RelNear(student_t_cdf(-1.96, 1e30), 0.024997895148220436, 1e-13));  // normal (mpmath ncdf)
  EXPECT_TRUE(RelNear(student_t_cdf(-1.96, 1e300), 0.024997895148220436, 1e-13));
  EXPECT_TRUE(RelNear(student_t_cdf(-1.96, std::numeric_limits<double>::max()), 0.024997895148220436, 1e-13));
}

TEST(StudentT, QuantileMatchesTTables) {
  // Two-sided 95% critical values as printed in t tables (6 decimals), then scipy's t.ppf to full precision.
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706205, 5e-7);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.302653, 5e-7);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.776445, 5e-7);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.228139, 5e-7);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.042272, 5e-7);
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706204736174694, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.302652729749462, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764451051977934, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.228138851986274, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.0422724563012378, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.025, 10), -2.228138851986274, 1e-9);
}

TEST(StudentT, QuantileMatchesReferenceValues) {
  EXPECT_NEAR(student_t_quantile(0.9, 7.5), 1.4052118464159531, 1e-12);             // mpmath
  EXPECT_NEAR(student_t_quantile(0.975, 216.0 / 53), 2.7562848743595714, 1e-12);    // mpmath
  EXPECT_NEAR(student_t_quantile(0.025, 1e8), -1.9599640082627668, 1e-12);          // mpmath
  EXPECT_TRUE(RelNear(student_t_quantile(1e-10, 5), -156.82559270889432, 1e-12));   // mpmath
  EXPECT_TRUE(RelNear(student_t_quantile(0.999, 0.5), 102849.11563017537, 1e-12));  // mpmath
  EXPECT_TRUE(RelNear(student_t_quantile(1e-300, 1), -1 / (kPi * 1e-300), 1e-12));  // Cauchy: -cot(pi p)
  for (double p : {1e-6, 0.01, 0.2, 0.4, 0.5, 0.6, 0.8, 0.99, 1 - 1e-6}) {          // closed forms, df 1 and 2
    EXPECT_NEAR(student_t_quantile(p, 1), std::tan(kPi * (p - 0.5)),
                1e-9 * std::fmax(1, std::fabs(std::tan(kPi * (p - 0.5)))));
    EXPECT_NEAR(student_t_quantile(p, 2), (2 * p - 1) / std::sqrt(2 * p * (1 - p)), 1e-12) << p;
  }
}

TEST(StudentT, QuantileInvertsCdf) {
  for (double df : {0.3, 1.0, 2.5, 7.0, 50.0, 1e4, 1e9})
    for (double p : {1e-12, 1e-4, 0.025, 0.3, 0.5, 0.77, 0.975, 0.9999}) {
      double t = student_t_quantile(p, df);
      ASSERT_TRUE(std::isfinite(t)) << df << " " << p;
      EXPECT_TRUE(RelNear(student_t_cdf(t, df), p, 1e-12)) << "df " << df << " p " << p;
    }
}

TEST(StudentT, EdgeCasesAndNaN) {
  EXPECT_EQ(student_t_cdf(kInf, 3), 1.0);
  EXPECT_EQ(student_t_cdf(-kInf, 3), 0.0);
  EXPECT_TRUE(RelNear(student_t_cdf(-1e300, 0.5), 3.2070097541422289e-151, 1e-13));  // t^2 overflows (mpmath)
  EXPECT_TRUE(std::isnan(student_t_cdf(kNaN, 3)));
  EXPECT_TRUE(std::isnan(student_t_cdf(1, kNaN)));
  EXPECT_TRUE(std::isnan(student_t_cdf(1, 0)));
  EXPECT_TRUE(std::isnan(student_t_cdf(1, -2)));
  EXPECT_EQ(student_t_quantile(0, 3), -kInf);
  EXPECT_EQ(student_t_quantile(1, 3), kInf);
  EXPECT_EQ(student_t_quantile(0.5, 3), 0.0);
  EXPECT_EQ(student_t_quantile(0.975, 1e-3), kInf);  // beyond the double range
  for (double bad : {kNaN, -0.1, 1.1, kInf}) EXPECT_TRUE(std::isnan(student_t_quantile(bad, 3))) << bad;
  EXPECT_TRUE(std::isnan(student_t_quantile(0.3, kNaN)));
  EXPECT_TRUE(std::isnan(student_t_quantile(0.3, 0)));
  EXPECT_TRUE(std::isnan(student_t_quantile(0.3, -1)));
}

TEST(StudentT, RandomInputsStayInRange) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 3000; ++i) {
    double df = std::pow(10.0, -4 + 30 * u(rng)), t = (u(rng) < 0.5 ? -1 : 1) * std::pow(10.0, -10 + 320 * u(rng));
    double c = student_t_cdf(t, df);
    ASSERT_TRUE(c >= 0 && c <= 1) << "t " << t << " df " << df << " cdf " << c;
    double p = u(rng), q = student_t_quantile(p, df);
    ASSERT_FALSE(std::isnan(q)) << "p " << p << " df " << df;
    if (std::isfinite(q) && p > 1e-6 && p < 1 - 1e-6) {
      EXPECT_NEAR(student_t_cdf(q, df), p, 1e-12 + 1e-9 * p);
    }
  }
}

TEST(Summarize, UsesTheSampleSd) {
  SampleSummary s = summarize({2, 4, 4, 4, 5, 5, 7, 9});  // mean 5, squared deviations sum 32
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_DOUBLE_EQ(s.sd, std::sqrt(32.0 / 7));  // not the population sd 2 = sqrt(32 / 8)
  SampleSummary shifted = summarize({1e9 + 1, 1e9 + 2, 1e9 + 3});
  EXPECT_DOUBLE_EQ(shifted.mean, 1e9 + 2);
  EXPECT_DOUBLE_EQ(shifted.sd, 1);
}

TEST(Summarize, EmptySingleAndNaN) {
  SampleSummary e = summarize({});
  EXPECT_EQ(e.n, 0);
  EXPECT_EQ(e.mean, 0);
  EXPECT_EQ(e.sd, 0);
  SampleSummary one = summarize({3.5});
  EXPECT_EQ(one.n, 1);
  EXPECT_EQ(one.mean, 3.5);
  EXPECT_EQ(one.sd, 0);
  for (const auto& x : std::vector<std::vector<double>>{{1, kNaN, 3}, {kNaN}, {1, kInf}, {-kInf, kInf}}) {
    SampleSummary s = summarize(x);
    EXPECT_TRUE(std::isnan(s.mean) && std::isnan(s.sd)) << x.size();
  }
}

TEST(MeanCi95, TInterval) {
  // {2, 4, 6, 8}: mean 5, squared deviations 9 + 1 + 1 + 9 = 20, sd = sqrt(20 / 3) = 2.5819889, se = sd / 2 =
  // 1.2909944, t_{0.975,3} = 3.1824463, half width 4.1085205. scipy t.interval:
  // (0.8914794864789588, 9.108520513521041).
  auto ci = mean_ci95({2, 4, 6, 8});
  ASSERT_TRUE(ci);
  EXPECT_NEAR((*ci)[0], 0.8914794864789588, 1e-12);
  EXPECT_NEAR((*ci)[1], 9.108520513521041, 1e-12);
  // Two values: df 1, so the half width is 12.706 * sd / sqrt(2) = 12.706 * |a - b| / 2.
  auto two = mean_ci95({1, 3});
  ASSERT_TRUE(two);
  EXPECT_NEAR((*two)[1] - 2, 12.706204736174694, 1e-9);
}

TEST(MeanCi95, DegenerateCases) {
  EXPECT_FALSE(mean_ci95({}));
  EXPECT_FALSE(mean_ci95({4.2}));
  auto flat = mean_ci95({7, 7, 7});
  ASSERT_TRUE(flat);
  EXPECT_EQ((*flat)[0], 7);
  EXPECT_EQ((*flat)[1], 7);
  auto nan = mean_ci95({1, kNaN, 2});
  ASSERT_TRUE(nan);
  EXPECT_TRUE(std::isnan((*nan)[0]) && std::isnan((*nan)[1]));
  auto huge = mean_ci95({-1e308, 1e308});  // the bounds overflow: NaN rather than +-inf
  ASSERT_TRUE(huge);
  EXPECT_TRUE(std::isnan((*huge)[0]) && std::isnan((*huge)[1]));
}

TEST(Welch, HandComputedExample) {
  // a = {2, 4, 6, 8}: mean 5, squared deviations 9 + 1 + 1 + 9 = 20, variance 20 / 3, variance / n = 5 / 3.
  // b = {1, 2, 3}:    mean 2, squared deviations 1 + 0 + 1 = 2,     variance 2 / 2 = 1, variance / n = 1 / 3.
  // diff = 3, se = sqrt(5/3 + 1/3) = sqrt(2) = 1.4142136, t = 3 / sqrt(2) = 2.1213203.
  // df = (5/3 + 1/3)^2 / ((5/3)^2 / 3 + (1/3)^2 / 2) = 4 / (25/27 + 1/18) = 4 / (53/54) = 216/53 = 4.0754717.
  // scipy ttest_ind(equal_var=False): p = 0.09991286431180087, 95% CI (-0.8979754510831279, 6.897975451083128);
  // the CI is 3 -+ t_{0.975, 216/53} * sqrt(2) = 3 -+ 2.7562849 * 1.4142136.
  auto r = welch({2, 4, 6, 8}, {1, 2, 3});
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->diff, 3);
  EXPECT_DOUBLE_EQ(r->se, std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(r->df, 216.0 / 53);
  EXPECT_DOUBLE_EQ(r->t, 3 / std::sqrt(2.0));
  EXPECT_NEAR(r->p, 0.09991286431180087, 1e-13);
  EXPECT_NEAR(r->ci95[0], -0.8979754510831279, 1e-12);
  EXPECT_NEAR(r->ci95[1], 6.897975451083128, 1e-12);
  auto swapped = welch({1, 2, 3}, {2, 4, 6, 8});  // the same test from the other side
  ASSERT_TRUE(swapped);
  EXPECT_DOUBLE_EQ(swapped->diff, -3);
  EXPECT_DOUBLE_EQ(swapped->t, -r->t);
  EXPECT_DOUBLE_EQ(swapped->p, r->p);
  EXPECT_NEAR(swapped->ci95[0], -r->ci95[1], 1e-12);
}

TEST(Welch, MatchesScipy) {
  auto r = welch({19.1, 20.3, 18.7, 21.5, 20.0, 19.8}, {17.2, 18.9, 16.5, 18.1, 17.7, 19.4, 16.9, 18.0});
  ASSERT_TRUE(r);
  EXPECT_NEAR(r->t, 3.8883364469036414, 1e-12);
  EXPECT_NEAR(r->df, 10.92849983286666, 1e-11);
  EXPECT_TRUE(RelNear(r->p, 0.0025574319897216403, 1e-10));
  EXPECT_NEAR(r->ci95[0], 0.8940933616285387, 1e-12);
  EXPECT_NEAR(r->ci95[1], 3.2309066383714686, 1e-12);
  // One constant sample: all the variance comes from the other, so df = n_a - 1 = 2.
  auto one = welch({5, 5.5, 4.5}, {1, 1, 1, 1});
  ASSERT_TRUE(one);
  EXPECT_DOUBLE_EQ(one->df, 2);
  EXPECT_NEAR(one->t, 13.85640646055102, 1e-12);
  EXPECT_TRUE(RelNear(one->p, 0.005167993252386085, 1e-10));
  EXPECT_NEAR(one->ci95[0], 2.757931144124835, 1e-12);
  EXPECT_NEAR(one->ci95[1], 5.242068855875165, 1e-12);
}

TEST(Welch, DegenerateAndShortSamples) {
  EXPECT_FALSE(welch({}, {1, 2}));
  EXPECT_FALSE(welch({1}, {1, 2}));
  EXPECT_FALSE(welch({1, 2, 3}, {2}));
  auto same = welch({3, 3}, {3, 3, 3});  // se == 0, diff == 0
  ASSERT_TRUE(same);
  EXPECT_EQ(same->diff, 0);
  EXPECT_EQ(same->se, 0);
  EXPECT_EQ(same->df, 3);  // n_a + n_b - 2
  EXPECT_EQ(same->t, 0);
  EXPECT_EQ(same->p, 1);
  EXPECT_EQ(same->ci95[0], 0);
  EXPECT_EQ(same->ci95[1], 0);
  auto apart = welch({2, 2, 2}, {5, 5});  // se == 0, diff == -3
  ASSERT_TRUE(apart);
  EXPECT_EQ(apart->diff, -3);
  EXPECT_EQ(apart->df, 3);
  EXPECT_EQ(apart->t, -kInf);
  EXPECT_EQ(apart->p, 0);
  EXPECT_EQ(apart->ci95[0], -3);
  EXPECT_EQ(apart->ci95[1], -3);
  auto up = welch({5, 5}, {2, 2, 2});
  ASSERT_TRUE(up);
  EXPECT_EQ(up->t, kInf);
}

TEST(Welch, NonFiniteInputsGiveNaNAndExtremesStayFinite) {
  for (const auto& bad : std::vector<std::vector<double>>{{1, kNaN}, {1, kInf}, {-1e308, 1e308}}) {
    auto r = welch(bad, {1, 2, 3});
    ASSERT_TRUE(r);
    for (double v : {r->diff, r->se, r->df, r->t, r->p, r->ci95[0], r->ci95[1]}) EXPECT_TRUE(std::isnan(v));
  }
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 500; ++i) {
    double scale_a = std::pow(10.0, -300 + 450 * u(rng)), scale_b = std::pow(10.0, -300 + 450 * u(rng));
    std::vector<double> a(2 + i % 5), b(2 + i % 7);
    for (double& v : a) v = scale_a * (u(rng) - 0.5);
    for (double& v : b) v = scale_b * (u(rng) - 0.2);
    auto r = welch(a, b);
    ASSERT_TRUE(r);
    for (double v : {r->diff, r->se, r->df, r->p, r->ci95[0], r->ci95[1]}) ASSERT_TRUE(std::isfinite(v)) << i;
    EXPECT_TRUE(r->p >= 0 && r->p <= 1);
    EXPECT_TRUE(r->ci95[0] <= r->diff && r->diff <= r->ci95[1]);
  }
}

TEST(Median, MiddleValueOrMeanOfTheMiddleTwoAndNaNLast) {
  EXPECT_EQ(median({}), 0.0);
  EXPECT_EQ(median({3.0}), 3.0);
  EXPECT_EQ(median({5.0, 1.0, 3.0}), 3.0);
  EXPECT_EQ(median({4.0, 1.0, 3.0, 2.0}), 2.5);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(median({nan, 1.0, 2.0}), 2.0);  // [1, 2, NaN]
  // 600 numbers among 400 NaNs: the NaNs sort after them, so the middle two are 499 and 500.
  std::vector<double> many;
  for (int i = 0; i < 600; ++i) many.push_back(double((i * 7) % 600));
  for (int i = 0; i < 400; ++i) many.insert(many.begin() + (i * 13) % int(many.size()), nan);
  EXPECT_EQ(median(many), 499.5);
  EXPECT_TRUE(std::isnan(median({nan, nan, 1.0})));
}
