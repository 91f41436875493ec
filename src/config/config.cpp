#include "netadj/config/config.h"

#include <filesystem>
#include <set>

#include "netadj/data/data.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

namespace {

// One table per enum: the config's spelling of each value, in the order error messages list them.
template <class E>
struct EnumTable;
template <>
struct EnumTable<Padding> {
  static constexpr std::pair<Padding, const char*> kValues[] = {{Padding::kMax, "max"}, {Padding::kLocal, "local"}};
};
template <>
struct EnumTable<DropType> {
  static constexpr std::pair<DropType, const char*> kValues[] = {{DropType::kBernoulli, "bernoulli"},
                                                                 {DropType::kGaussian, "gaussian"}};
};
template <>
struct EnumTable<FurMetric> {
  static constexpr std::pair<FurMetric, const char*> kValues[] = {{FurMetric::kLoss, "loss"},
                                                                  {FurMetric::kAccuracy, "accuracy"}};
};
template <>
struct EnumTable<AmpMode> {
  static constexpr std::pair<AmpMode, const char*> kValues[] = {
      {AmpMode::kAuto, "auto"}, {AmpMode::kOff, "off"}, {AmpMode::kBf16, "bf16"}, {AmpMode::kFp16, "fp16"}};
};
template <>
struct EnumTable<MemoryFormat> {
  static constexpr std::pair<MemoryFormat, const char*> kValues[] = {{MemoryFormat::kAuto, "auto"},
                                                                     {MemoryFormat::kChannelsLast, "channels_last"},
                                                                     {MemoryFormat::kContiguous, "contiguous"}};
};

template <>
struct EnumTable<RescaleMode> {
  static constexpr std::pair<RescaleMode, const char*> kValues[] = {{RescaleMode::kExact, "exact"},
                                                                    {RescaleMode::kReference, "reference"}};
};
template <>
struct EnumTable<Budget> {
  static constexpr std::pair<Budget, const char*> kValues[] = {
      {Budget::kFlops, "flops"}, {Budget::kParams, "params"}, {Budget::kLatency, "latency"}};
};
template <>
struct EnumTable<FurEqualize> {
  static constexpr std::pair<FurEqualize, const char*> kValues[] = {{FurEqualize::kBudget, "budget"},
                                                                    {FurEqualize::kFlops, "flops"}};
};
template <>
struct EnumTable<WarmImportance> {
  static constexpr std::pair<WarmImportance, const char*> kValues[] = {{WarmImportance::kBn, "bn"},
                                                                       {WarmImportance::kL1, "l1"}};
};
template <>
struct EnumTable<SelectMode> {
  static constexpr std::pair<SelectMode, const char*> kValues[] = {{SelectMode::kArgmax, "argmax"},
                                                                   {SelectMode::kRetrain, "retrain"}};
};

template <>
struct EnumTable<ExportFormat> {
  static constexpr std::pair<ExportFormat, const char*> kValues[] = {
      {ExportFormat::kTorchscript, "torchscript"}, {ExportFormat::kOnnx, "onnx"}, {ExportFormat::kBoth, "both"}};
};
template <>
struct EnumTable<SearchInit> {
  static constexpr std::pair<SearchInit, const char*> kValues[] = {{SearchInit::kScratch, "scratch"},
                                                                   {SearchInit::kPretrained, "pretrained"}};
};

template <class E>
std::optional<E> parse_enum(const std::string& text) {
  for (const auto& [value, name] : EnumTable<E>::kValues)
    if (text == name) return value;
  return std::nullopt;
}

std::string joined_names(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : "|") + n;
  return all;
}

