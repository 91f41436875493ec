// Pure functions of the search: drop probabilities, adjustment, rescaling. Tested without training.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "netadj/search/search.h"
#include "netadj/util/log.h"

namespace netadj {

double round_even(double x) { return std::nearbyint(x); }  // default FE_TONEAREST: half to even

DropPlan drop_plan(const std::vector<int64_t>& c, const std::vector<int64_t>& dflops, double base, double max_rate) {
  DropPlan d;
  size_t L = c.size();
  d.f.resize(L);
  for (size_t l = 0; l < L; ++l) d.f[l] = double(c[l]) * double(dflops[l]);
  double mean = std::accumulate(d.f.begin(), d.f.end(), 0.0) / double(std::max<size_t>(L, 1));
  d.p.resize(L);
  for (size_t l = 0; l < L; ++l) {
    double p = d.f[l] > 0 ? base * mean / d.f[l] : max_rate;
    if (p >= max_rate) {
      p = max_rate;
      d.clamped.push_back(static_cast<int>(l));
    }
    d.p[l] = p;
  }
  return d;
}

int update_count(const SearchOptions& s, int t, int layers) {
  int k = static_cast<int>(std::max(round_even(s.update_num - t * s.update_num_decay), 0.0));
  return std::min(k, layers / 2);
}

std::pair<std::vector<int64_t>, double> rescale(const std::vector<int64_t>& c, const FlopsFn& flops, int64_t f0,
                                                double tol) {
  auto scaled = [&](double s) {
    std::vector<int64_t> v(c.size());
    for (size_t i = 0; i < c.size(); ++i) v[i] = std::max<int64_t>(1, int64_t(round_even(double(c[i]) * s)));
    return v;
  };
  double F = double(flops(c));
  double e = (F - double(f0)) / F;
  if (std::abs(e) <= tol) return {c, 1.0};
  double lo = 1.0, hi = std::max(1.0 - e, 0.0), s = 1.0;
  for (int i = 0; i < 20 && std::abs(e) > tol; ++i) {
    s = (lo + hi) / 2;
    F = double(flops(scaled(s)));
    e = (F - double(f0)) / F;
    if (s > 1)
      (e > 0 ? hi : lo) = s;
    else
      (e > 0 ? lo : hi) = s;
  }
  return {scaled(s), s};
}

Adjustment adjust_channels(const std::vector<int64_t>& c, const std::vector<int64_t>& c_init,
                           const std::vector<double>& fur, int t, const SearchOptions& s, const FlopsFn& flops,
                           int64_t f0) {
  const int L = static_cast<int>(c.size());
  Adjustment a;
  a.k = update_count(s, t, L);
  std::vector<int> order(static_cast<size_t>(L));
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties keep the lower layer index first (stable).
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return fur[size_t(x)] > fur[size_t(y)]; });
  a.top.assign(order.begin(), order.begin() + a.k);
  std::vector<int> asc(static_cast<size_t>(L));
  std::iota(asc.begin(), asc.end(), 0);
  std::stable_sort(asc.begin(), asc.end(), [&](int x, int y) { return fur[size_t(x)] < fur[size_t(y)]; });
  a.bottom.assign(asc.begin(), asc.begin() + a.k);

  std::vector<int64_t> v = c;
  for (int r = 0; r < a.k; ++r) {
    double rate = std::max(s.adjust_rate - s.adjust_rate_decay * r, 0.0);
    size_t l = size_t(a.top[size_t(r)]);
    v[l] = int64_t(round_even(double(v[l]) + rate * double(c_init[l])));
  }
  for (int r = 0; r < a.k; ++r) {
    double rate = std::max(s.adjust_rate - s.adjust_rate_decay * r, 0.0);
    size_t l = size_t(a.bottom[size_t(r)]);
    v[l] = std::max<int64_t>(int64_t(round_even(double(v[l]) - rate * double(c_init[l]))), s.min_channels);
  }
  a.adjusted = v;
  a.flops_adjusted = flops(v);
  auto [scaled, factor] = rescale(v, flops, f0, s.flops_tolerance);
  a.channels = scaled;
  a.scale = factor;
  a.flops = flops(scaled);
  return a;
}

}  // namespace netadj
