// The search loop (Algorithm 1): train, measure FUR, adjust and rescale, record; resumable at any point
// because every step's result lands in the run directory before the next step starts.
#include "netadj/search/search.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <numeric>

#include "netadj/backends/timing.h"
#include "netadj/backends/warm.h"
#include "netadj/distributed/distributed.h"
#include "netadj/nets/table.h"
#include "netadj/records/tensorboard.h"
#include "netadj/search/eta.h"
#include "netadj/train/checkpoint.h"
#include "netadj/train/pretrained.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string vec_str(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Runs `f` with `threads` CPU threads (0: as they are), then restores the training's.
template <class F>
auto with_threads(int threads, F f) {
  const int before = torch::get_num_threads();
  if (threads > 0) torch::set_num_threads(threads);
  struct Restore {
    int n;
    ~Restore() { torch::set_num_threads(n); }
  } restore{before};
  return f();
}

// A latency table is measured by one process: a data-parallel search needs one measured before.
void refuse_measuring_on_ranks(const RunSession& session) {
  if (session.world().size() > 1)
    throw ConfigError(
        "search.budget = latency in a data-parallel run: measure the table first (`netadj bench lut`) and name it "
        "in search.latency_table");
}

// Measures (or finishes measuring) the run's latency table in `file` on the run's device.
void measure_run_table(const RunSession& session, const RunDir& dir, const std::string& file) {
  const SearchOptions& s = session.config().search;
  refuse_measuring_on_ranks(session);  // check_search_start refuses it before a new run exists
  with_threads(s.latency_threads, [&] {
    LatencyTable t = file_exists(file) ? read_latency_table(file)
                                       : new_latency_table(session.spec(), session.device(), s.latency_batch,
                                                           s.latency_threads, s.min_channels);
    logger()->info("latency table: measuring {} layers on {} (batch {}, {} threads) into {}", t.entries.size(),
                   t.device, t.batch, t.threads, file);
    const std::vector<ArchSpec> calibration =
        latency_calibration_specs(session.config().model, session.spec(), s, uint64_t(session.config().runtime.seed));
    measure_latency_table(t, session.spec(), calibration, session.device(),
                          [&](const LatencyTable& done, const LutProgress& p) {
                            dir.write_json("latency_table.json", latency_table_json(done));
                            logger()->info("latency table: {}/{} layers, {}/{} widths timed", p.entry, p.entries,
                                           p.points_done, p.points);
                          });
    return 0;
  });
}

}  // namespace

void check_search_start(const RunSession& session) {
  const SearchOptions& s = session.config().search;
  if (s.budget != Budget::kLatency) return;
  if (!s.latency_table.empty())
    load_latency_model(s, session.spec());  // read and checked against the network, batch and threads
  else
    refuse_measuring_on_ranks(session);
}

namespace {

// search.budget = latency: the run's table, kept in the run directory (latency_table.json) so that a resumed
// search holds the same budget: a copy of search.latency_table, or measured at the start on the run's device.
std::shared_ptr<const LatencyModel> run_latency_model(const RunSession& session, const RunDir& dir) {
  const SearchOptions& s = session.config().search;
  if (s.budget != Budget::kLatency) return nullptr;
  const std::string kept = dir.file("latency_table.json");
  // Every rank looks before any writes, so all of them take the same branch and meet at the same barrier.
  session.world().barrier();
  const bool have = file_exists(kept);
  if (!have && !s.latency_table.empty()) {
    LatencyTable t = read_latency_table(s.latency_table);
    check_latency_table(t, session.spec(), s.latency_batch, s.latency_threads, s.latency_force, s.latency_table);
    dir.write_json("latency_table.json", latency_table_json(t));
  } else if (!have || !read_latency_table(kept).complete()) {
    measure_run_table(session, dir, kept);
  }
  session.world().barrier();
  LatencyTable t = read_latency_table(kept);
  check_latency_table(t, session.spec(), s.latency_batch, s.latency_threads, true, kept);
  logger()->info("latency budget: table {} (measured on {}), predicted {:.3f} ms for the starting vector", kept,
                 t.device, LatencyModel(t).predict_ms(session.spec()));
  return std::make_shared<const LatencyModel>(std::move(t));
}

class SearchLoop {
 public:
  SearchLoop(const RunSession& session, const RunDir& dir, bool resume);
  int run();

