#pragma once
// model.weights: a run that starts from trained weights (Algorithm 1's pre-trained network). The weights are a
// netadj-weights file (`netadj import`, graph networks) or a netadj model.pt (`train`, `search`, any
// architecture); they carry their input normalization, are pinned in the run directory (weights.json) when a run
// begins and checked when it resumes.
#include <string>

#include "netadj/backends/model.h"
#include "netadj/config/config.h"
#include "netadj/data/data.h"
#include "netadj/records/records.h"

namespace netadj {

/// What model.weights holds: its format, size, CRC-32 and input normalization (a graph file's `normalize`, a
/// model.pt's record; empty when neither says). DataError (exit 3) naming the file when it is missing,
/// unreadable or neither kind of weights file.
WeightsRecord inspect_weights(const ModelOptions& m);
/// The normalization a WeightsRecord holds (empty when none).
Normalization weights_normalization(const WeightsRecord& w);

/// Copies model.weights into `net`, built from the run's spec. Refuses (DataError, exit 3, one line naming the
/// file and the difference) weights of another architecture, depth, class count or channel vector, and missing,
/// extra or mis-shaped tensors.
void load_pretrained(const ModelOptions& m, GraphNet& net);

}  // namespace netadj
