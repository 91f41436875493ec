#pragma once
// The command table. Each subcommand lives in its own file under src/cli/, declares its options on its
// CLI11 app and returns the function that runs it; commands() lists them all, and main() builds the
// app from that list and maps exceptions to exit codes, nothing else.
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "netadj/config/config.h"
#include "netadj/records/records.h"
#include "netadj/run/run_dir.h"

namespace netadj {
class RunSession;
}

namespace netadj::cli {

/// Runs a parsed command; returns the exit code.
using Run = std::function<int()>;

struct Command {
  const char* name;
  const char* summary;
  /// Adds the command's options to its (sub)app and returns its run function, which reads them.
  std::function<Run(CLI::App&)> declare;
};

/// Every subcommand, in help order; registered explicitly in commands.cpp.
const std::vector<Command>& commands();

Command config_command();
Command search_command();
Command train_command();
Command compare_command();
Command fur_command();
Command flops_command();
Command adjust_command();
Command export_command();
Command bench_command();
Command report_command();
Command import_command();

/// --nproc N (search, train, fur, bench train): main() starts N local ranks of the same command line
/// (dist::launch_local) instead of running it, unless this process is already a rank (RANK is set).
void add_nproc_option(CLI::App& app);
/// The --nproc of the parsed (sub)command that add_nproc_option gave one (1 when none was given); read
/// from the parsed app, so no state outlives the parse.
int requested_nproc(const CLI::App& app);

/// --config and --set, shared by every command that reads a config.
struct ConfigArgs {
  std::string config;             ///< a path, or the bare name of a shipped config ("resnet20_cifar100")
  std::vector<std::string> sets;  ///< key.path=value overrides, in order
};
void add_config_options(CLI::App& app, ConfigArgs& args);
/// Loads and validates the config once (ConfigError when missing or invalid).
Config load_config(const ConfigArgs& args);
/// A path as given when it exists; else a shipped config of that name (with or without .json);
/// else the path as given (so that the error names what the user typed).
std::string resolve_config_path(const std::string& name);
/// The shipped configs' folder (share/netadj/configs beside the binary); "" when there is none.
std::string shipped_config_dir();

/// A model's options with the channel vector of `channel_file` (when not empty), checked against the family
/// at the data's nominal resolution (ConfigError naming the file, or the config's model when none is given).
ModelOptions model_with_channels(const Config& cfg, const std::string& channel_file);

/// Options of commands that write a run directory (search, train).
struct RunArgs {
  ConfigArgs config;
  std::string channels;  ///< channel file (train)
  std::string out;       ///< run directory; "" = runs/<name>-<timestamp>
  std::string resume;    ///< an interrupted run's directory
};
void add_run_options(CLI::App& app, RunArgs& args, const char* what);

/// The config a run command runs: with --resume, the run directory's config.json (--config, --set and
/// --channels are refused); else --config/--set with --channels, the model and channel vector checked. Nothing
/// is written.
Config run_config(const RunArgs& args);
/// The run directory of `args` for the session (built from run_config): a new one with config.json written, or
/// the --resume directory; locked for this process either way.
RunDir open_run_dir(const RunSession& session, const RunArgs& args);

/// Installs the SIGINT/SIGTERM handlers and runs `body`; an Interrupted error gets the command that
/// resumes the run added to its message.
int resumable(const std::string& command, const std::string& dir, const std::function<int()>& body);

/// The latency subcommands of `netadj bench` (lut, latency-model, latency; cmd_bench_latency.cpp): adds them to
/// `bench` and returns what runs the chosen one, -1 when `sub` is not one of them.
std::function<int(const std::string& sub)> add_latency_benches(CLI::App& bench);

}  // namespace netadj::cli
