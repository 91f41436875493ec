#pragma once
// SpecBuilder: the only place that tracks widths and resolutions while an architecture is written down.
// Family builders (zoo.cpp) call it op by op; each call returns the new op's index. A builder declares
// each searchable slot once, with its default width (slot()); built without a channel vector it takes
// those defaults, so one walk gives both the network and the family's default vector. It writes plain ops, as
// a network file does: a conv, its BatchNorm and its ReLU are three; a slot's channels are dropped (FUR) where
// they leave the slot's ops, by the rule network files follow (ir/drops.h).
#include <string>
#include <vector>

#include "netadj/nets/spec.h"

namespace netadj {

/// What a conv comes with, each written as an op of its own.
struct ConvFlags {
  bool bn = true;
  bool relu = true;
  bool preact = false;
  bool depthwise = false;
  bool bias = false;
};

class SpecBuilder {
 public:
  /// `channels` empty: every slot takes the default width its declaration gives.
  SpecBuilder(const ModelOptions& m, int resolution, std::vector<int64_t> channels);

  int input() const { return 0; }
  const Op& op(int i) const { return spec_.ops.at(static_cast<size_t>(i)); }
  const Width& width(int i) const { return op(i).out; }
  int64_t channel(int slot) const { return spec_.channels.at(static_cast<size_t>(slot)); }
  int num_slots() const { return static_cast<int>(spec_.channels.size()); }

  /// A conv whose output width is searchable slot `slot`: its last op (the conv, its BN or ReLU).
  int searchable_conv(int in, int slot, int kernel, int stride, ConvFlags f = {});
  /// A conv of fixed output width (stem, head, projection), or of a width expression: its last op.
  int conv(int in, const std::string& name, const Width& out, int kernel, int stride, ConvFlags f = {});
  /// Residual sum of `stream` and `branch` with zero padding / truncation on the channel axis.
  /// padding "max": the output is the wider; its derivative goes to the branch when it is strictly wider
  /// (or as wide, if `branch_wins_ties`), else stays with the stream. "local": the branch's width.
  int add(int stream, int branch, Padding padding, bool branch_wins_ties, bool relu);
  int concat(const std::vector<int>& ins, const std::string& name);
  int avg_pool(int in, int kernel, int stride);
  int max_pool(int in, int kernel, int stride, int pad);
  /// Global average pool (keeps the 1x1 map); `preact` puts BN + ReLU before it (DenseNet's final one).
  int global_pool(int in, bool preact = false, const std::string& name = "global_pool");
  int linear(int in, int64_t out);
  /// Squeeze-excitation: in * sigmoid(conv(relu(conv(mean(in))))), the 1x1 convs (with bias) to se_width and back.
  int squeeze_excite(int in, int64_t se_width);

  /// Declares the next searchable slot: its layer name, stage (for figures) and default width. Returns
  /// its index; the width is channels[index], or `default_width` when built without a vector.
  int slot(const std::string& name, int stage, int64_t default_width);

  /// Checks that every slot got a layer and that the vector had one width per slot (ConfigError).
  ArchSpec finish();

 private:
  int push(Op op);
  /// A conv with its pre-activation, BatchNorm and ReLU as conv() writes them: the conv's index and the last op's.
  struct ConvOps {
    int conv, last;
  };
  ConvOps conv_ops(int in, const std::string& name, const Width& out, int kernel, int stride, ConvFlags f);
  int batch_norm(int in, const std::string& name);
  int activation(int in, const std::string& name, Activation act);
  ArchSpec spec_;
  std::vector<int64_t> given_;  ///< the vector asked for (empty: defaults)
  int depth_ = 0;
};

}  // namespace netadj
