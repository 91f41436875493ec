#include "netadj/util/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace netadj {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Remainder of Stirling's series, lgamma(x) - ((x - 0.5) log x - x + log(2 pi) / 2), for x >= 15 (error < 3e-16).
double stirling_rest(double x) {
  double r = 1 / (x * x);
  return (1.0 / 12 - r * (1.0 / 360 - r * (1.0 / 1260 - r * (1.0 / 1680 - r / 1188)))) / x;
}

/// log B(a, b). When one argument is large, lgamma(hi) - lgamma(hi + lo) is taken from Stirling's series so that
/// the two big lgamma values do not cancel (that would lose ~log10(df) digits of the tail for large df).
double log_beta(double a, double b) {
  double lo = std::min(a, b), hi = std::max(a, b);
  if (hi < 15) return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
  double diff =
      -(hi - 0.5) * std::log1p(lo / hi) - lo * std::log(hi + lo) + lo + stirling_rest(hi) - stirling_rest(hi + lo);
  return std::lgamma(lo) + diff;
}

/// The continued fraction of I_x(a, b) = x^a y^b / (a B(a, b)) * F, y = 1 - x, with partial numerators
///   d_{2k} = k (b - k) x / ((a + 2k - 1)(a + 2k)),  d_{2k+1} = -(a + k)(a + b + k) x / ((a + 2k)(a + 2k + 1)),
/// evaluated in its even contraction F = H / ((1 + d_1) + d_2 - T), H = 1 + d_2 - T, where
///   T = d_2 d_3 / (q_1 - d_4 d_5 / (q_2 - d_6 d_7 / ...)),  q_k = (1 + d_{2k+1}) + d_{2k+2},
/// summed by the modified Lentz method. For x near 1 every 1 + d_{2k+1} is expanded in y (exact, and free of
/// cancellation for b < 1 as here); the plain fraction loses ~log10(df) digits there. It converges fast for
/// x < (a + 1) / (a + b + 2); the cap only bounds the work on pathological input.
double beta_fraction(double a, double b, double x, double y) {
  auto d_even = [&](double k) { return k * (b - k) * x / ((a + 2 * k - 1) * (a + 2 * k)); };
  auto d_odd = [&](double k) { return -(a + k) * (a + b + k) * x / ((a + 2 * k) * (a + 2 * k + 1)); };
  auto one_plus_d_odd = [&](double k) {
    if (x < 0.5) return 1 + d_odd(k);
    return (2 * a * k + a * (1 - b) + 3 * k * k + (2 - b) * k + (a + k) * (a + b + k) * y) /
           ((a + 2 * k) * (a + 2 * k + 1));
  };
  auto guard = [](double v) { return std::fabs(v) < 1e-300 ? 1e-300 : v; };
  double inv = guard(one_plus_d_odd(1) + d_even(2)), c = inv, d = 0;  // inv = q_1 - d_4 d_5 / (q_2 - ...)
  for (int k = 2; k <= 1000; ++k) {
    double num = -d_even(k) * d_odd(k), den = one_plus_d_odd(k) + d_even(k + 1);
    d = 1 / guard(den + num * d);
    c = guard(den + num / c);
    inv *= c * d;
    if (std::fabs(c * d - 1) < 1e-16) break;
  }
  double t = d_even(1) * d_odd(1) / inv;
  return (1 + d_even(1) - t) / (one_plus_d_odd(0) + d_even(1) - t);
}

/// Regularized incomplete beta I_x(a, b). The caller passes y = 1 - x and both logs, each computed without rounding
/// x near 1 or underflowing x near 0 (a * log(x) with a ~ df / 2 would magnify such errors).
double inc_beta(double a, double b, double x, double y, double log_x, double log_y) {
  if (log_x == -kInf) return 0;
  if (log_y == -kInf) return 1;
  double log_front = a * log_x + b * log_y - log_beta(a, b);
  bool direct = x < 0.5 ? x < (a + 1) / (a + b + 2) : y > (b + 1) / (a + b + 2);  // test the more precise one
  if (direct) return std::exp(log_front - std::log(a)) * beta_fraction(a, b, x, y);
  return 1 - std::exp(log_front - std::log(b)) * beta_fraction(b, a, y, x);
}

/// P(T > t) for t >= 0 (possibly +infinity) and df > 0: I_x(df / 2, 1 / 2) / 2 with x = df / (df + t^2).
double t_upper_tail(double t, double df) {
  // Beyond df = 1e20 the t and normal tails agree to ~1e-14 relative, and a = df / 2 would overflow a^2 below.
  if (df > 1e20) return 0.5 * std::erfc(t / std::sqrt(2.0));
  if (std::isinf(t)) return 0;
  double log_r = 2 * std::log(t) - std::log(df), x, y, log_x, log_y;  // r = t^2 / df, kept as a log: no overflow
  if (log_r <= 0) {
    double v = std::exp(log_r);
    x = 1 / (1 + v), y = v / (1 + v), log_x = -std::log1p(v), log_y = log_r - std::log1p(v);
  } else {
    double u = std::exp(-log_r);
    x = u / (1 + u), y = 1 / (1 + u), log_x = -log_r - std::log1p(u), log_y = -std::log1p(u);
  }
  return 0.5 * inc_beta(df / 2, 0.5, x, y, log_x, log_y);
}

}  // namespace

