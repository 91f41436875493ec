#pragma once
// The definitions op_table.cpp lists, one per file in this folder.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "netadj/ir/lower.h"
#include "netadj/ir/op.h"

namespace netadj::ops {

const OpDef& input();
const OpDef& conv();
const OpDef& add();
const OpDef& concat();
const OpDef& avg_pool();
const OpDef& max_pool();
const OpDef& global_pool();
const OpDef& linear();
const OpDef& squeeze_excite();
const OpDef& batch_norm();
const OpDef& activation();
const OpDef& mul();
const OpDef& flatten();
const OpDef& adaptive_pool();
const OpDef& identity();
const OpDef& shuffle();

// Shared by several definitions.
inline std::string pair(int64_t v) { return fmt::format("[{}, {}]", v, v); }
inline const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace netadj::ops
