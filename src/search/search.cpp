// The search loop (Algorithm 1): train, measure FUR, adjust and rescale, record; resumable at any point
// because every step's result lands in the run directory before the next step starts.
#include "netadj/search/search.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>

#include "netadj/arch/table.h"
#include "netadj/train/checkpoint.h"
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

class SearchLoop {
 public:
  SearchLoop(const RunSession& session, std::string run_dir, bool resume);
  int run();

 private:
  void start_or_load(bool resume);
  void check_split() const;
  void replay_records();
  void run_iteration(int t);
  TrainResult train(int t, GraphNet& net, const std::string& idir, const std::string& checkpoint);
  FurResult measure_fur(int t, GraphNet& net, const std::string& idir);
  void note_accuracy(int t, double top1);
  void save_iteration(const IterationRecord& rec, const IterationTimes& times, GraphNet& net, const std::string& idir);
  int finish(bool stopped_early);
  std::string path(const std::string& file) const { return dir_ + "/" + file; }

  const RunSession& session_;
  const Config& cfg_;
  const std::string dir_;
  const ArchSpec spec0_;
  const int64_t f0_;
  const FlopsFn flops_;
  const uint64_t seed_;
  SearchRecord doc_;
  TimesRecord times_;
  std::vector<int64_t> c_;
  double best_acc_ = -1;
  int best_t_ = -1, since_best_ = 0;
  Trainer trainer_;
};

SearchLoop::SearchLoop(const RunSession& session, std::string run_dir, bool resume)
    : session_(session),
      cfg_(session.config()),
      dir_(std::move(run_dir)),
      spec0_(session.spec()),
      f0_(spec_flops(spec0_)),
      flops_([&s = session_](const std::vector<int64_t>& c) { return spec_flops(s.spec(c)); }),
      seed_(static_cast<uint64_t>(cfg_.runtime.seed)),
      c_(spec0_.channels),
      trainer_(cfg_, session.data(), session.device()) {
  logger()->info("device: {}", session.device().str());
  check_split();
  start_or_load(resume);
}

// The split is part of the run: recorded once, checked on resume.
void SearchLoop::check_split() const {
  const std::string split_file = path("split.json");
  if (file_exists(split_file))
    session_.data().check_split(read_record(split_file), split_file);
  else
    write_record(split_file, session_.data().split_json());
}

void SearchLoop::start_or_load(bool resume) {
  if (resume && file_exists(path("search.json"))) {
    doc_ = read_record_as<SearchRecord>(path("search.json"));
    if (file_exists(path("times.json"))) times_ = read_record_as<TimesRecord>(path("times.json"));
    replay_records();
    return;
  }
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
    logger()->info("search in {} is already complete", dir_);
    return doc_.best ? doc_.best->iteration : 0;
  }
  const int start = static_cast<int>(doc_.iterations.size());
  if (start > 0) logger()->info("resuming search at iteration {} of {}", start, cfg_.search.iterations);
  for (int t = start; t < cfg_.search.iterations; ++t) {
    if (cfg_.search.patience > 0 && since_best_ >= cfg_.search.patience) {
      logger()->info("no improvement for {} iterations: stopping early", since_best_);
      return finish(/*stopped_early=*/true);
    }
    throw_if_interrupted("search");
    run_iteration(t);
  }
  return finish(/*stopped_early=*/false);
}

