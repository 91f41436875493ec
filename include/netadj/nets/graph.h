#pragma once
// A network file (docs/graph-format.md): any single-input, single-output image classifier as a list of ops in
// topological order, each with a name, its inputs and its attributes. read_graph parses and checks one
// completely (every op known, every input defined before use, no dangling output, widths that agree at adds,
// concatenations, multiplies, convs and linears, resolutions that stay positive) and infers every op's shape,
// so a bad file is one ConfigError (exit 2) naming the file and the node. Its ops are the IR's: each op's file
// name, attributes, arity, shape and width rule are its op table entry's (ir/op.h). A file becomes a spec
// (graph_to_spec), and is counted as every spec is, by the op table (nets/spec.h).
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/ir/op.h"
#include "netadj/nets/spec.h"

namespace netadj {

/// The graph format's version: a file names it in "version"; a reader refuses any other.
inline constexpr int kGraphFormatVersion = 1;

/// An op's output: a C x R x R feature map, or a vector of C features (after flatten, mean or linear).
using GraphShape = Shape;

/// A file's op is an IR op (ir/ir.h), read by its op table entry (OpDef::read, infer): kernel, stride, pad,
/// groups, ..., `out` for a conv's or linear's width. Its inputs index Graph::ops (-1 is the network's input).
struct GraphOp : Op {
  GraphShape shape;  ///< inferred
  /// The op as the file gave it (written back by graph_to_json); shared, so copies of a graph stay cheap.
  std::shared_ptr<const nlohmann::json> source;
};

struct Graph {
  GraphShape input;  ///< channels and square resolution of the network's input
  std::vector<GraphOp> ops;
  int output = -1;                               ///< the op whose result is the logits (a vector)
  std::optional<std::vector<double>> mean, std;  ///< the input normalization the weights were trained with
  std::vector<std::string> fixed;                ///< ops whose width the search must not change
  std::map<std::string, int64_t> min_channels;   ///< op -> the least width the search may give its slot
};

/// Parses and checks a graph document; `where` names it in errors ("net.json"). ConfigError (exit 2) naming
/// the node and what is wrong. `resolution` > 0 infers the shapes for that input resolution instead of the
/// file's.
Graph parse_graph(const nlohmann::json& doc, const std::string& where, int resolution = 0);
/// read_json(path) then parse_graph; a file that is not JSON is a DataError (exit 3), as for every input file.
Graph read_graph(const std::string& path);

/// One searchable width of a graph: a group of ops whose output widths are tied (by adds, depthwise convs,
/// squeeze-excitation multiplies, and ops that keep their input's width) and can change together.
struct GraphSlot {
  std::string name;      ///< the group's first op, in file order
  int64_t width = 0;     ///< its width in the file
  int64_t multiple = 1;  ///< every width must be a multiple of this (the groups of the convs it feeds or leaves)
  int64_t min = 1;       ///< the least width: the largest min_channels of its ops, raised to a multiple
  std::vector<int> ops;  ///< the ops whose output has this width, in file order
};
/// The searchable slots, in the order of their first op. Not searchable: the input's width, the output's
/// (the classes), the ops listed in "fixed" and everything tied to them, concatenations and flattens (their
/// width follows their parts) and whatever an add or a multiply ties to one of those.
std::vector<GraphSlot> graph_slots(const Graph& g);
/// The graph with slot i at width c[i]: each slot's conv2d and linear ops get the new width (a depthwise conv
/// its groups too) and the shapes are inferred again. ConfigError naming the slot when c has the wrong
/// length or a width is not a positive multiple of the slot's `multiple`.
Graph with_widths(const Graph& g, const std::vector<GraphSlot>& slots, const std::vector<int64_t>& c);
/// Exact dFLOPs/dc for every slot: the partial derivatives of graph_cost's MACs, a polynomial of degree 2 in
/// the slot widths (spec_dflops of the file's spec).
std::vector<int64_t> graph_dflops(const Graph& g, const std::vector<GraphSlot>& slots);
/// The graph as a file (the format read_graph reads).
nlohmann::json graph_to_json(const Graph& g);

/// Multiply-accumulates of every conv2d and linear for one image (BN, activations, pooling, adds: 0), and
/// trainable parameters (conv and linear weights and biases, BatchNorm's weight and bias): the file's spec's
/// spec_flops and spec_params.
struct GraphCost {
  int64_t flops = 0, params = 0;
};
GraphCost graph_cost(const Graph& g);
/// `netadj flops --graph`: {"flops", "params", "input": [C, R, R], "output", "classes", "slots": [{"name",
/// "width", "multiple", "min", "flops" (of the slot's own ops), "ops"}]}.
nlohmann::json graph_summary_json(const Graph& g);

/// model.graph parsed (ConfigError naming model.graph when it is missing or wrong), shapes for `resolution`
/// (0: the file's).
Graph model_graph(const ModelOptions& m, int resolution = 0);
/// The spec of a network file (model.arch "graph"): one spec op per file op, widths as affine functions of the
/// slots (graph_slots), a channel-drop point wherever a slot's channels flow into an op outside the slot, and
/// each slot's multiple and least width. `c` empty: the file's widths. ConfigError when model.num_classes or
/// model.in_channels disagree with the file, or `c` does not fit the slots.
ArchSpec graph_spec(const ModelOptions& m, const std::vector<int64_t>& c, int resolution);
/// The spec of a parsed file at the slot widths `c` (empty: the file's): one spec op per file op (spec op 0 is the
/// input), widths as affine functions of the slots, a channel-drop point wherever a slot's channels flow into
/// an op outside the slot. ConfigError when `c` does not fit the slots.
ArchSpec graph_to_spec(const Graph& file, const std::vector<GraphSlot>& slots, const std::vector<int64_t>& c,
                       const std::string& arch = "graph");
/// FLOPs and params per channel vector of model.graph at `resolution`, the file parsed and its slots found once.
SpecCounter graph_counter(const ModelOptions& m, int resolution);

}  // namespace netadj
