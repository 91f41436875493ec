#include "netadj/nets/builder.h"

#include <map>

#include "netadj/ir/drops.h"
#include "netadj/util/error.h"

namespace netadj {

SpecBuilder::SpecBuilder(const ModelOptions& m, int resolution, std::vector<int64_t> channels) {
  spec_.arch = m.arch;
  spec_.in_channels = m.in_channels;
  spec_.resolution = resolution;
  spec_.num_classes = m.num_classes;
  given_ = std::move(channels);
  depth_ = m.depth;
  Op in;
  in.kind = OpKind::kInput;
  in.name = "input";
  in.out = Width::constant(m.in_channels);
  in.res = resolution;
  spec_.ops.push_back(in);
}

int SpecBuilder::push(Op op) {
  spec_.ops.push_back(std::move(op));
  return static_cast<int>(spec_.ops.size()) - 1;
}

// The layer an op belongs to: a conv's BatchNorm and ReLU are named after it ("<conv>.bn", "<conv>.relu").
static std::string layer_of(std::string name) {
  for (const std::string suffix : {".relu", ".bn"})
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      name.resize(name.size() - suffix.size());
  return name;
}

// A BatchNorm or an activation: same width and resolution as its input.
static Op elementwise(OpKind kind, const Op& in, int index, const std::string& name) {
  Op o;
  o.kind = kind;
  o.name = name;
  o.inputs = {index};
  o.out = in.out;
  o.res = in.res;
  return o;
}

int SpecBuilder::batch_norm(int in, const std::string& name) {
  return push(elementwise(OpKind::kBatchNorm, op(in), in, name));
}

int SpecBuilder::activation(int in, const std::string& name, Activation act) {
  Op o = elementwise(OpKind::kActivation, op(in), in, name);
  o.act = act;
  return push(std::move(o));
}

int SpecBuilder::slot(const std::string& name, int stage, int64_t default_width) {
  size_t index = spec_.channels.size();
  // A vector that is too short is reported by finish(), with the count; until then the default stands in.
  spec_.channels.push_back(index < given_.size() ? given_[index] : default_width);
  spec_.layers.push_back(LayerInfo{name, -1, stage});
  return static_cast<int>(index);
}

// Output size of a conv or (floor-mode) pool; 0 when the window does not fit (PyTorch refuses that).
static int conv_out_res(int res, int kernel, int stride, int pad) {
  const int span = res + 2 * pad - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

SpecBuilder::ConvOps SpecBuilder::conv_ops(int in, const std::string& name, const Width& out, int kernel, int stride,
                                           ConvFlags f) {
  if (f.preact) in = activation(batch_norm(in, name + ".prebn"), name + ".prerelu", Activation::kRelu);
  Op op;
  op.kind = OpKind::kConv;
  op.name = name;
  op.inputs = {in};
  op.kernel = kernel;
  op.stride = stride;
  op.pad = kernel / 2;
  op.res = conv_out_res(this->op(in).res, kernel, stride, op.pad);
  if (op.res < 1)
    throw ConfigError(spec_.arch + ": input resolution " + std::to_string(spec_.resolution) + " is too small (layer " +
                      name + " would have no pixels left)");
  op.depthwise = f.depthwise;
  op.bias = f.bias;
  if (f.depthwise && out.value != width(in).value)
    throw ConfigError(spec_.arch + ": depthwise layer " + name + " must keep its width");
  op.out = out;
  ConvOps c;
  c.conv = c.last = push(std::move(op));
  if (f.bn) c.last = batch_norm(c.last, name + ".bn");
  if (f.relu) c.last = activation(c.last, name + ".relu", Activation::kRelu);
  return c;
}

int SpecBuilder::conv(int in, const std::string& name, const Width& out, int kernel, int stride, ConvFlags f) {
  return conv_ops(in, name, out, kernel, stride, f).last;
}

int SpecBuilder::searchable_conv(int in, int slot, int kernel, int stride, ConvFlags f) {
  const auto& l = spec_.layers.at(static_cast<size_t>(slot));
  const ConvOps c = conv_ops(in, l.name, Width::slot(slot, channel(slot)), kernel, stride, f);
  spec_.ops[size_t(c.conv)].slot = slot;
  spec_.layers[static_cast<size_t>(slot)].op = c.conv;
  return c.last;
}

int SpecBuilder::add(int stream, int branch, Padding padding, bool branch_wins_ties, bool relu) {
  const Op& a = op(stream);
  const Op& b = op(branch);
  if (a.res != b.res)
    throw ConfigError(spec_.arch + ": residual sum at " + b.name + " joins resolutions " + std::to_string(a.res) +
                      " and " + std::to_string(b.res));
  Op o;
  o.kind = OpKind::kAdd;
  o.name = layer_of(b.name) + ".add";
  o.inputs = {stream, branch};
  o.res = b.res;
  o.padding = padding;
  o.fit = a.out.value != b.out.value || a.out.terms != b.out.terms;  // pads: its inputs' widths differ
  if (padding == Padding::kLocal) {
    o.out = b.out;
  } else {
    bool take_branch = b.out.value > a.out.value || (branch_wins_ties && b.out.value == a.out.value);
    o.out = take_branch ? b.out : a.out;
  }
  const std::string name = o.name;
  const int sum = push(std::move(o));
  return relu ? activation(sum, name + ".relu", Activation::kRelu) : sum;
}

int SpecBuilder::concat(const std::vector<int>& ins, const std::string& name) {
  Op o;
  o.kind = OpKind::kConcat;
  o.name = name;
  o.inputs = ins;
  o.res = op(ins.at(0)).res;
  // Each contributor is charged for its own channels.
  std::map<int, int64_t> terms;
  for (int i : ins) {
    if (op(i).res != o.res) throw ConfigError(spec_.arch + ": concatenation " + name + " joins resolutions");
    o.out.value += width(i).value;
    for (auto [s, k] : width(i).terms) terms[s] += k;
  }
  for (auto [s, k] : terms)
    if (k != 0) o.out.terms.emplace_back(s, k);
  return push(std::move(o));
}

// A pooling op keeps its input's width; `res` is its output resolution.
static Op pool_op(OpKind kind, const Op& in, int index, const char* suffix, int kernel, int stride, int res) {
  Op o;
  o.kind = kind;
  o.name = layer_of(in.name) + suffix;
  o.inputs = {index};
  o.kernel = kernel;
  o.stride = stride;
  o.res = res;
  o.out = in.out;
  return o;
}

int SpecBuilder::avg_pool(int in, int kernel, int stride) {
  // ceil mode, so that odd resolutions (7x7) match a stride-2 3x3 conv beside it.
  int res = op(in).res < kernel ? 0 : (op(in).res - kernel + stride - 1) / stride + 1;
  if (res < 1)
    throw ConfigError(spec_.arch + ": input resolution " + std::to_string(spec_.resolution) +
                      " is too small (pooling after " + op(in).name + " leaves no pixels)");
  Op o = pool_op(OpKind::kAvgPool, op(in), in, ".avgpool", kernel, stride, res);
  o.ceil = true;
  return push(std::move(o));
}

int SpecBuilder::max_pool(int in, int kernel, int stride, int pad) {
  Op o =
      pool_op(OpKind::kMaxPool, op(in), in, ".maxpool", kernel, stride, conv_out_res(op(in).res, kernel, stride, pad));
  o.pad = pad;
  if (o.res < 1)
    throw ConfigError(spec_.arch + ": input resolution " + std::to_string(spec_.resolution) +
                      " is too small (pooling after " + op(in).name + " leaves no pixels)");
  return push(std::move(o));
}

int SpecBuilder::global_pool(int in, bool preact, const std::string& name) {
  if (preact) in = activation(batch_norm(in, "final.bn"), "final.relu", Activation::kRelu);
  Op o;
  o.kind = OpKind::kGlobalPool;
  o.name = name;
  o.inputs = {in};
  o.res = 1;
  o.out = width(in);
  return push(std::move(o));
}

int SpecBuilder::linear(int in, int64_t out) {
  Op o;
  o.kind = OpKind::kLinear;
  o.name = "fc";
  o.inputs = {in};
  o.res = 1;
  o.bias = true;
  o.out = Width::constant(out);
  return push(std::move(o));
}

int SpecBuilder::squeeze_excite(int in, int64_t se_width) {
  const std::string name = layer_of(op(in).name) + ".se";
  int x = global_pool(in, false, name + ".pool");
  const ConvFlags se{/*bn=*/false, /*relu=*/true, /*preact=*/false, /*depthwise=*/false, /*bias=*/true};
  x = conv(x, name + ".reduce", Width::constant(se_width), 1, 1, se);
  x = conv(x, name + ".expand", width(in), 1, 1, {false, false, false, false, true});
  x = activation(x, name + ".gate", Activation::kSigmoid);
  Op mul = elementwise(OpKind::kMul, op(in), in, name);
  mul.inputs = {in, x};
  return push(std::move(mul));
}

ArchSpec SpecBuilder::finish() {
  if (!given_.empty() && given_.size() != spec_.channels.size())
    throw ConfigError("model.channels: has " + std::to_string(given_.size()) + " entries, but " + spec_.arch +
                      " depth " + std::to_string(depth_) + " has " + std::to_string(spec_.channels.size()) +
                      " searchable layers");
  for (size_t l = 0; l < spec_.layers.size(); ++l)
    if (spec_.layers[l].op < 0)
      throw std::logic_error(spec_.arch + ": searchable slot " + std::to_string(l) + " has no layer");
  place_drops(spec_);
  return std::move(spec_);
}

}  // namespace netadj
