// Statistics of `netadj compare` (the run: src/pipeline/compare.cpp; its controls: search.h, adjust.cpp).
#include "netadj/search/compare.h"

#include "netadj/util/stats.h"

namespace netadj {
using nlohmann::json;

void set_statistics(CompareEntry& e, const std::vector<double>* original) {
  const SampleSummary sx = summarize(e.test_top1);
  e.mean = sx.n > 0 ? std::optional<double>(sx.mean) : std::nullopt;
  e.sd = sx.n > 1 ? std::optional<double>(sx.sd) : std::nullopt;
  e.mean_ci95 = mean_ci95(e.test_top1);
  e.diff = e.p = std::nullopt;
  e.ci95 = std::nullopt;
  if (!original) return;
  const SampleSummary so = summarize(*original);
  if (sx.n > 0 && so.n > 0) e.diff = sx.mean - so.mean;
  if (auto w = welch(e.test_top1, *original)) {
    e.ci95 = w->ci95;
    e.p = w->p;
  }
}

}  // namespace netadj
