// netadj command line: parses arguments and calls the subcommands; no logic beyond wiring.
#include <CLI/CLI.hpp>

#include <iostream>

#include "netadj/cli/commands.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace {

void add_common(CLI::App* sub, netadj::cli::Common& c) {
  sub->add_option("--config,-c", c.config, "config file (JSON)");
  sub->add_option("--set,-s", c.sets, "override a config value: key.path=value (repeatable)")->take_all();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netadj: Network Adjustment channel search (Chen et al., CVPR 2020) on LibTorch"};
  app.require_subcommand(0, 1);
  bool version = false, verbose = false, quiet = false;
  app.add_flag("--version,-V", version, "print the version and exit");
  app.add_flag("--verbose,-v", verbose, "debug logging");
  app.add_flag("--quiet,-q", quiet, "warnings and errors only");

  netadj::cli::Common common;
  std::string cmp_a, cmp_b;

  auto* config = app.add_subcommand("config", "print the effective config (defaults + file + --set) as JSON");
  add_common(config, common);
  config->add_flag("--print", "print (default)");

  auto* flops = app.add_subcommand("flops", "per-layer FLOPs (multiply-accumulates), params and dFLOPs/dc");
  add_common(flops, common);
  flops->add_option("--channels", common.channels, "channel file");
  flops->add_flag("--json", common.json, "one JSON object with exact integers");
  auto* cmp = flops->add_option("--compare", cmp_a, "compare two channel files: --compare A.json B.json");
  cmp->expected(2);
  std::vector<std::string> cmp_files;
  cmp->each([&](const std::string& v) { cmp_files.push_back(v); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(netadj::ExitCode::kUsage);
  }
  if (version) {
    std::cout << "netadj " << NETADJ_VERSION << "\n";
    return 0;
  }
  netadj::set_log_level(verbose ? "debug" : quiet ? "warn" : "info");
  try {
    if (app.got_subcommand(config)) return netadj::cli::cmd_config(common);
    if (app.got_subcommand(flops)) {
      if (cmp_files.size() == 2) return netadj::cli::cmd_flops(common, cmp_files[0], cmp_files[1]);
      return netadj::cli::cmd_flops(common, "", "");
    }
    std::cout << app.help();
    return static_cast<int>(netadj::ExitCode::kUsage);
  } catch (const netadj::Error& e) {
    std::cerr << "netadj: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << "netadj: error: " << e.what() << "\n";
    return static_cast<int>(netadj::ExitCode::kRuntime);
  }
}
