#pragma once
// Warm start: a trained network's weights mapped onto another channel vector of the same architecture,
// read from the spec alone (no per-architecture code).
//
// Channels live in "spaces": an op that keeps its input's channels (a depthwise conv, a pool, a BatchNorm, an
// activation, a squeeze-excitation) is in its input's space, a residual add ties its inputs, a multiply those of
// its width, and the convolutions and linears of one slot share one. One rule serves a family's fused ops and a
// network file's plain ones. A space whose convolutions all have one width (a plain layer, a DenseNet layer, an
// inverted-residual stage whose adds join equal widths) gets one map: widened, it keeps its channels and appends
// copies of random ones (Net2Net: the consumers' incoming weights are split among the copies, with zero-sum noise,
// so the function is unchanged; a grouped conv's slot keeps each channel in its group); narrowed, it keeps the
// channels of largest importance (BN |gamma|, fused or the BatchNorm op that reads the conv, or the filter L1 norm
// where no BN follows the conv, as in DenseNet, or always with "l1"). A space whose members differ in width (zero-
// padded shortcuts, where channels are matched by position from the last one) is mapped by position: widened, the
// new leading channels are zero (BN gamma = beta = 0, or zero filters), which keeps the function with model.padding
// = max; narrowed, the leading channels go. (With padding = local an add truncates the wider input to its first
// channels, so a widened layer there can change the function.)
#include <cstdint>
#include <vector>

#include "netadj/backends/model.h"
#include "netadj/config/config.h"

namespace netadj {

struct WarmMapOptions {
  WarmImportance importance = WarmImportance::kBn;
  double noise = 0.01;  ///< relative, zero-sum over the copies of one channel
  uint64_t seed = 0;    ///< picks the copied channels and draws the noise
};

/// For every op of `to` (same architecture as `from`, other widths): per output channel, the channel of
/// the same op in `from` it takes its values from, or -1 for a new channel that starts at zero.
std::vector<std::vector<int64_t>> warm_channel_maps(GraphNet& from, const ArchSpec& to, const WarmMapOptions& o);

/// Overwrites `to`'s parameters and BN statistics with `from`'s, mapped by warm_channel_maps; the entries
/// without a source (new channels' filters where their outputs are zeroed) keep `to`'s own initialisation.
/// Both networks on the CPU. ConfigError when the two specs are not the same architecture.
void warm_transfer(GraphNet& from, GraphNet& to, const WarmMapOptions& o);

}  // namespace netadj
