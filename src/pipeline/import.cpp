// netadj import (pipeline/import.h).
#include "netadj/pipeline/import.h"

#include <torch/version.h>

#include <unistd.h>

#include <cstdlib>

#include "netadj/backends/model.h"
#include "netadj/backends/weights.h"
#include "netadj/nets/graph.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/paths.h"

namespace netadj {
namespace {

std::string import_script() {
  if (const char* s = std::getenv("NETADJ_IMPORT_SCRIPT")) return s;
  std::string found = find_share_file("import_torch.py");
  if (found.empty())
    throw DataError(
        "import_torch.py not found beside the netadj binary (share/netadj/import_torch.py); set "
        "NETADJ_IMPORT_SCRIPT");
  return found;
}

}  // namespace

std::string import_python(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* p = std::getenv("NETADJ_PYTHON")) return p;
  std::string cache = std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME")
                      : std::getenv("HOME")         ? std::string(std::getenv("HOME")) + "/.cache"
                                                    : "";
  std::string venv = cache + "/netadj/venv-torch-" + std::to_string(TORCH_VERSION_MAJOR) + "." +
                     std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH) + "/bin/python";
  if (!cache.empty() && file_exists(venv)) return venv;
  return "python3";
}

namespace {

// Reads back what the importer wrote in `folder` (graph.json, weights.bin): built and loaded, counted.
void check_import(const std::string& folder, ImportResult& result) {
  const std::string graph = folder + "/graph.json", weights = folder + "/weights.bin";
  ModelOptions m;
  m.arch = "graph";
  m.graph = std::make_shared<const nlohmann::json>(read_json(graph));
  const Graph g = model_graph(m);
  m.num_classes = int(g.ops[size_t(g.output)].shape.channels);
  m.in_channels = int(g.input.channels);
  GraphNet net(build_spec(m, int(g.input.res)));
  load_weights(*net, read_weights(weights), weights);
  const GraphCost cost = graph_cost(g);
  result.ops = int64_t(g.ops.size());
  result.slots = int64_t(graph_slots(g).size());
  result.flops = cost.flops;
  result.params = cost.params;
}

// The import is written beside `out` under a temp name (<out>.tmp.<pid>) and moves into `out` only once it was
// read back: a refused or failed import leaves `out` as it was.
struct Staging {
  explicit Staging(const std::string& out) : path(out + ".tmp." + std::to_string(::getpid())) {
    remove_tree(path);
    make_dirs(path);
  }
  ~Staging() {
    try {
      remove_tree(path);
    } catch (const Error&) {  // a temp folder that cannot go is garbage, as a crashed write's
    }
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  std::string path;
};

}  // namespace

int import_model(const ImportRequest& r, ImportResult& result) {
  const std::string py = import_python(r.python), script = import_script();
  std::string out = r.out;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.empty()) throw ConfigError("import: --out is empty");
  const Staging stage(out);
  std::vector<std::string> argv = {py, "-W", "ignore", script, r.target, "--input", r.input, "--out", stage.path};
  if (!r.mean.empty()) argv.insert(argv.end(), {"--mean", r.mean});
  if (!r.std.empty()) argv.insert(argv.end(), {"--std", r.std});
  const int rc = run_program(argv, /*quiet=*/false);
  if (rc == 2) return 2;  // refused: the importer printed one line
  if (rc != 0)
    throw Error(ExitCode::kRuntime, "import: " + py + " " + script + " failed (exit " + std::to_string(rc) +
                                        "); --python names a Python that has torch");
  check_import(stage.path, result);
  // The weights first and the network file last: a folder with graph.json has its weights.
  make_dirs(out);
  result.graph = out + "/graph.json";
  result.weights = out + "/weights.bin";
  rename_file(stage.path + "/weights.bin", result.weights);
  rename_file(stage.path + "/graph.json", result.graph);
  return 0;
}

}  // namespace netadj
