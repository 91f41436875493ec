#include "netadj/records/records.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <type_traits>

#include "netadj/config/config.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

namespace {

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

// A key added to a record after schema_version 1 was first written: read when present, else the default.
struct Added {
  const char* key;
};

template <class T>
struct is_int_map : std::false_type {};
template <class T>
struct is_int_map<std::map<int, T>> : std::true_type {};

// A key whose value is derived from the others when written (statistics); a reader skips it.
struct Derived {
  const char* key;
};

// Each record lists its keys once, in a visit() that both directions walk: Writer fills a JSON object,
// Reader fills the record and throws on a missing key (at()). Optional values are null when absent.
class Writer {
 public:
  explicit Writer(json& j) : j_(j) { j_ = json::object(); }
  template <class T>
  void operator()(const char* key, const T& v) {
    j_[key] = v;
  }
  template <class T>
  void operator()(const char* key, const std::optional<T>& v) {
    j_[key] = v ? json(*v) : json(nullptr);
  }
  template <class T>
  void operator()(const char* key, const std::map<int, T>& v) {  // an object keyed by the integer's digits
    json o = json::object();
    for (const auto& [k, x] : v) o[std::to_string(k)] = x;
    j_[key] = std::move(o);
  }
  template <class T>
  void operator()(Added k, const T& v) {
    (*this)(k.key, v);
  }
  template <class T>
  void operator()(Derived k, const T& v) {
    (*this)(k.key, v);
  }

 private:
  json& j_;
};

// Integers are checked before conversion: nlohmann converts 1e300 or 2^40 to an int by a cast that is
// undefined or wraps, and a record must never turn into another number silently.
template <class T>
void read_value(const char* key, const json& j, T& v) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    bool fits =
        (j.is_number_unsigned() && j.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())) ||
        (j.is_number_integer() && !j.is_number_unsigned() && j.get<int64_t>() >= std::numeric_limits<T>::min() &&
         j.get<int64_t>() <= int64_t(std::numeric_limits<T>::max()));
    if (j.is_number() && !fits)
      throw RecordValueError(std::string(key) + " = " + j.dump() + ": not an integer in range");
    j.get_to(v);  // a non-number throws json::type_error
  } else if constexpr (std::is_floating_point_v<T>) {
    // JSON has no NaN or infinity: the writer gives null for them (a loss that overflowed), read back as NaN.
    v = j.is_null() ? std::numeric_limits<T>::quiet_NaN() : j.get<T>();
  } else if constexpr (is_int_map<T>::value) {
    if (!j.is_object()) throw RecordValueError(std::string(key) + ": expected an object, got " + j.type_name());
    v.clear();
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if (k.empty() || k.size() > 6 || !std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw RecordValueError(std::string(key) + ": key \"" + k + "\" is not an index 0..999999");
      read_value(key, it.value(), v[std::stoi(k)]);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) throw RecordValueError(std::string(key) + ": expected an array, got " + j.type_name());
    v.clear();
    v.resize(j.size());
    for (size_t i = 0; i < j.size(); ++i) read_value(key, j[i], v[i]);
  } else {
    j.get_to(v);
  }
}

class Reader {
 public:
  explicit Reader(const json& j) : j_(j) {}
  template <class T>
  void operator()(const char* key, T& v) {
    read_value(key, j_.at(key), v);
  }
  template <class T>
  void operator()(const char* key, std::optional<T>& v) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      v.reset();
    } else {
      T value;
      read_value(key, *it, value);
      v = std::move(value);
    }
  }
  template <class T>
  void operator()(Added k, T& v) {
    if (j_.contains(k.key)) (*this)(k.key, v);
  }
  template <class T>
  void operator()(Derived, T&) {}

 private:
  const json& j_;
};

// The checks a record's values must pass beyond their types, run after reading (RecordValueError).
template <class T>
void check(const T&) {}

void require(bool ok, const std::string& what) {
  if (!ok) throw RecordValueError(what);
}

template <class V>
void visit(V& f, EvalResult& r) {
  f("loss", r.loss), f("top1", r.top1), f("top5", r.top5), f("n", r.n);
}

