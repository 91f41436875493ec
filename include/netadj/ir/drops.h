#pragma once
// The one FUR drop rule (SpatialDropout at a slot, Sec. 3.5), for every network: a slot's channels are dropped
// where they flow out of the slot's ops, on the inputs of the ops that read them (Op::in_slot).
#include "netadj/ir/ir.h"

namespace netadj {

/// Sets every op's in_slot. A slot's ops are the op that makes its width (LayerInfo::op) and every op tied to it
/// by the op table's width rules, as the network-file slot finder ties them: an op of the same width as its input
/// (kSame: BatchNorm, activations, pools, a depthwise conv), an op that ties its inputs (kTied: an add of one
/// width, a multiply). An op of new or derived width (a conv, a concatenation, an add that pads) reads them from
/// outside. std::logic_error when one tied group holds two slots.
void place_drops(ArchSpec& s);

}  // namespace netadj
