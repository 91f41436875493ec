// netadj config: the effective config as JSON, or the lists of shipped configs, datasets and architectures.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/data/data.h"
#include "netadj/nets/spec.h"
#include "netadj/util/error.h"

namespace netadj::cli {
namespace {

struct ConfigCmdArgs {
  ConfigArgs config;
  bool list = false, list_datasets = false, list_archs = false;
};

// One line per shipped config: its name and what it runs.
void list_shipped_configs() {
  std::string dir = shipped_config_dir();
  if (dir.empty()) throw DataError("no shipped configs found beside the netadj binary (share/netadj/configs)");
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    Config c = netadj::load_config(f.string(), {});
    std::cout << fmt::format("{:<22} {} depth {} on {}, {} epochs, {} search iterations\n", f.stem().string(),
                             c.model.arch, c.model.depth, c.data.dataset,
                             c.search.epochs > 0 ? c.search.epochs : c.train.epochs, c.search.iterations);
  }
}

int run_config(const ConfigCmdArgs& a) {
  if (a.list) {
    list_shipped_configs();
    return 0;
  }
  if (a.list_datasets) {
    for (const auto& d : dataset_registry()) std::cout << fmt::format("{:<14} {}\n", d.name, d.summary);
    return 0;
  }
  if (a.list_archs) {
    for (const auto& m : arch_registry()) std::cout << fmt::format("{:<18} {}\n", m.name, m.summary);
    return 0;
  }
  std::cout << config_to_json(load_config(a.config)).dump(2) << "\n";
  return 0;
}

}  // namespace

Command config_command() {
  return {"config", "print the effective config (defaults + file + --set) as JSON, or list what is shipped",
          [](CLI::App& app) -> Run {
            auto a = std::make_shared<ConfigCmdArgs>();
            add_config_options(app, a->config);
            app.add_flag("--list", a->list, "list the shipped configs, one line each");
            app.add_flag("--list-datasets", a->list_datasets, "list the dataset formats");
            app.add_flag("--list-archs", a->list_archs, "list the architectures");
            return [a] { return run_config(*a); };
          }};
}

}  // namespace netadj::cli