template <class V>
void visit(V& f, EpochRecord& r) {
  f("epoch", r.epoch), f("lr", r.lr), f("train_loss", r.train_loss), f("train_acc", r.train_acc);
  f("seconds", r.seconds), f("images_per_s", r.images_per_s), f("val", r.val), f("test", r.test);
  f("label", r.label);
}

template <class V>
void visit(V& f, TrainRecord& r) {
  f("arch", r.arch), f("channels", r.channels), f("flops", r.flops), f("params", r.params);
  f("epochs", r.epochs), f("train_split", r.train_split), f("final_eval", r.final_eval), f("test", r.test);
  f("seconds", r.seconds), f(Added{"world_size"}, r.world_size), f(Added{"backend"}, r.backend);
}

template <class V>
void visit(V& f, FurRecord& r) {
  f("channels", r.channels), f("layer_names", r.layer_names), f("base", r.base), f("drop_p", r.drop_p);
  f("fur", r.fur), f("fur_stderr", r.fur_stderr), f("rank", r.rank), f("clamped", r.clamped);
  f(Added{"repeats"}, r.repeats);
}

template <class V>
void visit(V& f, IterationRecord& r) {
  f("iteration", r.iteration), f("channels", r.channels), f("flops", r.flops), f("params", r.params);
  f("val", r.val), f("test", r.test), f("fur_base", r.fur_base), f("fur", r.fur), f("fur_stderr", r.fur_stderr);
  f("drop_p", r.drop_p), f("clamped", r.clamped), f("rank", r.rank), f("k", r.k), f("top", r.top);
  f("bottom", r.bottom), f("adjusted_channels", r.adjusted_channels), f("adjusted_flops", r.adjusted_flops);
  f("scale", r.scale), f("next_channels", r.next_channels), f("next_flops", r.next_flops);
  f(Added{"fur_repeats"}, r.fur_repeats), f(Added{"moved_top"}, r.moved_top);
  f(Added{"moved_bottom"}, r.moved_bottom), f(Added{"gate_z"}, r.gate_z), f(Added{"next_params"}, r.next_params);
  f(Added{"budget_target"}, r.budget_target), f(Added{"budget_error"}, r.budget_error);
  f(Added{"latency_ms"}, r.latency_ms), f(Added{"fur_seconds"}, r.fur_seconds);
  f(Added{"warm_from"}, r.warm_from), f(Added{"epochs"}, r.epochs);
  f(Added{"predicted_latency_ms"}, r.predicted_latency_ms), f(Added{"measured_latency_ms"}, r.measured_latency_ms);
  f(Added{"elapsed_s"}, r.elapsed_s), f(Added{"eta_s"}, r.eta_s);
}

template <class V>
void visit(V& f, BestRecord& r) {
  f("iteration", r.iteration), f("channels", r.channels), f("val_top1", r.val_top1), f("flops", r.flops);
  f(Added{"selected_by"}, r.selected_by);
}

template <class V>
void visit(V& f, SelectCandidate& r) {
  f("iteration", r.iteration), f("channels", r.channels), f("val_top1", r.val_top1), f("mean", r.mean);
}

template <class V>
void visit(V& f, SelectionRecord& r) {
  f("seeds", r.seeds), f("candidates", r.candidates), f("chosen", r.chosen);
}

template <class V>
void visit(V& f, SearchRecord& r) {
  f("arch", r.arch), f("depth", r.depth), f("resolution", r.resolution), f("f0", r.f0);
  f("init_channels", r.init_channels), f("layer_names", r.layer_names), f("layer_stages", r.layer_stages);
  f("epochs_per_iteration", r.epochs_per_iteration), f("iterations", r.iterations), f("best", r.best);
  f("done", r.done), f("stopped_early", r.stopped_early);
  f(Added{"budget"}, r.budget), f(Added{"stopped"}, r.stopped), f(Added{"selection"}, r.selection);
  f(Added{"device"}, r.device), f(Added{"world_size"}, r.world_size), f(Added{"backend"}, r.backend);
  f(Added{"init"}, r.init);
}

template <class V>
void visit(V& f, WeightsRecord& r) {
  f("path", r.path), f("format", r.format), f("bytes", r.bytes), f("crc32", r.crc32), f("mean", r.mean);
  f("std", r.stddev);
}