std::string show(const json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// Reads one JSON object strictly: every key must be claimed by a field() call, types must match.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string path, const std::string& origin)
      : j_(j), path_(std::move(path)), origin_(origin) {
    if (!j_.is_object()) fail(path_.empty() ? "<root>" : path_, j_, "expected a JSON object");
  }

  [[noreturn]] void fail(const std::string& key, const json& v, const std::string& what) const {
    throw ConfigError(origin_ + ": " + key + " = " + show(v) + ": " + what);
  }

  std::string key_path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const json* take(const char* key) {
    seen_.insert(key);
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

  void field(const char* key, int& out) {
    if (const json* v = take(key)) {
      if (!v->is_number_integer()) fail(key_path(key), *v, "expected an integer");
      int64_t x = v->get<int64_t>();
      if (x < INT32_MIN || x > INT32_MAX) fail(key_path(key), *v, "integer out of range");
      out = static_cast<int>(x);
    }
  }
  void field(const char* key, int64_t& out) {
    if (const json* v = take(key)) {
      if (!v->is_number_integer()) fail(key_path(key), *v, "expected an integer");
      out = v->get<int64_t>();
    }
  }
  void field(const char* key, double& out) {
    if (const json* v = take(key)) {
      if (!v->is_number()) fail(key_path(key), *v, "expected a number");
      out = v->get<double>();
    }
  }
  void field(const char* key, bool& out) {
    if (const json* v = take(key)) {
      if (!v->is_boolean()) fail(key_path(key), *v, "expected true or false");
      out = v->get<bool>();
    }
  }
  void field(const char* key, std::string& out) {
    if (const json* v = take(key)) {
      if (!v->is_string()) fail(key_path(key), *v, "expected a string");
      out = v->get<std::string>();
    }
  }
  void field(const char* key, std::vector<int64_t>& out) {
    if (const json* v = take(key)) {
      if (v->is_null()) {
        out.clear();
        return;
      }
      if (!v->is_array()) fail(key_path(key), *v, "expected an array of integers");
      out.clear();
      for (size_t i = 0; i < v->size(); ++i) {
        const json& e = (*v)[i];
        if (!e.is_number_integer()) fail(key_path(key) + "[" + std::to_string(i) + "]", e, "expected an integer");
        out.push_back(e.get<int64_t>());
      }
    }
  }
  // A network document: inline, or the path of a file (read now, so the config holds what was read).
  void field(const char* key, std::shared_ptr<const json>& out) {
    const json* v = take(key);
    if (!v || v->is_null()) return;
    if (v->is_object()) {
      out = std::make_shared<const json>(*v);
      return;
    }
    if (!v->is_string() || v->get<std::string>().empty())
      fail(key_path(key), *v, "expected the path of a network file, or the network itself (an object)");
    std::filesystem::path p = v->get<std::string>();
    std::error_code ec;  // a name too long for the filesystem is "not found", not an exception
    if (!std::filesystem::exists(p, ec) && p.is_relative() && origin_ != "defaults")
      p = std::filesystem::path(origin_).parent_path() / p;
    if (!std::filesystem::exists(p, ec)) fail(key_path(key), *v, "network file not found");
    out = std::make_shared<const json>(read_json(p.string()));
  }
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
  void field(const char* key, E& out) {
    if (const json* v = take(key)) {
      auto parsed = v->is_string() ? parse_enum<E>(v->get<std::string>()) : std::nullopt;
      if (!parsed) fail(key_path(key), *v, "expected one of " + joined_names(enum_names<E>()));
      out = *parsed;
    }
  }
  void field(const char* key, DeviceChoice& out) {
    if (const json* v = take(key)) {
      auto parsed = v->is_string() ? DeviceChoice::parse(v->get<std::string>()) : std::nullopt;
      if (!parsed) fail(key_path(key), *v, "expected one of auto|cpu|cuda|cuda:N");
      out = *parsed;
    }
  }
  template <class Fn>
  void object(const char* key, Fn&& fn) {
    if (const json* v = take(key)) {
      ObjectReader sub(*v, key_path(key), origin_);
      fn(sub);
      sub.finish();
    }
  }

  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!seen_.count(it.key())) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        throw ConfigError(origin_ + ": " + (path_.empty() ? it.key() : path_ + "." + it.key()) +
                          ": unknown key (known here: " + known + ")");
      }
    }
  }

 private:
  const json& j_;
  std::string path_;
  const std::string& origin_;
  std::set<std::string> seen_;
};