 private:
  void start_or_load(bool resume);
  void start_record();
  void check_split() const;
  void replay_records();
  void remove_recorded_checkpoints() const;
  void run_iteration(int t);
  TrainResult train(int t, GraphNet& net, int epochs);
  TrainResult start_pretrained(GraphNet& net);
  bool pretrained(int t) const { return t == 0 && cfg_.search.init == SearchInit::kPretrained; }
  void warm_start(int t, GraphNet& net) const;
  int epochs_of(int t) const;
  FurResult measure_fur(int t, GraphNet& net, const std::string& iter);
  void note_accuracy(int t, double top1);
  void save_iteration(const IterationRecord& rec, const IterationTimes& times, GraphNet& net, const std::string& iter);
  void note_time(IterationRecord& rec, const IterationTimes& times) const;
  SearchWork work_after(const IterationRecord& rec) const;
  bool converged() const;
  void log_adjustment(int t, const TrainResult& tr, const FurResult& fur, const Adjustment& adj) const;
  IterationRecord iteration_record(int t, const TrainResult& tr, const FurResult& fur, const Adjustment& adj) const;
  int finish(const std::string& why);
  void select_by_retraining();
  double retrain(const std::vector<int64_t>& channels, int candidate, int seed);
  TrainPlan search_plan(uint64_t seed, int epochs, const std::string& folder, const std::string& label,
                        bool test_at_end) const;
  std::string path(const std::string& file) const { return dir_.file(file); }

