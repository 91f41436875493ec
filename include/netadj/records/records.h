#pragma once
// The run directory's JSON records as types, each with one to_json/from_json pair (records.cpp), so
// the keys are spelled once. docs/run-directory.md describes every file and key; scripts/report.py
// reads only the documented keys. Files carry "schema_version"; a reader refuses any other version.
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/util/error.h"

namespace netadj {

/// Version of the records below; bump it when a key changes meaning or disappears.
inline constexpr int kSchemaVersion = 1;

/// One evaluation: mean loss, top-1/top-5 accuracy (fractions) over n images.
struct EvalResult {
  double loss = 0, top1 = 0, top5 = 0;
  int64_t n = 0;
};

/// One line of metrics.jsonl: a finished training epoch.
struct EpochRecord {
  int epoch = 0;  ///< 0-based
  double lr = 0, train_loss = 0, train_acc = 0, seconds = 0, images_per_s = 0;
  EvalResult val;                  ///< the plan's evaluation split (zeros when it has none)
  std::optional<EvalResult> test;  ///< with train.eval_test_each_epoch
  std::string label;               ///< "iter 3" in a search; "" in `netadj train`
};

/// result.json of `netadj train`.
struct TrainRecord {
  std::string arch;
  std::vector<int64_t> channels;
  int64_t flops = 0, params = 0;
  int epochs = 0;
  std::string train_split;  ///< "train_full" (train+val, the paper's re-training) or "train"
  EvalResult final_eval;    ///< last epoch's validation, or the test result when there is no validation
  std::optional<EvalResult> test;
  double seconds = 0;
  int world_size = 1;   ///< data-parallel processes that trained it
  std::string backend;  ///< "gloo" or "nccl" when world_size > 1, else ""
};

/// iter_<t>/fur.json and `netadj fur --json`.
struct FurRecord {
  std::vector<int64_t> channels;
  std::vector<std::string> layer_names;
  EvalResult base;  ///< the trained network without dropout
  std::vector<double> drop_p, fur, fur_stderr;
  std::vector<int> rank;     ///< rank[l] = 0 for the largest FUR
  std::vector<int> clamped;  ///< layers whose drop probability hit fur.max_drop_rate
  std::vector<int> repeats;  ///< dropout repeats measured per layer (more than fur.repeats when refined)
};

/// One search iteration in search.json.
struct IterationRecord {
  int iteration = 0;
  std::vector<int64_t> channels;
  int64_t flops = 0, params = 0;
  EvalResult val;
  std::optional<EvalResult> test;
  EvalResult fur_base;
  std::vector<double> fur, fur_stderr, drop_p;
  std::vector<int> clamped, rank;
  std::vector<int> fur_repeats;  ///< repeats per layer
  int k = 0;
  std::vector<int> top, bottom;              ///< candidates: the k largest / smallest FUR
  std::vector<int> moved_top, moved_bottom;  ///< widened / narrowed layers (all candidates without the gate)
  std::optional<double> gate_z;              ///< null when gating is off
  std::vector<int64_t> adjusted_channels;
  int64_t adjusted_flops = 0;
  double scale = 1.0;
  std::vector<int64_t> next_channels;
  int64_t next_flops = 0, next_params = 0;
  int64_t budget_target = 0;         ///< B0: FLOPs or params (SearchRecord::budget) of the starting vector
  double budget_error = 0;           ///< (B(next_channels) - B0) / B0
  std::optional<double> latency_ms;  ///< median batch-1 forward of `channels` on the run's device (eval mode)
  /// Under a latency budget: the latency model's prediction for `channels`, and the measured median of what it
  /// predicts (the TorchScript export with folded BatchNorm, search.latency_batch and latency_threads).
  std::optional<double> predicted_latency_ms, measured_latency_ms;
  std::optional<double> fur_seconds;  ///< FUR's wall time in the process that finished it (also times.json)
  std::optional<int> warm_from;       ///< search.warm_start: the iteration whose weights this one started from
  std::optional<int> epochs;          ///< epochs this iteration trained (search.warm_epochs when warm-started)
  /// Wall time of the search's recorded work when this iteration was recorded (the iterations' times summed over
  /// starts, so a resume does not count the time it was stopped), and the estimate of what is left then.
  std::optional<double> elapsed_s, eta_s;
};

/// One re-training of search.select = retrain: a candidate vector with one seed on the train/val split.
struct SelectCandidate {
  int iteration = 0;  ///< the iteration that trained this vector first (0 = the original)
  std::vector<int64_t> channels;
  std::vector<double> val_top1;  ///< per seed (1..), as they finish
  std::optional<double> mean;    ///< once every seed finished
};

struct SelectionRecord {
  int seeds = 0;
  std::vector<SelectCandidate> candidates;
  std::optional<int> chosen;  ///< index into candidates, once all are re-trained
};

struct BestRecord {
  int iteration = 0;
  std::vector<int64_t> channels;
  double val_top1 = 0;  ///< single-seed (argmax) or mean over the re-training seeds (retrain)
  int64_t flops = 0;
  std::string selected_by = "argmax";  ///< "argmax" | "retrain"
};

/// search.json.
struct SearchRecord {
  std::string arch;
  int depth = 0, resolution = 0;
  int64_t f0 = 0;  ///< FLOPs (MACs) of the starting vector: the budget
  std::vector<int64_t> init_channels;
  std::vector<std::string> layer_names;
  std::vector<int> layer_stages;
  int epochs_per_iteration = 0;
  std::vector<IterationRecord> iterations;
  std::optional<BestRecord> best;  ///< after the first iteration
  bool done = false;
  bool stopped_early = false;    ///< stopped by search.patience
  std::string budget = "flops";  ///< what the rescaling holds: "flops" | "params"
  /// Why the loop ended: "" while running, "iterations", "patience" or "converged" (no gated move).
  std::string stopped;
  std::optional<SelectionRecord> selection;  ///< search.select = retrain
  std::string device;            ///< where the search trained and timed each iteration's latency ("cpu", "cuda:0")
  int world_size = 1;            ///< data-parallel processes (the last start's; a resume may use another number)
  std::string backend;           ///< "gloo" or "nccl" when world_size > 1, else ""
  std::string init = "scratch";  ///< search.init: iteration 0 trained from scratch, or model.weights
};

/// weights.json: the trained weights a run started from (model.weights), pinned when it began and checked
/// when it resumes.
struct WeightsRecord {
  std::string path;    ///< absolute
  std::string format;  ///< "netadj-weights" (netadj import) or "netadj-model" (a model.pt of train or search)
  int64_t bytes = 0;
  int64_t crc32 = 0;                 ///< zlib's CRC-32 of the whole file
  std::vector<double> mean, stddev;  ///< the input normalization they came with ("std"); empty = none recorded
};

struct IterationTimes {
  int iteration = 0;
  double train_seconds = 0, fur_seconds = 0;
  bool resumed = false;  ///< training continued from a checkpoint
  /// The whole iteration (training, FUR, latency, records) in the process that finished it; nullopt in files
  /// written before it was recorded.
  std::optional<double> seconds;
};

/// times.json.
struct TimesRecord {
  std::vector<IterationTimes> iterations;
};

/// Where a training stopped inside an epoch (on SIGINT/SIGTERM): the epoch's running sums over all ranks, so
/// the resumed run takes exactly the steps the uninterrupted one would have.
struct EpochPosition {
  int epoch = 0;     ///< the epoch in progress (0-based)
  int64_t step = 0;  ///< steps of it done
  double loss_sum = 0, correct = 0, seconds = 0;
  int64_t seen = 0;                 ///< images of it seen
  std::string device_type = "cpu";  ///< the device kind whose random generators' states the archive holds
};

/// checkpoint.pt's "meta" entry: the epochs done and, when written mid-epoch, the position inside the next.
/// (The archive beside it holds the weights, optimizer, loss scaler and random states; TrainState writes both.)
struct CheckpointRecord {
  int epoch = -1;                        ///< the last finished epoch (0-based); -1 before the first
  std::vector<EpochRecord> history;      ///< one per finished epoch: epoch + 1 of them
  std::optional<EpochPosition> partial;  ///< epoch + 1 in progress
};

/// iter_<t>/fur_partial.json: what FUR has measured so far, so a resumed FUR measures only what is missing.
struct FurProgress {
  std::optional<EvalResult> base;             ///< the unmasked evaluation, once measured
  std::map<int, std::vector<double>> layers;  ///< layer index -> one value per repeat measured
  std::vector<int> refine_pending;            ///< layers of the current refinement round still to measure
};

/// One vector of a comparison (an element of compare.json's "entries").
struct CompareEntry {
  std::string name;                   ///< also its runs' folder names: valid_entry_name
  std::string kind;                   ///< "original" | "candidate" | "uniform" | "random"
  std::optional<std::string> source;  ///< a candidate's channel file
  std::vector<int64_t> channels;
  int64_t flops = 0, params = 0;
  double latency_ms = 0;
  std::vector<double> test_top1;  ///< one per finished seed
  std::vector<std::string> runs;  ///< run directories, relative to the comparison's directory: runs/<name>_s<seed>
  // Derived from the values above when written (set_statistics); never read back.
  std::optional<double> mean, sd, diff, p;
  std::optional<std::array<double, 2>> mean_ci95, ci95;
  /// (cost - budget_target) / budget_target in the comparison's budget, set when planned (read back since
  /// every budget's cost, a latency table's prediction too, is known only then).
  double budget_error = 0;
};

/// compare.json.
struct CompareRecord {
  std::string arch, dataset;
  std::string budget = "flops";  ///< what the controls are rescaled to: a search.budget value (BudgetCost::name)
  int64_t budget_target = 0;     ///< the original vector's cost in that budget
  int epochs = 0;
  std::string device;      ///< where the runs train and the latencies were measured; "" until then
  std::vector<int> seeds;  ///< [1, ..., S], S in 1..100
  bool done = false;
  std::vector<CompareEntry> entries;  ///< the original first
};

/// Whether `name` can name a compare entry and its runs' folders: 1..100 of letters, digits, '.', '_', '-';
/// not "." or "..".
bool valid_entry_name(const std::string& name);

#define NETADJ_RECORD_JSON(T)                  \
  void to_json(nlohmann::json& j, const T& r); \
  void from_json(const nlohmann::json& j, T& r);
NETADJ_RECORD_JSON(EvalResult)
NETADJ_RECORD_JSON(EpochRecord)
NETADJ_RECORD_JSON(TrainRecord)
NETADJ_RECORD_JSON(FurRecord)
NETADJ_RECORD_JSON(IterationRecord)
NETADJ_RECORD_JSON(BestRecord)
NETADJ_RECORD_JSON(SelectCandidate)
NETADJ_RECORD_JSON(SelectionRecord)
NETADJ_RECORD_JSON(SearchRecord)
NETADJ_RECORD_JSON(IterationTimes)
NETADJ_RECORD_JSON(TimesRecord)
NETADJ_RECORD_JSON(EpochPosition)
NETADJ_RECORD_JSON(CheckpointRecord)
NETADJ_RECORD_JSON(FurProgress)
NETADJ_RECORD_JSON(CompareEntry)
NETADJ_RECORD_JSON(CompareRecord)
NETADJ_RECORD_JSON(WeightsRecord)
#undef NETADJ_RECORD_JSON

/// A record with "schema_version" added: what write_record writes, and what a record kept inside another
/// file (a checkpoint's meta) holds.
nlohmann::json versioned(const nlohmann::json& record);
/// Writes a record file atomically, with "schema_version" added.
void write_record(const std::string& path, const nlohmann::json& record);
/// Checks a record's schema version: ConfigError (exit 2) for a version this netadj does not read (or none);
/// DataError when `j` is not an object. `where` names the file (and the part of it) in the message.
void check_schema(const nlohmann::json& j, const std::string& where);
/// Reads a record file and checks its schema version: ConfigError (exit 2) for a version this netadj
/// does not read; DataError when the file is missing or malformed.
nlohmann::json read_record(const std::string& path);

[[noreturn]] void throw_malformed_record(const std::string& path, const std::string& what);

/// A record value of the right kind but unusable (an integer out of range, a count that does not match
/// another); from_json throws it.
struct RecordValueError : DataError {
  explicit RecordValueError(const std::string& what) : DataError(what) {}
};

/// check_schema, then conversion to T with its range checks; a missing, mistyped or out-of-range key is a
/// DataError (exit 3) naming `where`.
template <class T>
T record_from_json(const nlohmann::json& j, const std::string& where) {
  check_schema(j, where);
  try {
    return j.get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw_malformed_record(where, e.what());
  } catch (const RecordValueError& e) {
    throw_malformed_record(where, e.what());
  }
}

/// read_record, then conversion to T; a missing, mistyped or out-of-range key is a DataError naming the file.
template <class T>
T read_record_as(const std::string& path) {
  return record_from_json<T>(read_record(path), path);
}

}  // namespace netadj