void SearchLoop::run_iteration(int t) {
  const std::string idir = path("iter_" + std::to_string(t));
  make_dirs(idir);
  ArchSpec spec = session_.spec(c_);
  logger()->info("iteration {}/{}: channels {} FLOPs {} ({}), params {}", t, cfg_.search.iterations, vec_str(c_),
                 spec_flops(spec), human_count(double(spec_flops(spec))), human_count(double(spec_params(spec))));
  torch::manual_seed(derive_seed(seed_, "init", t));
  GraphNet net(spec);
  const std::string checkpoint = idir + "/checkpoint.pt";
  auto t0 = Clock::now();
  TrainResult tr = train(t, net, idir, checkpoint);
  IterationTimes times{t, seconds_since(t0), 0.0, tr.resumed};
  auto t1 = Clock::now();
  FurResult fur = measure_fur(t, net, idir);
  times.fur_seconds = seconds_since(t1);
  Adjustment adj = adjust_channels(c_, spec0_.channels, fur.fur, t, cfg_.search, flops_, f0_);
  logger()->info("iteration {}: val top1 {:.2f}% | FUR range [{:.4g}, {:.4g}] | k={} widened {} narrowed {}", t,
                 100 * tr.final_eval.top1, *std::min_element(fur.fur.begin(), fur.fur.end()),
                 *std::max_element(fur.fur.begin(), fur.fur.end()), adj.k, fmt::join(adj.top, ","),
                 fmt::join(adj.bottom, ","));
  logger()->info("iteration {}: FLOPs after adjustment {} -> after scaling (s={:.4f}) {} (target {})", t,
                 adj.flops_adjusted, adj.scale, adj.flops, f0_);
  IterationRecord rec{
      t,          c_,           spec_flops(spec),   spec_params(spec), tr.final_eval, tr.test,  fur.base,
      fur.fur,    fur.stderr_,  fur.plan.p,         fur.plan.clamped,  fur.rank,      adj.k,    adj.top,
      adj.bottom, adj.adjusted, adj.flops_adjusted, adj.scale,         adj.channels,  adj.flops};
  save_iteration(rec, times, net, idir);
  // The iteration is recorded: its training checkpoint is no longer needed.
  remove_file(previous_checkpoint(checkpoint));
  remove_file(checkpoint);
  c_ = adj.channels;
}

TrainResult SearchLoop::train(int t, GraphNet& net, const std::string& idir, const std::string& checkpoint) {
  TrainPlan plan;
  plan.epochs = doc_.epochs_per_iteration;
  plan.train_split = Split::kTrain;
  plan.eval_split = Split::kVal;
  plan.test_at_end = true;
  plan.seed = derive_seed(seed_, "train", t);
  plan.checkpoint = checkpoint;
  plan.metrics_file = path("metrics.jsonl");
  plan.label = "iter " + std::to_string(t);
  return trainer_.run(net, plan);
}

// FUR progress is saved per layer, so a resumed search measures only the layers still missing.
FurResult SearchLoop::measure_fur(int t, GraphNet& net, const std::string& idir) {
  auto val = session_.eval_loader(Split::kVal);
  const std::string partial_file = idir + "/fur_partial.json";
  json partial = file_exists(partial_file) ? read_json(partial_file) : json();
  FurResult fur =
      estimate_fur(net, *val, cfg_.fur, session_.device(), session_.amp(), derive_seed(seed_, "fur-iter", t), partial,
                   [&](const json& p) { write_json_atomic(partial_file, p); });
  write_record(idir + "/fur.json", fur_record(fur, net->spec()));
  return fur;
}

void SearchLoop::save_iteration(const IterationRecord& rec, const IterationTimes& times, GraphNet& net,
                                const std::string& idir) {
  doc_.iterations.push_back(rec);
  note_accuracy(rec.iteration, rec.val.top1);
  const IterationRecord& best = doc_.iterations[size_t(best_t_)];
  doc_.best = BestRecord{best_t_, best.channels, best.val.top1, best.flops};
  times_.iterations.push_back(times);
  // Order matters for resume: the model and best channels first, the record that marks the iteration
  // done last.
  save_model(net, cfg_.model, idir + "/model.pt");
  write_json_atomic(path("best_channels.json"), channel_file_json(cfg_.model, best.channels));
  write_record(path("times.json"), times_);
  write_record(path("search.json"), doc_);
}

int SearchLoop::finish(bool stopped_early) {
  doc_.done = true;
  doc_.stopped_early = stopped_early;
  write_record(path("search.json"), doc_);
  const BestRecord& best = *doc_.best;
  logger()->info("search done: best iteration {} (val top1 {:.2f}%), channels {} -> {}", best.iteration,
                 100 * best.val_top1, vec_str(best.channels), path("best_channels.json"));
  return best.iteration;
}

}  // namespace

int run_search(const RunSession& session, const std::string& run_dir, bool resume) {
  return SearchLoop(session, run_dir, resume).run();
}

}  // namespace netadj