  const RunSession& session_;
  const Config& cfg_;
  const RunDir& dir_;  // rank 0 writes it: its writers do nothing on the other ranks
  const ArchSpec spec0_;
  const int64_t f0_;
  const std::shared_ptr<const BudgetCost> budget_;
  const int64_t b0_;
  const uint64_t seed_;
  SearchRecord doc_;
  TimesRecord times_;
  std::vector<int64_t> c_;
  double best_acc_ = -1;
  int best_t_ = -1, since_best_ = 0;
  Trainer trainer_;
  EventWriter events_;  // the run folder's TensorBoard events: one step per iteration
};

SearchLoop::SearchLoop(const RunSession& session, const RunDir& dir, bool resume)
    : session_(session),
      cfg_(session.config()),
      dir_(dir),
      spec0_(session.spec()),
      f0_(spec_flops(spec0_)),
      budget_(make_budget(cfg_.model, session.resolution(), cfg_.search.budget, run_latency_model(session, dir))),
      b0_(budget_->cost(spec0_.channels)),
      seed_(static_cast<uint64_t>(cfg_.runtime.seed)),
      c_(spec0_.channels),
      trainer_(trainer_options(cfg_), session.data(), session.device()) {
  logger()->info("device: {}", session.device().str());
  if (cfg_.search.warm_start && cfg_.search.select == SelectMode::kArgmax)
    logger()->warn(
        "search.warm_start with search.select = argmax: warm-started iterations carry the training "
        "of those before them, so later ones tend to score higher; search.select = retrain compares "
        "the vectors trained from scratch");
  if (!cfg_.model.weights.empty() && cfg_.search.init == SearchInit::kScratch)
    logger()->warn(
        "model.weights is given but search.init = scratch: iteration 0 trains from scratch (only the "
        "weights' input normalization is used); search.init = pretrained starts from them");
  check_split();
  pin_weights(session.weights(), dir);
  start_or_load(resume);
  if (dir_.writes()) events_ = EventWriter::open(dir_.path(), search_scalars(doc_));
}

// The split is part of the run: recorded once, checked on resume.
void SearchLoop::check_split() const {
  const std::string split_file = path("split.json");
  if (file_exists(split_file))
    session_.data().check_split(read_record(split_file), split_file);
  else
    dir_.write_record("split.json", session_.data().split_json());
}

void SearchLoop::start_or_load(bool resume) {
  if (resume && file_exists(path("search.json"))) {
    doc_ = read_record_as<SearchRecord>(path("search.json"));
    if (file_exists(path("times.json"))) times_ = read_record_as<TimesRecord>(path("times.json"));
    replay_records();
    remove_recorded_checkpoints();
    if (!doc_.device.empty() && doc_.device != session_.device().str())
      logger()->warn("search began on {} and resumes on {}: later latencies are measured on {}", doc_.device,
                     session_.device().str(), session_.device().str());
  } else {
    start_record();
  }
  doc_.device = session_.device().str();
  doc_.world_size = session_.world().size();
  doc_.backend = session_.world().backend();
}

void SearchLoop::start_record() {
  doc_.arch = cfg_.model.arch;
  doc_.depth = cfg_.model.depth;
  doc_.resolution = session_.resolution();
  doc_.f0 = f0_;
  doc_.init_channels = spec0_.channels;
  for (const auto& l : spec0_.layers) {
    doc_.layer_names.push_back(l.name);
    doc_.layer_stages.push_back(l.stage);
  }
  doc_.epochs_per_iteration = cfg_.search.epochs > 0 ? cfg_.search.epochs : cfg_.train.epochs;
  doc_.budget = budget_->name();
  doc_.init = enum_name(cfg_.search.init);
}

// A resumed search continues from the newest complete record, with the best-so-far re-derived from them.
void SearchLoop::replay_records() {
  // times.json is written just before search.json: a crash between the two leaves a timing of an
  // iteration that is not recorded, and that iteration runs again.
  auto& t = times_.iterations;
  t.erase(std::remove_if(t.begin(), t.end(),
                         [&](const IterationTimes& x) { return x.iteration >= int(doc_.iterations.size()); }),
          t.end());
  for (const auto& rec : doc_.iterations) {
    c_ = rec.next_channels;
    note_accuracy(rec.iteration, rec.val.top1);
  }
}

// A kill between a training's record and the removal of its checkpoints leaves them behind: a resume removes
// them, as the run that recorded the training would have.
void SearchLoop::remove_recorded_checkpoints() const {
  auto remove_checkpoints = [&](const std::string& folder) {
    dir_.remove(previous_checkpoint(folder + "/checkpoint.pt"));
    dir_.remove(folder + "/checkpoint.pt");
  };
  for (const auto& rec : doc_.iterations) remove_checkpoints("iter_" + std::to_string(rec.iteration));
  if (!doc_.selection) return;
  for (size_t i = 0; i < doc_.selection->candidates.size(); ++i)
    for (size_t seed = 1; seed <= doc_.selection->candidates[i].val_top1.size(); ++seed)
      remove_checkpoints(fmt::format("select/c{}_s{}", i, seed));
}

void SearchLoop::note_accuracy(int t, double top1) {
  if (top1 > best_acc_) {
    best_acc_ = top1;
    best_t_ = t;
    since_best_ = 0;
  } else {
    ++since_best_;
  }
}

int SearchLoop::run() {
  if (doc_.done) {
    logger()->info("search in {} is already complete", dir_.path());
    return doc_.best ? doc_.best->iteration : 0;
  }
  if (!doc_.stopped.empty()) return finish(doc_.stopped);  // the loop ended; the selection did not
  const int start = static_cast<int>(doc_.iterations.size());
  if (start > 0) logger()->info("resuming search at iteration {} of {}", start, cfg_.search.iterations);
  for (int t = start; t < cfg_.search.iterations; ++t) {
    if (converged()) {
      logger()->info("no layer passed the gate in iteration {}: the search has converged", t - 1);
      return finish("converged");
    }
    if (cfg_.search.patience > 0 && since_best_ >= cfg_.search.patience) {
      logger()->info("no improvement for {} iterations: stopping early", since_best_);
      return finish("patience");
    }
    dist::throw_if_interrupted(session_.world(), "search");
    run_iteration(t);
  }
  return finish(converged() ? "converged" : "iterations");
}

// With the gate on, an iteration that moved no layer ends the search: the next one would train the same
// vector again.
bool SearchLoop::converged() const {
  if (!cfg_.search.gate || doc_.iterations.empty()) return false;
  const IterationRecord& last = doc_.iterations.back();
  return last.moved_top.empty() && last.moved_bottom.empty();
}

void SearchLoop::run_iteration(int t) {
  const std::string iter = "iter_" + std::to_string(t);
  dir_.make_dirs(iter);
  ArchSpec spec = session_.spec(c_);
  logger()->info("iteration {}/{}: channels {} FLOPs {} ({}), params {}", t, cfg_.search.iterations, vec_str(c_),
                 spec_flops(spec), human_count(double(spec_flops(spec))), human_count(double(spec_params(spec))));
  torch::manual_seed(derive_seed(seed_, "init", t));
  GraphNet net(spec);
  const std::string checkpoint = iter + "/checkpoint.pt";
  auto t0 = Clock::now();
  // (A training resumed from its checkpoint replaces these weights.)
  if (cfg_.search.warm_start && t > 0) warm_start(t, net);
  TrainResult tr = pretrained(t) ? start_pretrained(net) : train(t, net, epochs_of(t));
  IterationTimes times{t, seconds_since(t0), 0.0, tr.resumed, std::nullopt};
  auto t1 = Clock::now();
  FurResult fur = measure_fur(t, net, iter);
  times.fur_seconds = seconds_since(t1);
  Adjustment adj = adjust_channels(c_, spec0_.channels, fur.fur, fur.stderr_, t, cfg_.search,
                                   BudgetCost::cost_fn(budget_), b0_, channel_grid(cfg_.search, spec0_));
  log_adjustment(t, tr, fur, adj);
  IterationRecord rec = iteration_record(t, tr, fur, adj);
  // What a deployment of this vector waits for: batch 1, eval mode, on the run's device.
  rec.latency_ms = measure_latency(spec, session_.device(), 1, 5, 30).median_ms;
  if (const auto latency = budget_->latency()) {
    rec.predicted_latency_ms = latency->predict_ms(spec);
    rec.measured_latency_ms = with_threads(cfg_.search.latency_threads, [&] {
      return measure_export_latency(spec, session_.device(), cfg_.search.latency_batch, 5, 30, true, kLatencyInstances)
          .median_ms;
    });
  }
  rec.fur_seconds = times.fur_seconds;
  rec.epochs = epochs_of(t);
  if (cfg_.search.warm_start && t > 0) rec.warm_from = t - 1;
  times.seconds = seconds_since(t0);
  note_time(rec, times);
  save_iteration(rec, times, net, iter);
  events_.write(iteration_scalars(rec, doc_.layer_names));
  // The iteration is recorded: its training checkpoint is no longer needed.
  dir_.remove(previous_checkpoint(checkpoint));
  // The other ranks go on only once rank 0 has written the iteration (the next one may warm-start from it).
  session_.world().barrier();
  dir_.remove(checkpoint);
  c_ = adj.channels;
}

void SearchLoop::log_adjustment(int t, const TrainResult& tr, const FurResult& fur, const Adjustment& adj) const {
  const Moves& mv = adj.moves;
  logger()->info("iteration {}: val top1 {:.2f}% | FUR range [{:.4g}, {:.4g}] | k={} widened {} narrowed {}", t,
                 100 * tr.final_eval.top1, *std::min_element(fur.fur.begin(), fur.fur.end()),
                 *std::max_element(fur.fur.begin(), fur.fur.end()), mv.k, fmt::join(mv.moved_top, ","),
                 fmt::join(mv.moved_bottom, ","));
  auto left_out = [](const std::vector<int>& all, const std::vector<int>& moved) {
    std::vector<int> out;
    for (int l : all)
      if (std::find(moved.begin(), moved.end(), l) == moved.end()) out.push_back(l);
    return out;
  };
  if (cfg_.search.gate && (mv.moved_top != mv.top || mv.moved_bottom != mv.bottom))
    logger()->info("iteration {}: within FUR noise (z={}), not moved: top {} bottom {}", t, cfg_.search.gate_z,
                   fmt::join(left_out(mv.top, mv.moved_top), ","),
                   fmt::join(left_out(mv.bottom, mv.moved_bottom), ","));
  logger()->info("iteration {}: {} after adjustment {} -> after scaling (s={:.4f}) {} (target {}, {:+.3f}%)", t,
                 budget_->unit(), adj.cost_adjusted, adj.scale, adj.rescaled.cost, b0_, 100 * adj.rescaled.rel_error);
}

IterationRecord SearchLoop::iteration_record(int t, const TrainResult& tr, const FurResult& fur,
                                             const Adjustment& adj) const {
  const ArchSpec spec = session_.spec(c_), next = session_.spec(adj.channels);
  const Moves& mv = adj.moves;
  IterationRecord rec;
  rec.iteration = t;
  rec.channels = c_;
  rec.flops = spec_flops(spec);
  rec.params = spec_params(spec);
  rec.val = tr.final_eval;
  rec.test = tr.test;
  rec.fur_base = fur.base;
  rec.fur = fur.fur;
  rec.fur_stderr = fur.stderr_;
  rec.drop_p = fur.plan.p;
  rec.clamped = fur.plan.clamped;
  rec.rank = fur.rank;
  rec.fur_repeats = fur.repeats;
  rec.k = mv.k;
  rec.top = mv.top;
  rec.bottom = mv.bottom;
  rec.moved_top = mv.moved_top;
  rec.moved_bottom = mv.moved_bottom;
  if (cfg_.search.gate) rec.gate_z = cfg_.search.gate_z;
  rec.adjusted_channels = adj.adjusted;
  rec.adjusted_flops = spec_flops(session_.spec(adj.adjusted));
  rec.scale = adj.scale;
  rec.next_channels = adj.channels;
  rec.next_flops = spec_flops(next);
  rec.next_params = spec_params(next);
  rec.budget_target = b0_;
  rec.budget_error = adj.rescaled.rel_error;
  return rec;
}

// Iteration t starts from iteration t-1's trained weights (its model.pt, so a resumed search maps the
// same weights) mapped onto its own widths.
void SearchLoop::warm_start(int t, GraphNet& net) const {
  ModelOptions m;
  GraphNet prev = load_model(path("iter_" + std::to_string(t - 1) + "/model.pt"), m);
  WarmMapOptions o{cfg_.search.warm_importance, cfg_.search.warm_noise, derive_seed(seed_, "warm", t)};
  warm_transfer(prev, net, o);
  logger()->info("iteration {}: warm start from iteration {} ({} epochs)", t, t - 1, epochs_of(t));
}

// The first iteration (and every one without warm start) trains the full schedule; warm-started ones
// search.warm_epochs (default: 30% of it, rounded up); a pretrained start search.init_epochs (default none).
int SearchLoop::epochs_of(int t) const {
  const int full = doc_.epochs_per_iteration;
  if (pretrained(t)) return cfg_.search.init_epochs;
  if (!cfg_.search.warm_start || t == 0) return full;
  return cfg_.search.warm_epochs > 0 ? cfg_.search.warm_epochs : std::max(1, (3 * full + 9) / 10);
}

// A search training: `epochs` on the train split, validated on val, into the run's metrics, with its checkpoint
// and TensorBoard events in `folder` (none when "").
TrainPlan SearchLoop::search_plan(uint64_t seed, int epochs, const std::string& folder, const std::string& label,
                                  bool test_at_end) const {
  TrainPlan plan;
  plan.epochs = epochs;
  plan.train_split = Split::kTrain;
  plan.eval_split = Split::kVal;
  plan.test_at_end = test_at_end;
  plan.seed = seed;
  if (!folder.empty()) {
    plan.checkpoint = path(folder + "/checkpoint.pt");
    if (dir_.writes()) plan.events_dir = path(folder);
  }
  plan.metrics_file = path("metrics.jsonl");
  plan.label = label;
  plan.world = &session_.world();
  return plan;
}

TrainResult SearchLoop::train(int t, GraphNet& net, int epochs) {
  return trainer_.run(net, search_plan(derive_seed(seed_, "train", t), epochs, "iter_" + std::to_string(t),
                                       "iter " + std::to_string(t), true));
}

// search.init = pretrained: iteration 0 is model.weights, fine-tuned for search.init_epochs or, by default, taken
// as it is (evaluated, nothing trained) before its FUR.
TrainResult SearchLoop::start_pretrained(GraphNet& net) {
  load_pretrained(cfg_.model, net);
  const int epochs = epochs_of(0);
  logger()->info("iteration 0: starting from the weights in {}{}", cfg_.model.weights,
                 epochs > 0 ? fmt::format(", fine-tuned for {} epochs", epochs) : ", not trained");
  if (epochs > 0) return train(0, net, epochs);
  return trainer_.evaluate_as_is(net, search_plan(derive_seed(seed_, "train", 0), 0, "", "iter 0", true));
}

// FUR progress is saved per layer, so a resumed search measures only the layers still missing.
FurResult SearchLoop::measure_fur(int t, GraphNet& net, const std::string& iter) {
  auto val = session_.eval_loader(Split::kVal);
  const std::string partial_file = path(iter + "/fur_partial.json");
  FurProgress progress;
  if (file_exists(partial_file)) {
    progress = read_record_as<FurProgress>(partial_file);
    for (const auto& entry : progress.layers)
      if (size_t(entry.first) >= c_.size())
        throw_malformed_record(partial_file, "layer " + std::to_string(entry.first) + " of " +
                                                 std::to_string(c_.size()) + " searchable layers");
  }
  std::optional<FurRefine> refine;
  if (cfg_.fur.max_repeats > cfg_.fur.repeats)
    refine = FurRefine{update_count(cfg_.search, t, int(c_.size())), cfg_.search.gate_z, cfg_.fur.max_repeats};
  // fur.equalize = budget: the drops remove the same expected amount of the budget's resource (FLOPs: the
  // paper's rule, spec_dflops inside estimate_fur).
  const bool by_budget = cfg_.fur.equalize == FurEqualize::kBudget && !budget_->counts_flops();
  FurResult fur = estimate_fur(
      net, *val, cfg_.fur, session_.device(), session_.amp(), derive_seed(seed_, "fur-iter", t), progress,
      [&](const FurProgress& p) { dir_.write_record(iter + "/fur_partial.json", p); }, refine, session_.world(),
      by_budget ? budget_->slope(c_) : std::vector<double>{});
  dir_.write_record(iter + "/fur.json", fur_record(fur, net->spec()));
  return fur;
}

void SearchLoop::save_iteration(const IterationRecord& rec, const IterationTimes& times, GraphNet& net,
                                const std::string& iter) {
  doc_.iterations.push_back(rec);
  note_accuracy(rec.iteration, rec.val.top1);
  const IterationRecord& best = doc_.iterations[size_t(best_t_)];
  doc_.best = BestRecord{best_t_, best.channels, best.val.top1, best.flops, "argmax"};
  times_.iterations.push_back(times);
  // Order matters for resume: the model and best channels first, the record that marks the iteration
  // done last.
  if (dir_.writes()) save_model(net, cfg_.model, path(iter + "/model.pt"), session_.data().normalization());
  dir_.write_json("best_channels.json", channel_file_json(cfg_.model, best.channels));
  dir_.write_record("times.json", times_);
  dir_.write_record("search.json", doc_);
}

// The search's time so far (its iterations' times: a stop does not count) and what is left after iteration
// rec.iteration, into the record and the log.
void SearchLoop::note_time(IterationRecord& rec, const IterationTimes& now) const {
  std::vector<IterationCost> costs;
  double elapsed = 0;
  auto add = [&](const IterationTimes& x, int epochs) {
    costs.push_back({epochs, x.train_seconds, x.seconds.value_or(x.train_seconds + x.fur_seconds), x.resumed});
    elapsed += costs.back().total_s;
  };
  for (size_t i = 0; i < times_.iterations.size() && i < doc_.iterations.size(); ++i)
    add(times_.iterations[i], doc_.iterations[i].epochs.value_or(epochs_of(int(i))));
  add(now, rec.epochs.value_or(epochs_of(rec.iteration)));
  rec.elapsed_s = elapsed;
  const SearchWork left = work_after(rec);
  rec.eta_s = search_eta(costs, left);
  if (!rec.eta_s) return;
  const size_t n = left.epochs.size();
  logger()->info("iteration {}: {} elapsed, about {} left ({} more iteration{}{})", rec.iteration,
                 human_duration(elapsed), human_duration(*rec.eta_s), n, n == 1 ? "" : "s",
                 left.select_trainings > 0 ? fmt::format(", {} re-trainings to select", left.select_trainings) : "");
}

// What runs after the iteration `rec` records: the later iterations' epochs (none when this one ends the
// search: no gated move, or search.patience used up), and the selection's re-trainings (the original and up to
// select_top others, select_seeds each).
SearchWork SearchLoop::work_after(const IterationRecord& rec) const {
  const bool converges = cfg_.search.gate && rec.moved_top.empty() && rec.moved_bottom.empty();
  const int since_best = rec.val.top1 > best_acc_ ? 0 : since_best_ + 1;
  const bool patience = cfg_.search.patience > 0 && since_best >= cfg_.search.patience;
  const bool retrain = cfg_.search.select == SelectMode::kRetrain;
  const int candidates = 1 + std::min(cfg_.search.select_top, cfg_.search.iterations - 1);
  return netadj::work_after(
      rec.iteration, cfg_.search.iterations, converges || patience, [&](int u) { return epochs_of(u); },
      retrain ? candidates * cfg_.search.select_seeds : 0, doc_.epochs_per_iteration);
}

int SearchLoop::finish(const std::string& why) {
  if (doc_.stopped.empty()) {
    doc_.stopped = why;
    doc_.stopped_early = why == "patience";
    dir_.write_record("search.json", doc_);
  }
  if (cfg_.search.select == SelectMode::kRetrain) select_by_retraining();
  doc_.done = true;
  dir_.write_record("search.json", doc_);
  const BestRecord& best = *doc_.best;
  logger()->info("search done ({}): best iteration {} (val top1 {:.2f}%{}), channels {} -> {}", doc_.stopped,
                 best.iteration, 100 * best.val_top1, best.selected_by == "retrain" ? ", mean of re-trainings" : "",
                 vec_str(best.channels), path("best_channels.json"));
  return best.iteration;
}

// search.select = retrain: the original and the select_top best distinct vectors (by single-seed
// validation accuracy) are re-trained with select_seeds seeds each; the best mean wins. Every training is
// recorded as it finishes, so a resumed search re-trains only what is missing.
void SearchLoop::select_by_retraining() {
  if (!doc_.selection) {
    SelectionRecord sel;
    sel.seeds = cfg_.search.select_seeds;
    std::vector<const IterationRecord*> order;
    for (const auto& it : doc_.iterations) order.push_back(&it);
    std::stable_sort(order.begin(), order.end(),
                     [](const IterationRecord* a, const IterationRecord* b) { return a->val.top1 > b->val.top1; });
    sel.candidates.push_back(SelectCandidate{0, doc_.init_channels, {}, std::nullopt});
    for (const IterationRecord* it : order) {
      if (int(sel.candidates.size()) > cfg_.search.select_top) break;
      bool seen = std::any_of(sel.candidates.begin(), sel.candidates.end(),
                              [&](const SelectCandidate& c) { return c.channels == it->channels; });
      if (!seen) sel.candidates.push_back(SelectCandidate{it->iteration, it->channels, {}, std::nullopt});
    }
    doc_.selection = sel;
    dir_.write_record("search.json", doc_);
  }
  SelectionRecord& sel = *doc_.selection;
  if (sel.seeds < 1 || sel.candidates.empty() ||
      std::any_of(sel.candidates.begin(), sel.candidates.end(),
                  [&](const SelectCandidate& c) { return int(c.val_top1.size()) > sel.seeds; }))
    throw_malformed_record(path("search.json"), "selection: no seeds, no candidates or more results than seeds");
  for (size_t i = 0; i < sel.candidates.size(); ++i) {
    SelectCandidate& cand = sel.candidates[i];
    for (int seed = int(cand.val_top1.size()) + 1; seed <= sel.seeds; ++seed) {
      dist::throw_if_interrupted(session_.world(), "search");
      const std::string checkpoint = fmt::format("select/c{}_s{}/checkpoint.pt", i, seed);
      cand.val_top1.push_back(retrain(cand.channels, int(i), seed));
      if (int(cand.val_top1.size()) == sel.seeds)
        cand.mean = std::accumulate(cand.val_top1.begin(), cand.val_top1.end(), 0.0) / sel.seeds;
      dir_.write_record("search.json", doc_);
      // Recorded: the training's checkpoints are no longer needed.
      dir_.remove(previous_checkpoint(checkpoint));
      dir_.remove(checkpoint);
    }
    if (!cand.mean) cand.mean = std::accumulate(cand.val_top1.begin(), cand.val_top1.end(), 0.0) / sel.seeds;
    logger()->info("select: candidate {} (iteration {}) mean val top1 {:.2f}% over {} seeds", i, cand.iteration,
                   100 * *cand.mean, sel.seeds);
  }
  size_t chosen = 0;
  for (size_t i = 1; i < sel.candidates.size(); ++i)
    if (*sel.candidates[i].mean > *sel.candidates[chosen].mean) chosen = i;
  sel.chosen = int(chosen);
  const SelectCandidate& win = sel.candidates[chosen];
  doc_.best = BestRecord{win.iteration, win.channels, *win.mean, spec_flops(session_.spec(win.channels)), "retrain"};
  dir_.write_json("best_channels.json", channel_file_json(cfg_.model, win.channels));
}

// One re-training of the selection in select/c<candidate>_s<seed>/, resumable from its checkpoint (which
// the caller removes once the result is recorded).
double SearchLoop::retrain(const std::vector<int64_t>& channels, int candidate, int seed) {
  const std::string rdir = fmt::format("select/c{}_s{}", candidate, seed);
  dir_.make_dirs(rdir);
  logger()->info("select: re-training candidate {} {} with seed {} of {}", candidate, vec_str(channels), seed,
                 cfg_.search.select_seeds);
  torch::manual_seed(derive_seed(seed_, "select-init", seed));
  GraphNet net(session_.spec(channels));
  TrainPlan plan = search_plan(derive_seed(seed_, "select-train", seed), doc_.epochs_per_iteration, rdir,
                               fmt::format("select c{} s{}", candidate, seed), false);
  return trainer_.run(net, plan).final_eval.top1;
}

}  // namespace

int run_search(const RunSession& session, const RunDir& dir, bool resume) {
  return SearchLoop(session, dir, resume).run();
}

}  // namespace netadj