template <class V>
void visit(V& f, IterationTimes& r) {
  f("iteration", r.iteration), f("train_seconds", r.train_seconds), f("fur_seconds", r.fur_seconds);
  f("resumed", r.resumed), f(Added{"seconds"}, r.seconds);
}

template <class V>
void visit(V& f, TimesRecord& r) {
  f("iterations", r.iterations);
}

template <class V>
void visit(V& f, EpochPosition& r) {
  f("epoch", r.epoch), f("step", r.step), f("loss_sum", r.loss_sum), f("correct", r.correct);
  f("seen", r.seen), f("seconds", r.seconds), f("device_type", r.device_type);
}

void check(const EpochPosition& r) {
  require(r.epoch >= 0 && r.step >= 0 && r.seen >= 0, "partial: epoch, step and seen must not be negative");
  require(!r.device_type.empty(), "partial: device_type is empty");
}

template <class V>
void visit(V& f, CheckpointRecord& r) {
  f("epoch", r.epoch), f("history", r.history), f("partial", r.partial);
}

void check(const CheckpointRecord& r) {
  require(r.epoch >= -1 && size_t(r.epoch + 1) == r.history.size(), "epoch " + std::to_string(r.epoch) + " with " +
                                                                        std::to_string(r.history.size()) +
                                                                        " epochs of history (expected epoch + 1)");
  for (size_t i = 0; i < r.history.size(); ++i)
    require(r.history[i].epoch == int(i),
            "history[" + std::to_string(i) + "] is epoch " + std::to_string(r.history[i].epoch));
  require(!r.partial || r.partial->epoch == r.epoch + 1, "partial: epoch " +
                                                             std::to_string(r.partial ? r.partial->epoch : 0) +
                                                             " does not follow epoch " + std::to_string(r.epoch));
}

template <class V>
void visit(V& f, FurProgress& r) {
  f("base", r.base), f("layers", r.layers), f(Added{"refine_pending"}, r.refine_pending);
}

void check(const FurProgress& r) {
  for (int l : r.refine_pending)
    require(r.layers.count(l) > 0, "refine_pending: layer " + std::to_string(l) + " has no values in layers");
}

template <class V>
void visit(V& f, CompareEntry& r) {
  f("name", r.name), f("kind", r.kind), f("source", r.source), f("channels", r.channels), f("flops", r.flops);
  f("params", r.params), f("latency_ms", r.latency_ms), f("test_top1", r.test_top1), f("runs", r.runs);
  f(Derived{"mean"}, r.mean), f(Derived{"sd"}, r.sd), f(Derived{"mean_ci95"}, r.mean_ci95);
  f(Derived{"diff"}, r.diff), f(Derived{"ci95"}, r.ci95), f(Derived{"p"}, r.p);
  f(Added{"budget_error"}, r.budget_error);
}

template <class V>
void visit(V& f, CompareRecord& r) {
  f("arch", r.arch), f("dataset", r.dataset), f("budget", r.budget), f("budget_target", r.budget_target);
  f("epochs", r.epochs), f("device", r.device), f("seeds", r.seeds), f("done", r.done), f("entries", r.entries);
}

