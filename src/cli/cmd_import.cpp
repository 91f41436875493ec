// netadj import TARGET --input C,H,W --out DIR: a PyTorch model as a network file and its weights.
#include <fmt/format.h>

#include <iostream>

#include "netadj/cli/command.h"
#include "netadj/nets/table.h"
#include "netadj/pipeline/import.h"

namespace netadj::cli {

Command import_command() {
  return {"import", "a PyTorch model (module:callable) as a network file and weights, traced with torch.fx",
          [](CLI::App& app) -> Run {
            auto r = std::make_shared<ImportRequest>();
            app.add_option("target", r->target, "module.path:callable returning an nn.Module")->required();
            app.add_option("--input", r->input, "C,H,W of one input image (e.g. 3,224,224)")->required();
            app.add_option("--out", r->out, "folder for graph.json and weights.bin")->required();
            app.add_option("--python", r->python, "a Python with torch (default: the project's virtualenv)");
            app.add_option("--mean", r->mean, "input normalization the weights expect, e.g. 0.485,0.456,0.406");
            app.add_option("--std", r->std, "e.g. 0.229,0.224,0.225");
            return [r] {
              ImportResult res;
              if (int rc = import_model(*r, res); rc != 0) return rc;
              std::cout << fmt::format("{} ({} ops, {} searchable slots, {} MACs, {} params) and {}\n", res.graph,
                                       res.ops, res.slots, human_count(double(res.flops)),
                                       human_count(double(res.params)), res.weights);
              return 0;
            };
          }};
}

}  // namespace netadj::cli