// Writes the same fields the reader reads: both walk the visit_* functions below, so the JSON keys are
// listed once.
class ObjectWriter {
 public:
  explicit ObjectWriter(json& j) : j_(j) {}
  template <class T, std::enable_if_t<!std::is_enum_v<T>, int> = 0>
  void field(const char* key, const T& v) {
    j_[key] = v;
  }
  void field(const char* key, const std::vector<int64_t>& v) { j_[key] = v.empty() ? json(nullptr) : json(v); }
  void field(const char* key, const std::shared_ptr<const json>& v) { j_[key] = v ? *v : json(nullptr); }
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
  void field(const char* key, const E& v) {
    j_[key] = enum_name(v);
  }
  void field(const char* key, const DeviceChoice& v) { j_[key] = v.str(); }
  template <class Fn>
  void object(const char* key, Fn&& fn) {
    json sub = json::object();
    ObjectWriter w(sub);
    fn(w);
    j_[key] = sub;
  }

 private:
  json& j_;
};

template <class V>
void visit_model(V& r, ModelOptions& m) {
  r.field("arch", m.arch);
  r.field("depth", m.depth);
  r.field("width", m.width);
  r.field("num_classes", m.num_classes);
  r.field("in_channels", m.in_channels);
  r.field("padding", m.padding);
  r.field("resolution", m.resolution);
  r.field("channels", m.channels);
  r.field("graph", m.graph);
  r.field("weights", m.weights);
}

template <class V>
void visit_data(V& r, DataOptions& d) {
  r.field("dataset", d.dataset);
  r.field("root", d.root);
  r.field("val_size", d.val_size);
  r.field("val_fraction", d.val_fraction);
  r.field("augment", d.augment);
  r.field("subset", d.subset);
  r.field("seed", d.seed);
  r.field("strict", d.strict);
  r.field("workers", d.workers);
  r.field("image_size", d.image_size);
  r.field("max_image_pixels", d.max_image_pixels);
  r.object("synthetic", [&](auto& s) {
    s.field("train_size", d.synthetic.train_size);
    s.field("test_size", d.synthetic.test_size);
    s.field("classes", d.synthetic.classes);
    s.field("channels", d.synthetic.channels);
    s.field("resolution", d.synthetic.resolution);
    s.field("noise", d.synthetic.noise);
  });
}

template <class V>
void visit_train(V& r, TrainOptions& t) {
  r.field("epochs", t.epochs);
  r.field("batch_size", t.batch_size);
  r.field("lr", t.lr);
  r.field("lr_min", t.lr_min);
  r.field("momentum", t.momentum);
  r.field("nesterov", t.nesterov);
  r.field("weight_decay", t.weight_decay);
  r.field("per_step", t.per_step);
  r.field("warmup_epochs", t.warmup_epochs);
  r.field("warmup_lr", t.warmup_lr);
  r.field("label_smoothing", t.label_smoothing);
  r.field("loss_scale", t.loss_scale);
  r.field("eval_test_each_epoch", t.eval_test_each_epoch);
  r.field("full_train", t.full_train);
  r.field("sync_bn", t.sync_bn);
  r.object("drop", [&](auto& s) {
    s.field("rate", t.drop.rate);
    s.field("type", t.drop.type);
    s.field("epoch_ramp", t.drop.epoch_ramp);
    s.field("layer_ramp", t.drop.layer_ramp);
  });
  r.object("kd", [&](auto& s) {
    s.field("teacher", t.kd.teacher);
    s.field("alpha", t.kd.alpha);
    s.field("temperature", t.kd.temperature);
  });
}

template <class V>
void visit_fur(V& r, FurOptions& f) {
  r.field("base_drop_rate", f.base_drop_rate);
  r.field("repeats", f.repeats);
  r.field("metric", f.metric);
  r.field("drop_type", f.drop_type);
  r.field("max_drop_rate", f.max_drop_rate);
  r.field("max_repeats", f.max_repeats);
  r.field("cache_mb", f.cache_mb);
  r.field("equalize", f.equalize);
}

