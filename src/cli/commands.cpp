// The command table and what commands share: loading the config (by path or shipped name) and channel
// files.
#include "netadj/cli/command.h"

#include <filesystem>

#include "netadj/distributed/distributed.h"
#include "netadj/nets/table.h"
#include "netadj/run/run_dir.h"
#include "netadj/run/session.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"
#include "netadj/util/paths.h"

namespace netadj::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {config_command(), search_command(), train_command(),  compare_command(),
                                             fur_command(),    flops_command(),  adjust_command(), export_command(),
                                             bench_command(),  report_command(), import_command()};
  return table;
}

namespace {
// The option group that marks a launching --nproc (compare has its own --nproc, which it refuses above 1).
constexpr const char* kLaunchGroup = "Data parallel";
}  // namespace

void add_nproc_option(CLI::App& app) {
  app.add_option("--nproc", "data-parallel processes on this machine (Gloo on the CPU, NCCL on CUDA)")
      ->check(CLI::Range(1, 1024))
      ->group(kLaunchGroup);
}

int requested_nproc(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    const CLI::Option* opt = sub->get_option_no_throw("--nproc");
    if (opt && opt->get_group() == kLaunchGroup && opt->count() > 0) return opt->as<int>();
    if (int n = requested_nproc(*sub); n > 1) return n;
  }
  return 1;
}

void add_config_options(CLI::App& app, ConfigArgs& args) {
  app.add_option("--config,-c", args.config,
                 "config file (JSON), or the name of a shipped config (netadj config --list)");
  app.add_option("--set,-s", args.sets, "override a config value: key.path=value (repeatable)")->take_all();
}

std::string shipped_config_dir() { return find_share_file("configs"); }

std::string resolve_config_path(const std::string& name) {
  if (name.empty() || file_exists(name) || name.find('/') != std::string::npos) return name;
  std::string dir = shipped_config_dir();
  if (dir.empty()) return name;
  for (const std::string& candidate : {dir + "/" + name, dir + "/" + name + ".json"})
    if (file_exists(candidate) && !std::filesystem::is_directory(candidate)) return candidate;
  return name;
}

Config load_config(const ConfigArgs& args) { return netadj::load_config(resolve_config_path(args.config), args.sets); }

ModelOptions model_with_channels(const Config& cfg, const std::string& channel_file) {
  ModelOptions m = cfg.model;
  const int res = resolve_resolution(m, nominal_resolution(cfg.data));
  if (channel_file.empty())
    build_spec(m, res);  // the config's own vector and depth
  else
    m.channels = read_channel_vector(channel_file, m, res);
  return m;
}

void add_run_options(CLI::App& app, RunArgs& args, const char* what) {
  add_config_options(app, args.config);
  app.add_option("--out,-o", args.out, "run directory (default runs/<name>-<timestamp>)");
  app.add_option("--resume", args.resume, std::string("continue the interrupted ") + what + " in this run directory");
  add_nproc_option(app);
}

Config run_config(const RunArgs& a) {
  if (!a.resume.empty()) {
    // A resumed run takes its config from the run directory; --set is refused (it would change the run).
    if (!a.config.sets.empty() || !a.config.config.empty() || !a.channels.empty())
      throw ConfigError("--resume takes the config from " + a.resume + "/config.json; drop --config/--set/--channels");
    return read_resumed_config(a.resume);
  }
  if (a.config.config.empty() && a.config.sets.empty())
    throw ConfigError("give --config FILE.json (and/or --set key=value)");
  Config cfg = load_config(a.config);
  cfg.model = model_with_channels(cfg, a.channels);  // a bad channel vector or depth before the dataset is read
  return cfg;
}

RunDir open_run_dir(const RunSession& session, const RunArgs& a) {
  if (!a.resume.empty()) return RunDir::resume(session, a.resume);
  return RunDir::create(session, a.out, "",
                        [&](const RunDir& d) { d.write_json("config.json", config_to_json(session.config())); });
}

int resumable(const std::string& command, const std::string& dir, const std::function<int()>& body) {
  // Only commands that can resume catch the signals; the others keep the default action (end at once).
  install_interrupt_handlers();
  try {
    return body();
  } catch (const Interrupted& e) {
    throw Interrupted(std::string(e.what()) + "; progress is saved, resume with: netadj " + command + " --resume " +
                      dir);
  }
}

}  // namespace netadj::cli
