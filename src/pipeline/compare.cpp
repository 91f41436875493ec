// netadj compare as a run: the original channel vector, candidate vectors and controls (uniform, random) at
// the same budget, each trained with the config's full schedule for seeds 1..S, then every entry against the
// original (difference of mean test accuracy, Welch 95% interval, p). Each (entry, seed) training is its own
// run directory under DIR/runs/, so a killed comparison resumes and skips what finished.
#include "netadj/pipeline/compare.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>

#include "netadj/backends/timing.h"
#include "netadj/bench/bench.h"
#include "netadj/nets/table.h"
#include "netadj/pipeline/runs.h"
#include "netadj/search/search.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;

std::vector<std::pair<std::string, int>> parse_controls(const std::string& text) {
  std::vector<std::pair<std::string, int>> out;
  size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    size_t end = text.find(',', pos);
    std::string item = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (item == "uniform") {
      out.emplace_back("uniform", 1);
    } else if (item == "random") {
      out.emplace_back("random", 1);
    } else if (item.rfind("random:", 0) == 0) {
      std::string n = item.substr(7);
      auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
      if (n.empty() || n.size() > 3 || !std::all_of(n.begin(), n.end(), digit) || std::stoi(n) < 1 ||
          std::stoi(n) > 100)
        throw ConfigError("--controls: '" + item + "': random:N needs N in 1..100");
      out.emplace_back("random", std::stoi(n));
    } else if (!item.empty() && item != "none") {
      throw ConfigError("--controls: unknown control '" + item + "' (expected uniform, random, random:N or none)");
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

std::pair<std::string, std::string> parse_candidate(const std::string& arg) {
  std::string name, file = arg;
  const size_t eq = arg.find('=');
  if (eq != std::string::npos && !file_exists(arg)) {
    name = arg.substr(0, eq);
    file = arg.substr(eq + 1);
  } else {
    name = std::filesystem::path(arg).stem().string();
  }
  if (!valid_entry_name(name))
    throw ConfigError("--channels " + arg + ": entry name '" + name + "' must be letters, digits, '.', '_' or '-'");
  return {name, file};
}

namespace {

CompareEntry make_entry(std::string name, std::string kind, std::optional<std::string> source,
                        std::vector<int64_t> channels) {
  CompareEntry e;
  e.name = std::move(name);
  e.kind = std::move(kind);
  e.source = std::move(source);
  e.channels = std::move(channels);
  return e;
}

// The entries of a new comparison: the original, each candidate, each control; entries with equal
// channels share their runs.
std::vector<CompareEntry> plan_entries(const Config& cfg, int res, const ComparePlan& p, const CostFn& cost) {
  const ArchSpec spec0 = build_spec(cfg.model, res);
  const std::vector<int64_t> c0 = spec0.channels;
  const ChannelGrid grid = channel_grid(cfg.search, spec0);
  const int64_t target = cost(c0);
  std::vector<CompareEntry> entries;
  entries.push_back(make_entry("original", "original", std::nullopt, c0));
  for (const auto& [name, file] : p.candidates) {
    entries.push_back(make_entry(name, "candidate", file, read_channel_vector(file, cfg.model, res)));
  }
  int r = 0;
  for (const auto& [kind, n] : p.controls)
    for (int i = 0; i < n; ++i) {
      std::string name = n > 1 ? kind + std::to_string(i + 1) : kind;
      std::vector<int64_t> c =
          kind == "uniform"
              ? uniform_control(c0, cost, target, cfg.search, grid)
              : random_control(c0, cost, target, cfg.search, derive_seed(uint64_t(cfg.runtime.seed), "random", r++),
                               kRandomControlSigma, grid);
      entries.push_back(make_entry(name, kind, std::nullopt, c));
    }
  for (size_t i = 0; i < entries.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (entries[i].name == entries[j].name)
        throw ConfigError("compare: two entries are named '" + entries[i].name +
                          "' (give a control once; name candidates with --channels NAME=FILE)");
  for (auto& e : entries) {
    ArchSpec spec = build_spec(cfg.model, res, e.channels);
    e.flops = spec_flops(spec);
    e.params = spec_params(spec);
  }
  return entries;
}

// Run directories: runs/<name>_s<seed>, where <name> is the first entry with the same channels.
void assign_runs(std::vector<CompareEntry>& entries, int seeds) {
  for (size_t i = 0; i < entries.size(); ++i) {
    size_t owner = i;
    for (size_t j = 0; j < i && owner == i; ++j)
      if (entries[j].channels == entries[i].channels) owner = j;
    entries[i].runs.clear();
    for (int s = 1; s <= seeds; ++s) entries[i].runs.push_back(fmt::format("runs/{}_s{}", entries[owner].name, s));
  }
}

std::string compare_file(const Comparison& c) { return c.dir + "/compare.json"; }

// compare.json with its statistics derived from the accuracies.
void write_comparison(Comparison& c, const RunDir& dir) {
  CompareRecord& r = c.record;
  for (size_t i = 0; i < r.entries.size(); ++i) {
    CompareEntry& e = r.entries[i];
    set_statistics(e, i == 0 ? nullptr : &r.entries.front().test_top1);
  }
  dir.write_record("compare.json", r);
}

// Test top-1 of a finished run, or nullopt. A run is finished with its export (export.enabled): a run stopped
// between its result and its export's model card trains nothing again, but exports.
std::optional<double> run_result(const std::string& run_dir, const Config& cfg) {
  const std::string f = run_dir + "/result.json";
  if (!file_exists(f)) return std::nullopt;
  if (cfg.exporting.enabled && !file_exists(run_dir + "/export/model.json")) return std::nullopt;
  TrainRecord r = read_record_as<TrainRecord>(f);
  if (!r.test) throw DataError(f + ": no test result");
  return r.test->top1;
}

double train_entry(const Comparison& c, const RunDir& dir, const CompareEntry& e, int seed, const RunSession& base) {
  const RunDir run = dir.sub(e.runs[size_t(seed - 1)]);
  const std::string& rd = run.path();
  if (auto done = run_result(rd, c.cfg)) return *done;
  Config rc;
  if (file_exists(rd + "/config.json")) {
    rc = netadj::load_config(rd + "/config.json", {});
    logger()->info("compare: resuming {} seed {} in {}", e.name, seed, rd);
  } else {
    rc = c.cfg;
    rc.model.channels = e.channels;
    rc.runtime.seed = seed;
    rc.runtime.name = fmt::format("{}_s{}", e.name, seed);
    dir.make_dirs(e.runs[size_t(seed - 1)]);
    run.write_json("config.json", config_to_json(rc));
    logger()->info("compare: training {} [{}] with seed {} of {}", e.name, fmt::join(e.channels, ","), seed, c.seeds());
  }
  RunSession session(rc, base.shared_world());
  TrainRecord rec = train_run(session, run);
  return rec.test->top1;
}

// The comparison in `dir`, with compare.json's range checks (exit 3 when damaged).
Comparison load_comparison(const std::string& dir) {
  Comparison c;
  c.dir = dir;
  if (!file_exists(c.dir + "/config.json") || !file_exists(c.dir + "/compare.json"))
    throw ConfigError(c.dir + ": not a comparison directory (no config.json and compare.json)");
  c.cfg = netadj::load_config(c.dir + "/config.json", {});
  c.record = read_record_as<CompareRecord>(compare_file(c));
  return c;
}

}  // namespace

CompareRun::CompareRun(Comparison c) : c_(std::move(c)), base_(c_.cfg) {}

std::unique_ptr<CompareRun> CompareRun::start(const ComparePlan& p) {
  Comparison c;
  c.cfg = p.config;
  if (!c.cfg.model.weights.empty()) {  // every entry trains from scratch: a pretrained original is not favoured
    logger()->info("compare trains every entry from scratch: model.weights ({}) is not used", c.cfg.model.weights);
    c.cfg.model.weights.clear();
    c.cfg.search.init = SearchInit::kScratch;
    c.cfg.search.init_epochs = 0;
  }
  std::unique_ptr<CompareRun> r(new CompareRun(std::move(c)));  // the dataset, device and model checked
  Comparison& cc = r->c_;
  CompareRecord& rec = cc.record;
  const int res = r->base_.resolution();  // the resolution the runs train at
  rec.arch = cc.cfg.model.arch;
  rec.dataset = cc.cfg.data.dataset;
  const auto budget = config_budget(cc.cfg.model, res, cc.cfg.search);
  const CostFn cost = BudgetCost::cost_fn(budget);
  rec.budget = budget->name();
  rec.epochs = cc.cfg.train.epochs;
  for (int s = 1; s <= p.seeds; ++s) rec.seeds.push_back(s);
  rec.entries = plan_entries(cc.cfg, res, p, cost);
  rec.budget_target = cost(rec.entries.front().channels);
  for (CompareEntry& e : rec.entries)
    e.budget_error = (double(cost(e.channels)) - double(rec.budget_target)) / double(rec.budget_target);
  assign_runs(rec.entries, p.seeds);
  // compare.json first: a directory with config.json always has the plan to resume.
  r->dir_ = RunDir::create(r->base_, p.out, "-compare", [&](const RunDir& d) {
    cc.dir = d.path();
    write_comparison(cc, d);
    d.write_json("config.json", config_to_json(cc.cfg));
  });
  cc.dir = r->dir_->path();
  return r;
}

std::unique_ptr<CompareRun> CompareRun::resume(const std::string& dir) {
  std::unique_ptr<CompareRun> r(new CompareRun(load_comparison(dir)));
  r->dir_ = RunDir::resume(r->base_, dir);
  return r;
}

const Comparison& CompareRun::run() {
  // Accuracies come from the run directories (the truth on a resume), latency from this machine.
  CompareRecord& rec = c_.record;
  if (rec.device.empty()) rec.device = base_.device().str();
  for (auto& e : rec.entries) {
    e.test_top1.clear();
    for (int s = 1; s <= c_.seeds(); ++s) {
      auto r = run_result(c_.dir + "/" + e.runs[size_t(s - 1)], c_.cfg);
      if (!r) break;
      e.test_top1.push_back(*r);
    }
    // Measured once per distinct vector, on the device that trains (a resume elsewhere keeps the first
    // numbers); entries with the same channels share the number, as they share their runs.
    if (e.latency_ms > 0) continue;
    for (const auto& other : rec.entries)
      if (other.channels == e.channels && other.latency_ms > 0) e.latency_ms = other.latency_ms;
    if (e.latency_ms <= 0) e.latency_ms = measure_latency(base_.spec(e.channels), base_.device(), 1, 5, 30).median_ms;
  }
  write_comparison(c_, *dir_);
  // Seed by seed, so that an interrupted comparison has every entry at about the same number of seeds.
  for (int s = 1; s <= c_.seeds(); ++s)
    for (auto& e : rec.entries) {
      if (int(e.test_top1.size()) >= s) continue;
      dist::throw_if_interrupted(base_.world(), "compare");
      e.test_top1.push_back(train_entry(c_, *dir_, e, s, base_));
      for (auto& other : rec.entries)  // entries that share this run
        if (&other != &e && other.runs == e.runs && int(other.test_top1.size()) == s - 1)
          other.test_top1.push_back(e.test_top1.back());
      write_comparison(c_, *dir_);
    }
  rec.done = true;
  write_comparison(c_, *dir_);
  return c_;
}

}  // namespace netadj