template <class V>
void visit_search(V& r, SearchOptions& s) {
  r.field("iterations", s.iterations);
  r.field("epochs", s.epochs);
  r.field("update_num", s.update_num);
  r.field("update_num_decay", s.update_num_decay);
  r.field("adjust_rate", s.adjust_rate);
  r.field("adjust_rate_decay", s.adjust_rate_decay);
  r.field("min_channels", s.min_channels);
  r.field("flops_tolerance", s.flops_tolerance);
  r.field("patience", s.patience);
  r.field("rescale", s.rescale);
  r.field("budget", s.budget);
  r.field("latency_table", s.latency_table);
  r.field("latency_batch", s.latency_batch);
  r.field("latency_threads", s.latency_threads);
  r.field("latency_force", s.latency_force);
  r.field("channel_multiple", s.channel_multiple);
  r.field("gate", s.gate);
  r.field("gate_z", s.gate_z);
  r.field("select", s.select);
  r.field("select_top", s.select_top);
  r.field("select_seeds", s.select_seeds);
  r.field("warm_start", s.warm_start);
  r.field("warm_epochs", s.warm_epochs);
  r.field("warm_importance", s.warm_importance);
  r.field("warm_noise", s.warm_noise);
  r.field("init", s.init);
  r.field("init_epochs", s.init_epochs);
}

template <class V>
void visit_runtime(V& r, RuntimeOptions& o) {
  r.field("device", o.device);
  r.field("amp", o.amp);
  r.field("threads", o.threads);
  r.field("seed", o.seed);
  r.field("out_dir", o.out_dir);
  r.field("name", o.name);
  r.field("log_every", o.log_every);
  r.field("memory_format", o.memory_format);
  r.field("cudnn_benchmark", o.cudnn_benchmark);
}

template <class V>
void visit_config(V& root, Config& c) {
  root.object("model", [&](auto& r) { visit_model(r, c.model); });
  root.object("data", [&](auto& r) { visit_data(r, c.data); });
  root.object("train", [&](auto& r) { visit_train(r, c.train); });
  root.object("fur", [&](auto& r) { visit_fur(r, c.fur); });
  root.object("search", [&](auto& r) { visit_search(r, c.search); });
  root.object("eval", [&](auto& r) { r.field("batch_size", c.eval.batch_size); });
  root.object("export", [&](auto& r) {
    r.field("enabled", c.exporting.enabled);
    r.field("fold_bn", c.exporting.fold_bn);
    r.field("format", c.exporting.format);
  });
  root.object("dist", [&](auto& r) { r.field("timeout_s", c.dist.timeout_s); });
  root.object("runtime", [&](auto& r) { visit_runtime(r, c.runtime); });
}

// Range checks: one helper per shape of rule keeps the messages uniform.
struct Checker {
  const std::string& origin;
  [[noreturn]] void fail(const std::string& key, const json& v, const std::string& what) const {
    throw ConfigError(origin + ": " + key + " = " + show(v) + ": " + what);
  }
  template <class T>
  void at_least(const std::string& key, T v, T lo) const {
    if (!(v >= lo)) fail(key, v, "must be >= " + json(lo).dump());
  }
  void in_range(const std::string& key, double v, double lo, double hi, bool hi_open) const {
    bool ok = v >= lo && (hi_open ? v < hi : v <= hi);
    if (!ok) fail(key, v, "must be in [" + json(lo).dump() + ", " + json(hi).dump() + (hi_open ? ")" : "]"));
  }
};

void check_model(const Checker& ck, const ModelOptions& m) {
  if (m.arch.empty()) ck.fail("model.arch", m.arch, "must name an architecture");
  ck.at_least("model.depth", m.depth, 1);  // upper bounds of depth, resolution and widths: build_spec
  if (!(m.width > 0 && m.width <= 64)) ck.fail("model.width", m.width, "must be in (0, 64]");
  ck.at_least("model.num_classes", m.num_classes, 2);
  ck.at_least("model.in_channels", m.in_channels, 1);
  ck.at_least("model.resolution", m.resolution, 0);
  // model.graph with the architecture: nets/spec.cpp, where the registry says which reads a network file.
  for (size_t i = 0; i < m.channels.size(); ++i)
    if (m.channels[i] < 1)
      ck.fail("model.channels[" + std::to_string(i) + "]", m.channels[i], "channel numbers must be >= 1");
}

