#pragma once
// netadj import: a PyTorch model traced by scripts/import_torch.py (torch.fx) into a network file and its
// weights, then read back here, built and loaded, so what was written is known to work without Python.
#include <cstdint>
#include <string>

namespace netadj {

struct ImportRequest {
  std::string target;     ///< module.path:callable returning an nn.Module
  std::string input;      ///< "C,H,W"
  std::string out;        ///< folder for graph.json and weights.bin
  std::string python;     ///< "" : NETADJ_PYTHON, else the project's torch virtualenv, else python3
  std::string mean, std;  ///< optional input normalization, "m,m,m"
};

struct ImportResult {
  std::string graph, weights;  ///< the files written
  int64_t ops = 0, slots = 0, flops = 0, params = 0;
};

/// The Python that runs the importer: `given`, else NETADJ_PYTHON, else the torch virtualenv the setup
/// script makes (${XDG_CACHE_HOME:-~/.cache}/netadj/venv-torch-<LibTorch version>) when it exists, else python3.
std::string import_python(const std::string& given);
/// Runs the importer. Returns 2 when it refused the model (it printed one line naming the node); on 0 the
/// files were read back, built and loaded (ConfigError / DataError otherwise).
int import_model(const ImportRequest& r, ImportResult& result);

}  // namespace netadj
