// netadj compare: parses the comparison's arguments and prints its table; the comparison itself is
// pipeline/compare.h.
#include <fmt/format.h>

#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/pipeline/compare.h"
#include "netadj/run/session.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace netadj::cli {
namespace {
using nlohmann::json;

struct CompareArgs {
  ConfigArgs config;
  std::vector<std::string> channels;  ///< [NAME=]FILE
  int seeds = 3;
  std::string controls = "uniform,random";
  std::string out, resume;
  int nproc = 1;
  bool run_options_given = false;  ///< --seeds, --controls or --out on the command line
};

ComparePlan new_plan(const CompareArgs& a) {
  if (a.config.config.empty() && a.config.sets.empty())
    throw ConfigError("give --config FILE.json (and/or --set key=value)");
  if (a.seeds < 1 || a.seeds > 100) throw ConfigError("--seeds " + std::to_string(a.seeds) + ": must be in 1..100");
  ComparePlan p;
  p.config = load_config(a.config);
  for (const std::string& arg : a.channels) p.candidates.push_back(parse_candidate(arg));
  p.controls = parse_controls(a.controls);
  p.seeds = a.seeds;
  p.out = a.out;
  return p;
}

// The entries' statistics as compare.json holds them (written with them).
void print_table(const Comparison& c) {
  std::cout << fmt::format("{:<16} {:<10} {:>12} {:>10} {:>18} {:>9} {:>20} {:>7}\n", "entry", "kind", "FLOPs",
                           "latency", "test top1 (%)", "diff", "95% CI", "p");
  auto pct = [](std::optional<double> v) { return v ? fmt::format("{:.2f}", 100 * *v) : std::string("-"); };
  for (const CompareEntry& e : c.record.entries) {
    std::string acc = pct(e.mean) + " +- " + pct(e.sd);
    std::string ci = e.ci95 ? "[" + pct((*e.ci95)[0]) + ", " + pct((*e.ci95)[1]) + "]" : "-";
    std::string p = e.p ? fmt::format("{:.3f}", *e.p) : "-";
    std::cout << fmt::format("{:<16} {:<10} {:>12} {:>8.2f}ms {:>18} {:>9} {:>20} {:>7}\n", e.name, e.kind, e.flops,
                             e.latency_ms, acc, pct(e.diff), ci, p);
  }
}

// compare trains its runs one after another in one process: a job of several ranks is refused before
// anything is joined or written.
void refuse_ranks(int nproc) {
  const int ranks = started_ranks();
  if (nproc <= 1 && ranks <= 1) return;
  throw ConfigError((nproc > 1 ? "--nproc " + std::to_string(nproc) : "WORLD_SIZE=" + std::to_string(ranks)) +
                    ": compare trains its runs one after another and does not run data-parallel; start it as one "
                    "process (train and search take --nproc)");
}

int run_compare(const CompareArgs& a) {
  refuse_ranks(a.nproc);
  if (!a.resume.empty() &&
      (!a.config.config.empty() || !a.config.sets.empty() || !a.channels.empty() || a.run_options_given))
    throw ConfigError("--resume takes the comparison from " + a.resume +
                      "; drop --config/--set/--channels/--seeds/--controls/--out");
  // Everything is checked before the directory exists.
  auto run = a.resume.empty() ? CompareRun::start(new_plan(a)) : CompareRun::resume(a.resume);
  add_log_file(run->dir() + "/log.txt");
  logger()->info("comparison directory: {}", run->dir());
  return resumable("compare", run->dir(), [&] {
    print_table(run->run());
    std::cout << run->dir() << "/compare.json\n";
    return 0;
  });
}

}  // namespace

Command compare_command() {
  return {"compare", "train the original, candidate vectors and controls with several seeds; Welch tests",
          [](CLI::App& app) -> Run {
            auto a = std::make_shared<CompareArgs>();
            add_config_options(app, a->config);
            app.add_option("--channels", a->channels, "candidate channel files, [NAME=]FILE (repeatable)")->take_all();
            auto* seeds = app.add_option("--seeds", a->seeds, "seeds 1..S per entry (default 3)");
            auto* controls =
                app.add_option("--controls", a->controls,
                               "controls: uniform, random, random:N, none (comma-separated; default uniform,random)");
            auto* out =
                app.add_option("--out,-o", a->out, "comparison directory (default runs/<name>-compare-<timestamp>)");
            app.add_option("--resume", a->resume, "continue the interrupted comparison in this directory");
            app.add_option("--nproc", a->nproc, "refused above 1: compare does not run data-parallel");
            return [a, seeds, controls, out] {
              a->run_options_given = seeds->count() + controls->count() + out->count() > 0;
              return run_compare(*a);
            };
          }};
}

}  // namespace netadj::cli