void check_data(const Checker& ck, const DataOptions& d) {
  if (!find_dataset_or_null(d.dataset))
    ck.fail("data.dataset", d.dataset, "expected one of " + joined_names(dataset_names()));
  ck.at_least<int64_t>("data.val_size", d.val_size, 0);
  ck.in_range("data.val_fraction", d.val_fraction, 0.0, 1.0, true);
  ck.at_least<int64_t>("data.subset", d.subset, 0);
  ck.at_least<int64_t>("data.seed", d.seed, -1);
  ck.at_least("data.workers", d.workers, 0);
  ck.at_least("data.image_size", d.image_size, 8);
  ck.at_least<int64_t>("data.max_image_pixels", d.max_image_pixels, 1);
  ck.at_least("data.synthetic.train_size", d.synthetic.train_size, 1);
  ck.at_least("data.synthetic.test_size", d.synthetic.test_size, 1);
  ck.at_least("data.synthetic.classes", d.synthetic.classes, 2);
  ck.at_least("data.synthetic.channels", d.synthetic.channels, 1);
  ck.at_least("data.synthetic.resolution", d.synthetic.resolution, 4);
  ck.at_least("data.synthetic.noise", d.synthetic.noise, 0.0);
}

void check_train(const Checker& ck, const TrainOptions& t) {
  ck.at_least("train.epochs", t.epochs, 0);
  ck.at_least("train.batch_size", t.batch_size, 1);
  if (!(t.lr > 0)) ck.fail("train.lr", t.lr, "must be > 0");
  ck.at_least("train.lr_min", t.lr_min, 0.0);
  if (t.lr_min > t.lr) ck.fail("train.lr_min", t.lr_min, "must be <= train.lr");
  ck.in_range("train.momentum", t.momentum, 0.0, 1.0, true);
  ck.at_least("train.weight_decay", t.weight_decay, 0.0);
  ck.at_least("train.warmup_epochs", t.warmup_epochs, 0);
  ck.at_least("train.warmup_lr", t.warmup_lr, 0.0);
  ck.in_range("train.label_smoothing", t.label_smoothing, 0.0, 1.0, true);
  if (!(t.loss_scale >= 1.0 && t.loss_scale <= 1e30)) ck.fail("train.loss_scale", t.loss_scale, "must be in [1, 1e30]");
  if (t.nesterov && t.momentum == 0) ck.fail("train.nesterov", t.nesterov, "needs train.momentum > 0");
  ck.in_range("train.drop.rate", t.drop.rate, 0.0, 1.0, true);
  ck.in_range("train.kd.alpha", t.kd.alpha, 0.0, 1.0, false);
  if (!(t.kd.temperature > 0)) ck.fail("train.kd.temperature", t.kd.temperature, "must be > 0");
}

void check_fur(const Checker& ck, const FurOptions& f) {
  ck.in_range("fur.base_drop_rate", f.base_drop_rate, 0.0, 1.0, true);
  if (f.base_drop_rate <= 0) ck.fail("fur.base_drop_rate", f.base_drop_rate, "must be > 0");
  ck.at_least("fur.repeats", f.repeats, 1);
  ck.in_range("fur.max_drop_rate", f.max_drop_rate, 0.0, 1.0, true);
  if (f.max_drop_rate <= 0) ck.fail("fur.max_drop_rate", f.max_drop_rate, "must be > 0");
  if (f.max_repeats != 0 && f.max_repeats < f.repeats)
    ck.fail("fur.max_repeats", f.max_repeats, "must be 0 (off) or >= fur.repeats");
  if (f.max_repeats > 100000) ck.fail("fur.max_repeats", f.max_repeats, "must be <= 100000");
  ck.at_least("fur.cache_mb", f.cache_mb, 0);
  if (f.cache_mb > (1 << 24)) ck.fail("fur.cache_mb", f.cache_mb, "must be <= 16777216 (16 TiB)");
}

