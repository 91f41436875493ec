#pragma once
// Pipelines: the runs that commands start (cli/ parses and prints; the work is here). A training into a run
// directory and the TorchScript export of a run's model.
#include <string>

#include "netadj/backends/export.h"
#include "netadj/records/records.h"
#include "netadj/run/run_dir.h"
#include "netadj/run/session.h"

namespace netadj {

/// Trains the session's model into `dir` as `netadj train` does (checkpoints there, resumed from them) and
/// writes model.pt and result.json there (the process that writes `dir` does).
TrainRecord train_run(const RunSession& session, const RunDir& dir);

/// What model.json needs from the session: normalization, dataset, crop.
ExportInfo export_info(const RunSession& session, const ModelOptions& m, bool fold_bn,
                       ExportFormat format = ExportFormat::kTorchscript);
/// With export.enabled: dir/export/model.pt (TorchScript) and dir/export/model.json (backends/export.h).
void export_run_model(const RunSession& session, GraphNetImpl& net, const ModelOptions& m, const RunDir& dir);

}  // namespace netadj
