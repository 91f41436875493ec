// Pure functions of the search: drop probabilities, adjustment, rescaling. Tested without training.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>

#include "netadj/nets/spec.h"
#include "netadj/search/search.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace netadj {

double round_even(double x) { return std::nearbyint(x); }  // default FE_TONEAREST: half to even

DropPlan drop_plan(const std::vector<int64_t>& c, const std::vector<int64_t>& dflops, double base, double max_rate) {
  return drop_plan(c, std::vector<double>(dflops.begin(), dflops.end()), base, max_rate);
}

DropPlan drop_plan(const std::vector<int64_t>& c, const std::vector<double>& slope, double base, double max_rate) {
  DropPlan d;
  size_t L = c.size();
  d.f.resize(L);
  for (size_t l = 0; l < L; ++l) d.f[l] = double(c[l]) * std::max(slope[l], 0.0);
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

Moves choose_moves(const std::vector<double>& fur, const std::vector<double>& se, int k, bool gate, double z) {
  const size_t L = fur.size();
  Moves m;
  m.k = std::clamp(k, 0, int(L / 2));
  auto se_of = [&](int l) { return se.size() == L ? se[size_t(l)] : 0.0; };
  std::vector<int> desc(L), asc(L);
  std::iota(desc.begin(), desc.end(), 0);
  std::iota(asc.begin(), asc.end(), 0);
  // Largest first (smallest first); ties keep the lower layer index first (stable).
  std::stable_sort(desc.begin(), desc.end(), [&](int x, int y) { return fur[size_t(x)] > fur[size_t(y)]; });
  std::stable_sort(asc.begin(), asc.end(), [&](int x, int y) { return fur[size_t(x)] < fur[size_t(y)]; });
  m.top.assign(desc.begin(), desc.begin() + m.k);
  m.bottom.assign(asc.begin(), asc.begin() + m.k);
  if (m.k > 0) {
    m.boundary_top = desc[size_t(m.k)];
    m.boundary_bottom = asc[size_t(m.k)];
  }
  if (!gate || m.k == 0) {
    m.moved_top = m.top;
    m.moved_bottom = m.bottom;
    return m;
  }
  const int bt = m.boundary_top, bb = m.boundary_bottom;
  const double top_bar = fur[size_t(bt)] + z * se_of(bt), bottom_bar = fur[size_t(bb)] - z * se_of(bb);
  for (int l : m.top)
    if (fur[size_t(l)] - z * se_of(l) > top_bar) m.moved_top.push_back(l);
  for (int l : m.bottom)
    if (fur[size_t(l)] + z * se_of(l) < bottom_bar) m.moved_bottom.push_back(l);
  return m;
}

int64_t min_width(int min_channels, int multiple) {
  int64_t m = std::max(multiple, 1);
  return m * std::max<int64_t>(1, (int64_t(std::max(min_channels, 1)) + m - 1) / m);
}

ChannelGrid ChannelGrid::uniform(size_t layers, int multiple, int min_channels) {
  return {std::vector<int64_t>(layers, std::max(multiple, 1)),
          std::vector<int64_t>(layers, min_width(min_channels, multiple))};
}

ChannelGrid channel_grid(const SearchOptions& s, const ArchSpec& spec) {
  ChannelGrid g;
  for (const LayerInfo& l : spec.layers) {
    const int64_t m = std::lcm(int64_t(std::max(s.channel_multiple, 1)), std::max<int64_t>(l.multiple, 1));
    const int64_t least = std::max<int64_t>({s.min_channels, l.min, 1});
    if (m > kMaxChannels || m * ((least + m - 1) / m) > kMaxChannels)
      throw ConfigError("search.channel_multiple = " + std::to_string(s.channel_multiple) + ": layer " + l.name +
                        " (a multiple of " + std::to_string(l.multiple) + ", at least " + std::to_string(l.min) +
                        ") would need widths over " + std::to_string(kMaxChannels));
    g.multiple.push_back(m);
    g.min.push_back(m * ((least + m - 1) / m));
  }
  return g;
}

namespace {

double relative(int64_t cost, int64_t target) { return (double(cost) - double(target)) / double(target); }

// Greedy one-step corrections of rescale_exact. Each accepted step strictly shrinks |cost - target|, so
// it ends; the pair phase (one layer widened, one narrowed) reaches gaps smaller than any single step.
class Corrector {
 public:
  Corrector(const CostFn& cost, int64_t target, const ChannelGrid& grid, const std::vector<int>& direction)
      : cost_(cost), target_(target), grid_(grid), dir_(direction) {}

  int run(std::vector<int64_t>& v, int64_t& c, double tol) {
    int steps = 0;
    while (std::abs(relative(c, target_)) > tol) {
      if (!single_step(v, c) && !pair_step(v, c)) break;
      ++steps;
    }
    return steps;
  }

 private:
  bool may(size_t l, int sign, const std::vector<int64_t>& v) const {
    if (l < dir_.size() && dir_[l] * sign < 0) return false;  // never against this iteration's move
    int64_t w = v[l] + sign * step(l);
    return w >= grid_.min[l] && w <= kMaxChannels;
  }
  int64_t step(size_t l) const { return grid_.multiple[l]; }
  int64_t gap(int64_t c) const { return c > target_ ? c - target_ : target_ - c; }

  bool single_step(std::vector<int64_t>& v, int64_t& c) {
    int64_t best = gap(c), best_c = c;
    size_t best_l = 0;
    int best_sign = 0;
    for (size_t l = 0; l < v.size(); ++l)
      for (int sign : {-1, 1}) {
        if (!may(l, sign, v)) continue;
        v[l] += sign * step(l);
        int64_t ci = cost_(v);
        v[l] -= sign * step(l);
        if (gap(ci) < best) {
          best = gap(ci);
          best_c = ci;
          best_l = l;
          best_sign = sign;
        }
      }
    if (best_sign == 0) return false;
    v[best_l] += best_sign * step(best_l);
    c = best_c;
    return true;
  }

  // Widen one layer and narrow another. The exact change of a pair is the sum of the two single changes
  // except where the layers meet (a convolution between them), so the sum ranks the pairs and only the
  // kPairChecks best are evaluated exactly: O(L log L) + kPairChecks evaluations instead of L^2.
  bool pair_step(std::vector<int64_t>& v, int64_t& c) {
    constexpr size_t kPairChecks = 32;
    std::vector<std::pair<int64_t, size_t>> up, down;  // (single change, layer)
    for (size_t l = 0; l < v.size(); ++l)
      for (int sign : {1, -1}) {
        if (!may(l, sign, v)) continue;
        v[l] += sign * step(l);
        (sign > 0 ? up : down).emplace_back(cost_(v) - c, l);
        v[l] -= sign * step(l);
      }
    if (up.empty() || down.empty()) return false;
    std::sort(down.begin(), down.end());
    const int64_t want = target_ - c;                          // the change that would close the gap
    std::vector<std::tuple<int64_t, size_t, size_t>> guesses;  // (estimated remaining gap, up, down)
    for (const auto& [du, a] : up) {
      // The narrowing changes nearest to want - du, on both sides.
      const size_t pos =
          size_t(std::lower_bound(down.begin(), down.end(), std::make_pair(want - du, size_t(0))) - down.begin());
      for (size_t j = pos > 0 ? pos - 1 : 0; j < std::min(down.size(), pos + 2); ++j)
        if (down[j].second != a) guesses.emplace_back(std::abs(want - du - down[j].first), a, down[j].second);
    }
    std::sort(guesses.begin(), guesses.end());
    int64_t best = gap(c), best_c = c;
    size_t best_up = 0, best_down = 0;
    bool found = false;
    for (size_t g = 0; g < std::min(kPairChecks, guesses.size()); ++g) {
      const auto& [est, a, b] = guesses[g];
      v[a] += step(a);
      v[b] -= step(b);
      int64_t ci = cost_(v);
      v[a] -= step(a);
      v[b] += step(b);
      if (gap(ci) < best) {
        best = gap(ci);
        best_c = ci;
        best_up = a;
        best_down = b;
        found = true;
      }
    }
    if (!found) return false;
    v[best_up] += step(best_up);
    v[best_down] -= step(best_down);
    c = best_c;
    return true;
  }

  const CostFn& cost_;
  const int64_t target_;
  const ChannelGrid& grid_;
  const std::vector<int>& dir_;
};

}  // namespace

Rescaled rescale_exact(const std::vector<int64_t>& c, const CostFn& cost, int64_t target, double tol, int multiple,
                       int min_channels, const std::vector<int>& direction) {
  return rescale_exact(c, cost, target, tol, ChannelGrid::uniform(c.size(), multiple, min_channels), direction);
}

Rescaled rescale_exact(const std::vector<int64_t>& c, const CostFn& cost, int64_t target, double tol,
                       const ChannelGrid& grid, const std::vector<int>& direction) {
  if (grid.multiple.size() != c.size() || grid.min.size() != c.size())
    throw std::logic_error("rescale_exact: the grid has " + std::to_string(grid.multiple.size()) + " layers, not " +
                           std::to_string(c.size()));
  auto hi = [&](size_t i) { return kMaxChannels / grid.multiple[i] * grid.multiple[i]; };
  auto scaled = [&](double s) {
    std::vector<int64_t> v(c.size());
    for (size_t i = 0; i < c.size(); ++i) {
      const int64_t m = grid.multiple[i];
      v[i] = std::clamp<int64_t>(m * int64_t(round_even(double(c[i]) * s / double(m))), grid.min[i], hi(i));
    }
    return v;
  };
  Rescaled r;
  bool on_grid = true;
  for (size_t i = 0; i < c.size(); ++i)
    on_grid = on_grid && c[i] % grid.multiple[i] == 0 && c[i] >= grid.min[i] && c[i] <= hi(i);
  if (on_grid && std::abs(relative(cost(c), target)) <= tol) {  // nothing to do: keep the vector as it is
    r.channels = c;
    r.cost = cost(c);
    r.rel_error = relative(r.cost, target);
    return r;
  }
  // Bisection on s: the budget of scaled(s) does not decrease with s.
  double s_lo = 0, s_hi = 1;
  while (cost(scaled(s_hi)) < target && s_hi < double(kMaxChannels)) s_hi *= 2;
  for (int i = 0; i < 60; ++i) {
    double mid = (s_lo + s_hi) / 2;
    (cost(scaled(mid)) < target ? s_lo : s_hi) = mid;
  }
  std::vector<int64_t> a = scaled(s_lo), b = scaled(s_hi);
  int64_t ca = cost(a), cb = cost(b);
  bool take_lo = std::abs(double(ca) - double(target)) < std::abs(double(cb) - double(target));
  r.channels = take_lo ? a : b;
  r.cost = take_lo ? ca : cb;
  r.scale = take_lo ? s_lo : s_hi;
  r.corrections = Corrector(cost, target, grid, direction).run(r.channels, r.cost, tol);
  r.rel_error = relative(r.cost, target);
  r.reached = std::abs(r.rel_error) <= tol;
  return r;
}

std::pair<std::vector<int64_t>, double> rescale(const std::vector<int64_t>& c, const CostFn& flops, int64_t f0,
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

namespace {

// The reference rescaling rounds every width to an integer: it cannot keep a layer on a coarser grid.
void check_reference_grid(const SearchOptions& s, const ChannelGrid& grid) {
  if (s.rescale != RescaleMode::kReference) return;
  for (size_t l = 0; l < grid.multiple.size(); ++l) {
    if (grid.multiple[l] > 1)
      throw ConfigError("search.rescale = reference: layer " + std::to_string(l) + " must stay a multiple of " +
                        std::to_string(grid.multiple[l]) +
                        " (a grouped conv), which only search.rescale = exact keeps");
    if (grid.min[l] > std::max(s.min_channels, 1))
      throw ConfigError("search.rescale = reference: layer " + std::to_string(l) + " may not go under " +
                        std::to_string(grid.min[l]) +
                        " (the network file's min_channels), which only search.rescale = exact keeps");
  }
}

}  // namespace

Adjustment adjust_channels(const std::vector<int64_t>& c, const std::vector<int64_t>& c_init,
                           const std::vector<double>& fur, const std::vector<double>& fur_se, int t,
                           const SearchOptions& s, const CostFn& cost, int64_t target, const ChannelGrid& given) {
  const int L = static_cast<int>(c.size());
  Adjustment a;
  a.moves = choose_moves(fur, fur_se, update_count(s, t, L), s.gate, s.gate_z);
  const ChannelGrid grid =
      given.multiple.empty() ? ChannelGrid::uniform(c.size(), s.channel_multiple, s.min_channels) : given;
  check_reference_grid(s, grid);
  auto rate_of = [&](size_t rank) { return std::max(s.adjust_rate - s.adjust_rate_decay * double(rank), 0.0); };
  // Moved layers keep the rate of their rank among the candidates (as without the gate).
  auto rank_in = [](const std::vector<int>& list, int l) {
    return size_t(std::find(list.begin(), list.end(), l) - list.begin());
  };
  std::vector<int64_t> v = c;
  std::vector<int> direction(c.size(), 0);
  for (int l : a.moves.moved_top) {
    const int64_t m = grid.multiple[size_t(l)];
    double w = double(v[size_t(l)]) + rate_of(rank_in(a.moves.top, l)) * double(c_init[size_t(l)]);
    v[size_t(l)] = m == 1 ? int64_t(round_even(w)) : m * int64_t(std::ceil(w / double(m) - 1e-9));
    direction[size_t(l)] = 1;
  }
  for (int l : a.moves.moved_bottom) {
    const int64_t m = grid.multiple[size_t(l)], lo = grid.min[size_t(l)];
    double w = double(v[size_t(l)]) - rate_of(rank_in(a.moves.bottom, l)) * double(c_init[size_t(l)]);
    v[size_t(l)] = m == 1 ? std::max<int64_t>(int64_t(round_even(w)), lo)
                          : std::max<int64_t>(lo, m * int64_t(std::floor(w / double(m) + 1e-9)));
    direction[size_t(l)] = -1;
  }
  a.adjusted = v;
  a.cost_adjusted = cost(v);
  if (s.rescale == RescaleMode::kReference) {
    auto [scaled, factor] = rescale(v, cost, target, s.flops_tolerance);
    a.rescaled.channels = scaled;
    a.rescaled.scale = factor;
    a.rescaled.cost = cost(scaled);
    a.rescaled.rel_error = relative(a.rescaled.cost, target);
    a.rescaled.reached = std::abs(a.rescaled.rel_error) <= s.flops_tolerance;
  } else {
    a.rescaled = rescale_exact(v, cost, target, s.flops_tolerance, grid, direction);
  }
  a.channels = a.rescaled.channels;
  a.scale = a.rescaled.scale;
  if (!a.rescaled.reached)
    logger()->warn("rescaling: the {} budget {} is not reachable within {:.3g}%; closest {} ({:+.3f}%)",
                   enum_name(s.budget), target, 100 * s.flops_tolerance, a.rescaled.cost, 100 * a.rescaled.rel_error);
  return a;
}

// ---- controls: other vectors at the same budget (netadj compare, latency calibration) ----

namespace {
std::vector<int64_t> on_budget(const char* what, const std::vector<int64_t>& c, const CostFn& cost, int64_t target,
                               const SearchOptions& s, const ChannelGrid& grid) {
  Rescaled r =
      rescale_exact(c, cost, target, s.flops_tolerance,
                    grid.multiple.empty() ? ChannelGrid::uniform(c.size(), s.channel_multiple, s.min_channels) : grid);
  if (!r.reached)
    logger()->warn("compare: the {} control misses the budget {} by {:+.3f}% (closest reachable)", what, target,
                   100 * r.rel_error);
  return r.channels;
}
}  // namespace

std::vector<int64_t> uniform_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                     const SearchOptions& s, const ChannelGrid& grid) {
  return on_budget("uniform", c0, cost, target, s, grid);
}

std::vector<int64_t> random_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                    const SearchOptions& s, uint64_t seed, double sigma, const ChannelGrid& grid) {
  std::mt19937_64 rng(derive_seed(seed, "random-control"));
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<int64_t> c(c0.size());
  for (size_t i = 0; i < c0.size(); ++i)
    c[i] = std::clamp<int64_t>(std::llround(double(c0[i]) * std::exp(sigma * n(rng))), 1, kMaxChannels);
  return on_budget("random", c, cost, target, s, grid);
}

std::vector<ArchSpec> latency_calibration_specs(const ModelOptions& m, const ArchSpec& spec, const SearchOptions& s,
                                                uint64_t seed) {
  const CostFn flops = flops_fn(m, spec.resolution);
  const ChannelGrid grid = channel_grid(s, spec);
  std::vector<ArchSpec> specs;
  for (int k = 1; k <= kLatencyCalibrationVectors; ++k)
    specs.push_back(build_spec(m, spec.resolution,
                               random_control(spec.channels, flops, flops(spec.channels), s,
                                              derive_seed(seed, "latency-calibration", k), kRandomControlSigma, grid)));
  return specs;
}

}  // namespace netadj
