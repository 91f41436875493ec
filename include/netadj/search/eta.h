#pragma once
// How long a search has left, from the times it measured: seconds per training epoch, and per iteration the
// rest of its time (FUR, latency, records). Warm-started iterations train fewer epochs and are counted by
// their epochs; the selection's re-trainings are full trainings; a search that ends early ends its estimate.
#include <functional>
#include <optional>
#include <vector>

namespace netadj {

/// One recorded iteration's cost.
struct IterationCost {
  int epochs = 0;        ///< epochs it trained (0: a pretrained start taken as it is)
  double train_s = 0;    ///< its training (in the process that finished it)
  double total_s = 0;    ///< the whole iteration (training included)
  bool resumed = false;  ///< its training resumed from a checkpoint: train_s covers only the rest
};

/// What is still to run.
struct SearchWork {
  std::vector<int> epochs;   ///< per iteration still to run, the epochs it trains
  int select_trainings = 0;  ///< re-trainings of the selection still to run
  int select_epochs = 0;     ///< epochs of each
};

/// What runs after iteration t of a search of `iterations`: the later iterations' epochs (`epochs_of(u)`), none
/// when iteration t ends the search early (no gated move, or search.patience used up); then the selection's
/// `select_trainings` re-trainings of `select_epochs` each.
SearchWork work_after(int t, int iterations, bool ends_early, const std::function<int(int)>& epochs_of,
                      int select_trainings, int select_epochs);

/// Seconds per epoch and per iteration (without its training), measured; nullopt until an iteration that
/// trained whole in one process has been timed.
struct SearchRates {
  double epoch_s = 0;
  double iteration_s = 0;
};
std::optional<SearchRates> search_rates(const std::vector<IterationCost>& done);

/// The seconds `left` takes at the measured rates; nullopt while there are none.
std::optional<double> search_eta(const std::vector<IterationCost>& done, const SearchWork& left);

}  // namespace netadj
