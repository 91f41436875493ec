#pragma once
// What the run directory's records show in TensorBoard: one function per record, so the events written live
// and those rebuilt from the records on a resume are the same.
#include <string>
#include <vector>

#include "netadj/records/records.h"
#include "netadj/util/events.h"

namespace netadj {

/// One training epoch (step = epochs done): train/loss, train/top1, lr, images_per_s, epoch_seconds, and
/// val/* (when the training validates) and test/* (when the record has it).
ScalarStep epoch_scalars(const EpochRecord& r, bool has_val);
/// One search iteration (step = the iteration): flops, params, the latencies it has, val/*, test/*, and per
/// searchable layer width/<name>, fur/<name> and fur_stderr/<name>; elapsed and ETA in hours when recorded.
ScalarStep iteration_scalars(const IterationRecord& r, const std::vector<std::string>& layer_names);
/// The events of a search's iterations so far (a resumed search's file starts with them).
std::vector<ScalarStep> search_scalars(const SearchRecord& doc);

}  // namespace netadj