void check(const CompareEntry& e, size_t seeds) {
  const std::string where = "entry '" + e.name + "': ";
  require(valid_entry_name(e.name), where + "not a valid entry name");
  require(e.kind == "original" || e.kind == "candidate" || e.kind == "uniform" || e.kind == "random",
          where + "unknown kind '" + e.kind + "'");
  require(!e.channels.empty() && std::all_of(e.channels.begin(), e.channels.end(), [](int64_t c) { return c > 0; }),
          where + "channels must be positive");
  require(e.runs.size() == seeds && e.test_top1.size() <= seeds, where + "runs/results do not match the seeds");
  for (size_t s = 0; s < e.runs.size(); ++s) {
    const std::string& r = e.runs[s];
    const std::string suffix = "_s" + std::to_string(s + 1);
    require(r.rfind("runs/", 0) == 0 && r.size() > suffix.size() + 5 &&
                r.compare(r.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                valid_entry_name(r.substr(5, r.size() - 5 - suffix.size())),
            where + "run '" + r + "' is not runs/<name>" + suffix);
  }
  for (double a : e.test_top1) require(a >= 0 && a <= 1, where + "test_top1 holds a value outside 0..1");
}

void check(const CompareRecord& r) {
  require(!r.seeds.empty() && r.seeds.size() <= 100, "seeds: expected 1..100 of them");
  for (size_t i = 0; i < r.seeds.size(); ++i) require(r.seeds[i] == int(i) + 1, "seeds: expected [1, ..., S]");
  // Every budget a comparison can hold its controls to (search.budget's values) resumes.
  const std::vector<std::string> budgets = enum_names<Budget>();
  std::string listed;
  for (const std::string& b : budgets) listed += (listed.empty() ? "" : ", ") + b;
  require(std::find(budgets.begin(), budgets.end(), r.budget) != budgets.end(),
          "budget '" + r.budget + "': expected one of " + listed);
  require(r.budget_target > 0, "budget_target must be positive");
  require(!r.entries.empty() && r.entries.front().kind == "original", "no original entry first");
  for (const CompareEntry& e : r.entries) check(e, r.seeds.size());
}

}  // namespace

bool valid_entry_name(const std::string& n) {
  if (n.empty() || n == "." || n == ".." || n.size() > 100) return false;
  return std::all_of(n.begin(), n.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
  });
}

#define NETADJ_RECORD_JSON(T)           \
  void to_json(json& j, const T& r) {   \
    Writer w(j);                        \
    visit(w, const_cast<T&>(r));        \
  }                                     \
  void from_json(const json& j, T& r) { \
    Reader rd(j);                       \
    visit(rd, r);                       \
    check(r);                           \
  }
NETADJ_RECORD_JSON(EvalResult)
NETADJ_RECORD_JSON(EpochRecord)
NETADJ_RECORD_JSON(TrainRecord)
NETADJ_RECORD_JSON(FurRecord)
NETADJ_RECORD_JSON(BestRecord)
NETADJ_RECORD_JSON(SelectCandidate)
NETADJ_RECORD_JSON(SelectionRecord)
NETADJ_RECORD_JSON(SearchRecord)
NETADJ_RECORD_JSON(IterationTimes)
NETADJ_RECORD_JSON(TimesRecord)
NETADJ_RECORD_JSON(EpochPosition)
NETADJ_RECORD_JSON(CheckpointRecord)
NETADJ_RECORD_JSON(FurProgress)
NETADJ_RECORD_JSON(CompareEntry)
NETADJ_RECORD_JSON(CompareRecord)
NETADJ_RECORD_JSON(WeightsRecord)
#undef NETADJ_RECORD_JSON

void to_json(json& j, const IterationRecord& r) {
  Writer w(j);
  visit(w, const_cast<IterationRecord&>(r));
}
void from_json(const json& j, IterationRecord& r) {
  Reader rd(j);
  visit(rd, r);
  // Records from before gating: every candidate moved.
  if (!j.contains("moved_top")) r.moved_top = r.top;
  if (!j.contains("moved_bottom")) r.moved_bottom = r.bottom;
}

json versioned(const json& record) {
  json j = record;
  j["schema_version"] = kSchemaVersion;
  return j;
}

void write_record(const std::string& path, const json& record) { write_json_atomic(path, versioned(record)); }

void check_schema(const json& j, const std::string& where) {
  if (!j.is_object()) throw DataError(where + ": expected a JSON object (a netadj run record)");
  auto it = j.find("schema_version");
  if (it == j.end())
    throw ConfigError(where + ": no schema_version (written by an older netadj); this netadj reads schema_version " +
                      std::to_string(kSchemaVersion));
  if (!it->is_number_integer() || it->get<int64_t>() != kSchemaVersion)
    throw ConfigError(where + ": schema_version " + it->dump() + " is not supported; this netadj reads " +
                      std::to_string(kSchemaVersion));
}

json read_record(const std::string& path) {
  json j = read_json(path);
  check_schema(j, path);
  return j;
}

void throw_malformed_record(const std::string& path, const std::string& what) {
  throw DataError(path + ": malformed run record (" + what + ")");
}

}  // namespace netadj