double student_t_cdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  return t < 0 ? t_upper_tail(-t, df) : 1 - t_upper_tail(t, df);
}

double student_t_quantile(double p, double df) {
  if (!(p >= 0 && p <= 1) || !(df > 0)) return kNaN;
  if (p == 0) return -kInf;
  if (p == 1) return kInf;
  if (p == 0.5) return 0;
  // Solve t_upper_tail(t) == q for t > 0 on the smaller tail, so tiny p keep their precision: bracket by doubling,
  // then bisect down to adjacent doubles (at most ~1100 steps each, whatever the input).
  double q = p < 0.5 ? p : 1 - p, sign = p < 0.5 ? -1 : 1;
  double lo = 0, hi = 1;
  while (t_upper_tail(hi, df) > q) {
    lo = hi, hi *= 2;
    if (std::isinf(hi)) return sign * kInf;
  }
  for (int i = 0; i < 2200; ++i) {
    double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (t_upper_tail(mid, df) > q)
      lo = mid;
    else
      hi = mid;
  }
  return sign * (lo + (hi - lo) / 2);
}

double median(std::vector<double> x) {
  if (x.empty()) return 0;
  // NaN after every number (a strict weak order, which `<` alone is not with NaN).
  std::sort(x.begin(), x.end(), [](double a, double b) { return a < b || (!std::isnan(a) && std::isnan(b)); });
  const size_t h = x.size() / 2;
  return x.size() % 2 ? x[h] : (x[h - 1] + x[h]) / 2;
}

SampleSummary summarize(const std::vector<double>& x) {
  SampleSummary s;
  s.n = static_cast<int>(x.size());
  if (x.empty()) return s;
  double sum = 0;
  for (double v : x) sum += v;
  double mean = sum / x.size(), resid = 0, ss = 0;
  for (double v : x) resid += v - mean;
  s.mean = mean + resid / x.size();  // one correction step: the mean to within rounding even for shifted data
  for (double v : x) ss += (v - s.mean) * (v - s.mean);
  if (x.size() >= 2)
    s.sd = std::sqrt(ss / (x.size() - 1));
  else if (!std::isfinite(s.mean))
    s.sd = kNaN;
  return s;
}

std::optional<std::array<double, 2>> mean_ci95(const std::vector<double>& x) {
  if (x.size() < 2) return std::nullopt;
  SampleSummary s = summarize(x);
  if (s.sd == 0) return std::array<double, 2>{s.mean, s.mean};
  double half = student_t_quantile(0.975, s.n - 1) * s.sd / std::sqrt(static_cast<double>(s.n));
  std::array<double, 2> ci{s.mean - half, s.mean + half};
  if (!std::isfinite(ci[0]) || !std::isfinite(ci[1])) return std::array<double, 2>{kNaN, kNaN};
  return ci;
}

std::optional<WelchResult> welch(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const WelchResult bad{kNaN, kNaN, kNaN, kNaN, kNaN, {kNaN, kNaN}};
  SampleSummary sa = summarize(a), sb = summarize(b);
  double na = sa.n, nb = sb.n;
  WelchResult r;
  r.diff = sa.mean - sb.mean;
  double va = sa.sd * sa.sd / na, vb = sb.sd * sb.sd / nb, var = va + vb;
  if (!std::isfinite(r.diff) || !std::isfinite(var)) return bad;
  r.se = std::sqrt(var);
  if (var == 0) {  // both samples constant (or variances below the double range)
    r.df = na + nb - 2;
    r.t = r.diff == 0 ? 0 : std::copysign(kInf, r.diff);
    r.p = r.diff == 0 ? 1 : 0;
    r.ci95 = {r.diff, r.diff};
    return r;
  }
  double wa = va / var, wb = vb / var;  // shares of the variance: no over/underflow in the squares below
  r.df = 1 / (wa * wa / (na - 1) + wb * wb / (nb - 1));
  r.t = r.diff / r.se;
  r.p = std::min(1.0, 2 * t_upper_tail(std::fabs(r.t), r.df));
  double half = student_t_quantile(0.975, r.df) * r.se;
  r.ci95 = {r.diff - half, r.diff + half};
  if (!std::isfinite(r.ci95[0]) || !std::isfinite(r.ci95[1])) return bad;
  return r;
}

}  // namespace netadj