void check_search(const Checker& ck, const SearchOptions& s) {
  ck.at_least("search.iterations", s.iterations, 1);
  ck.at_least("search.epochs", s.epochs, 0);
  ck.at_least("search.update_num", s.update_num, 0.0);
  ck.at_least("search.update_num_decay", s.update_num_decay, 0.0);
  ck.in_range("search.adjust_rate", s.adjust_rate, 0.0, 1.0, false);
  ck.at_least("search.adjust_rate_decay", s.adjust_rate_decay, 0.0);
  ck.at_least("search.min_channels", s.min_channels, 1);
  ck.in_range("search.flops_tolerance", s.flops_tolerance, 0.0, 0.5, false);
  if (s.flops_tolerance <= 0) ck.fail("search.flops_tolerance", s.flops_tolerance, "must be > 0");
  ck.at_least("search.patience", s.patience, 0);
  ck.at_least("search.channel_multiple", s.channel_multiple, 1);
  if (s.channel_multiple > 1024) ck.fail("search.channel_multiple", s.channel_multiple, "must be <= 1024");
  // The smallest width the grid allows (a multiple, at least min_channels) must be a width a layer can have.
  const int64_t m = std::max(s.channel_multiple, 1), lowest = m * ((int64_t(s.min_channels) + m - 1) / m);
  if (lowest > 65536) ck.fail("search.min_channels", s.min_channels, "must be <= 65536 (on the channel_multiple grid)");
  if (!(s.gate_z >= 0 && s.gate_z <= 100)) ck.fail("search.gate_z", s.gate_z, "must be in [0, 100]");
  if (s.rescale == RescaleMode::kReference && s.channel_multiple != 1)
    ck.fail("search.channel_multiple", s.channel_multiple, "needs search.rescale = exact (reference rounds to 1)");
  ck.at_least("search.select_top", s.select_top, 1);
  ck.at_least("search.select_seeds", s.select_seeds, 1);
  if (s.select_seeds > 1000) ck.fail("search.select_seeds", s.select_seeds, "must be <= 1000");
  ck.at_least("search.warm_epochs", s.warm_epochs, 0);
  if (!(s.warm_noise >= 0 && s.warm_noise <= 1)) ck.fail("search.warm_noise", s.warm_noise, "must be in [0, 1]");
  ck.at_least("search.init_epochs", s.init_epochs, 0);
  if (s.init == SearchInit::kScratch && s.init_epochs > 0)
    ck.fail("search.init_epochs", s.init_epochs, "needs search.init = \"pretrained\" (a scratch start trains fully)");
  ck.at_least("search.latency_batch", s.latency_batch, 1);
  if (s.latency_batch > 4096) ck.fail("search.latency_batch", s.latency_batch, "must be <= 4096");
  ck.at_least("search.latency_threads", s.latency_threads, 0);
  if (s.latency_threads > 1024) ck.fail("search.latency_threads", s.latency_threads, "must be <= 1024");
}

void check_runtime(const Checker& ck, const RuntimeOptions& r) {
  ck.at_least("runtime.threads", r.threads, 0);
  ck.at_least<int64_t>("runtime.seed", r.seed, 0);
  if (r.out_dir.empty()) ck.fail("runtime.out_dir", r.out_dir, "must not be empty");
  ck.at_least("runtime.log_every", r.log_every, 1);
}

// model.weights: from the working directory, else from the config file's folder; held absolute, so a run
// directory's config.json names the same file from anywhere. (A missing file is the loader's DataError.)
// A file the config names (model.weights, search.latency_table): as given when it exists, else beside the
// config file; stored absolute so that a run directory's config.json names it wherever the run resumes.
void resolve_file_path(std::string& file, const std::string& origin) {
  if (file.empty()) return;
  std::filesystem::path p = file;
  std::error_code ec;
  if (!std::filesystem::exists(p, ec) && p.is_relative() && origin != "defaults") {
    std::filesystem::path beside = std::filesystem::path(origin).parent_path() / p;
    if (std::filesystem::exists(beside, ec)) p = beside;
  }
  std::filesystem::path abs = std::filesystem::absolute(p, ec);
  file = (ec ? p : abs).lexically_normal().string();
}

}  // namespace

void validate(const Config& c, const std::string& origin) {
  Checker ck{origin};
  check_model(ck, c.model);
  check_data(ck, c.data);
  check_train(ck, c.train);
  check_fur(ck, c.fur);
  check_search(ck, c.search);
  if (c.search.init == SearchInit::kPretrained && c.model.weights.empty())
    ck.fail("search.init", "pretrained", "needs model.weights (the trained network to start from)");
  ck.at_least("eval.batch_size", c.eval.batch_size, 1);
  check_runtime(ck, c.runtime);
  if (!(c.dist.timeout_s >= 1 && c.dist.timeout_s <= 86400))
    ck.fail("dist.timeout_s", c.dist.timeout_s, "must be in [1, 86400] seconds");
}

