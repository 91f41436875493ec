// The ETA of a search (see eta.h).
#include "netadj/search/eta.h"

#include <numeric>

namespace netadj {

SearchWork work_after(int t, int iterations, bool ends_early, const std::function<int(int)>& epochs_of,
                      int select_trainings, int select_epochs) {
  SearchWork w;
  if (!ends_early)
    for (int u = t + 1; u < iterations; ++u) w.epochs.push_back(epochs_of(u));
  w.select_trainings = select_trainings;
  w.select_epochs = select_epochs;
  return w;
}

std::optional<SearchRates> search_rates(const std::vector<IterationCost>& done) {
  double train_s = 0, epochs = 0, rest_s = 0;
  int timed = 0;
  for (const IterationCost& c : done) {
    // A resumed training's time is only its last part; a pretrained start trains nothing.
    if (!c.resumed && c.epochs > 0) {
      train_s += c.train_s;
      epochs += c.epochs;
    }
    rest_s += std::max(0.0, c.total_s - c.train_s);
    ++timed;
  }
  if (epochs <= 0 || timed == 0) return std::nullopt;
  return SearchRates{train_s / epochs, rest_s / timed};
}

std::optional<double> search_eta(const std::vector<IterationCost>& done, const SearchWork& left) {
  const auto rates = search_rates(done);
  if (!rates) return std::nullopt;
  const double epochs = std::accumulate(left.epochs.begin(), left.epochs.end(), 0.0) +
                        double(left.select_trainings) * double(left.select_epochs);
  return epochs * rates->epoch_s + double(left.epochs.size()) * rates->iteration_s;
}

}  // namespace netadj