Config config_from_json(const json& j, const std::string& origin) {
  Config c;
  ObjectReader root(j, "", origin);
  visit_config(root, c);
  root.finish();
  resolve_file_path(c.model.weights, origin);
  resolve_file_path(c.search.latency_table, origin);
  validate(c, origin);
  return c;
}

json config_to_json(const Config& c) {
  Config copy = c;
  json j = json::object();
  ObjectWriter w(j);
  visit_config(w, copy);
  return j;
}

void apply_override(json& doc, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected key.path=value (e.g. train.epochs=2)");
  std::string path = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {  // parse_error, or out_of_range for a number like 1e99999
    value = text;                     // a bare word is a string: --set model.arch=vgg_cifar
  }
  try {
    (void)json(assignment).dump();  // keys and strings are UTF-8 in JSON; error messages print them
  } catch (const json::type_error&) {
    throw ConfigError("--set: the assignment is not valid UTF-8");
  }
  json* node = &doc;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw ConfigError("--set " + assignment + ": empty key in '" + path + "'");
    if (!node->is_object()) {
      if (!node->is_null())
        throw ConfigError("--set " + assignment + ": '" + path.substr(0, start ? start - 1 : 0) + "' is not an object");
      *node = json::object();
    }
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  json doc = json::object();
  std::string origin = "defaults";
  if (!path.empty()) {
    if (!std::filesystem::exists(path)) throw ConfigError(path + ": config file not found");
    try {
      doc = read_json(path);
    } catch (const DataError& e) {
      throw ConfigError(e.what());
    }
    origin = path;
  }
  for (const auto& o : overrides) apply_override(doc, o);
  Config c = config_from_json(doc, origin);
  if (c.runtime.name.empty() && !path.empty()) c.runtime.name = std::filesystem::path(path).stem().string();
  return c;
}

template <class E>
const char* enum_name(E value) {
  for (const auto& [v, name] : EnumTable<E>::kValues)
    if (v == value) return name;
  return "?";
}

template <class E>
std::vector<std::string> enum_names() {
  std::vector<std::string> names;
  for (const auto& entry : EnumTable<E>::kValues) names.emplace_back(entry.second);
  return names;
}

#define NETADJ_ENUM_API(E)              \
  template const char* enum_name<E>(E); \
  template std::vector<std::string> enum_names<E>();
NETADJ_ENUM_API(Padding)
NETADJ_ENUM_API(DropType)
NETADJ_ENUM_API(FurMetric)
NETADJ_ENUM_API(AmpMode)
NETADJ_ENUM_API(MemoryFormat)
NETADJ_ENUM_API(RescaleMode)
NETADJ_ENUM_API(Budget)
NETADJ_ENUM_API(FurEqualize)
NETADJ_ENUM_API(SelectMode)
NETADJ_ENUM_API(WarmImportance)
NETADJ_ENUM_API(SearchInit)
NETADJ_ENUM_API(ExportFormat)
#undef NETADJ_ENUM_API

std::optional<DeviceChoice> DeviceChoice::parse(const std::string& text) {
  DeviceChoice d;
  if (text == "auto") return d;
  if (text == "cpu") {
    d.kind = Kind::kCpu;
    return d;
  }
  if (text.rfind("cuda", 0) != 0) return std::nullopt;
  d.kind = Kind::kCuda;
  if (text == "cuda") return d;
  const std::string digits = text.substr(std::min<size_t>(5, text.size()));
  if (text[4] != ':' || digits.empty() || digits.size() > 4 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  d.index = std::stoi(digits);
  return d;
}

std::string DeviceChoice::str() const {
  switch (kind) {
    case Kind::kAuto:
      return "auto";
    case Kind::kCpu:
      return "cpu";
    case Kind::kCuda:
      return index < 0 ? "cuda" : "cuda:" + std::to_string(index);
  }
  return "auto";
}

}  // namespace netadj
