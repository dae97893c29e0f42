#include "plot_server/model_store.hpp"

#include <algorithm>
#include <cmath>

#include "plot_server/http_util.hpp"

namespace tributary::sinks {

namespace {

// `significant` digits, so a float or a count prints short ("0.123", not 0.12300000339746475).
double rounded(double v, int significant) {
  if (!std::isfinite(v) || v == 0.0) return v;
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const int decimals = significant - 1 - magnitude;
  if (decimals <= 0) return std::round(v);
  if (decimals > 20) return v;
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

Json number(double v, int significant = 6) { return std::isfinite(v) ? Json(rounded(v, significant)) : Json(nullptr); }

// An attribute that must be an integer (an integral number is taken too); nullopt when it is not.
std::optional<std::int64_t> integer_of(const Value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  if (v->type() == ValueType::integer) return v->as_int();
  const double d = v->as_number();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

std::optional<double> finite_of(const Value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  const double d = v->as_number();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

bool is_integer_dtype(DType d) { return d == DType::i64 || d == DType::i32 || d == DType::i16 || d == DType::u8; }
bool is_float_dtype(DType d) { return d == DType::f32 || d == DType::f64; }

std::string describe(const Tensor& t) { return std::string(to_string(t.dtype())) + " " + to_string(t.shape()); }

// `model/P/weight|grad/STAT` -> P; empty for any other name. P may itself hold '/'.
std::string parameter_of(const std::string& name) {
  if (name.rfind("model/", 0) != 0) return {};
  const auto last = name.rfind('/');
  if (last == std::string::npos || last <= 6) return {};
  const auto of = name.rfind('/', last - 1);
  if (of == std::string::npos || of <= 6) return {};
  const std::string kind = name.substr(of + 1, last - of - 1);
  if (kind != "weight" && kind != "grad") return {};
  return name.substr(6, of - 6);
}

// The step and epoch attributes of a model packet; an error text when missing or not integers.
std::string read_step_epoch(const Packet& packet, std::int64_t& step, std::int64_t& epoch) {
  const auto s = integer_of(packet.attribute("step"));
  const auto e = integer_of(packet.attribute("epoch"));
  if (!s) return "the attribute 'step' is missing or not an integer";
  if (!e) return "the attribute 'epoch' is missing or not an integer";
  step = *s;
  epoch = *e;
  return {};
}

}  // namespace

struct ModelStore::Histogram {
  std::deque<HistogramSnapshot> kept;  // oldest first; arrival i * stride, then maybe the newest
  bool newest_extra = false;           // the last one is off the stride, kept until a newer one comes
  std::uint64_t received = 0;
  std::uint64_t stride = 1;
  bool fresh = false;
};

ModelStore::ModelStore() = default;
ModelStore::~ModelStore() = default;

ModelStore::Verdict ModelStore::refuse(const char* input, std::string what) {
  // Caller holds mutex_.
  Verdict v{false, std::move(what), false};
  for (auto& r : refusals_) {
    if (r.input == input && r.what == v.what) {
      ++r.count;
      return v;
    }
  }
  if (refusals_.size() >= kRefusalTexts) {  // past that many kinds, counted under the last one
    ++refusals_.back().count;
    return v;
  }
  refusals_.push_back(Refusal{input, v.what, 1});
  v.first = true;
  return v;
}

std::size_t ModelStore::parameter_index(const std::string& name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  index_.emplace(name, order_.size());
  order_.push_back(name);
  parameters_changed_ = true;
  return order_.size() - 1;
}

void ModelStore::note_points(const std::vector<MetricPoint>& points) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const MetricPoint& p : points) {
    if (order_.size() >= kMaxParameters) return;
    const std::string parameter = parameter_of(p.name);
    if (!parameter.empty()) parameter_index(parameter);
  }
}

ModelStore::Verdict ModelStore::add_stats(const Packet& packet) {
  const Value* list = packet.attribute("histograms");
  std::lock_guard<std::mutex> lock(mutex_);
  if (list == nullptr) {
    if (packet.tensors.empty()) return {};
    return refuse("model_stats", std::to_string(packet.tensors.size()) +
                                     " tensors but no 'histograms' attribute saying what they are (a list of "
                                     "{parameter, of, lo, hi, tensor})");
  }
  if (list->type() != ValueType::list) return refuse("model_stats", "the attribute 'histograms' is not a list");
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  if (auto wrong = read_step_epoch(packet, step, epoch); !wrong.empty()) return refuse("model_stats", wrong);
  struct Entry {
    std::string parameter;
    std::string of;
    HistogramSnapshot snapshot;
  };
  std::vector<Entry> entries;
  std::size_t i = 0;
  for (const Value& item : list->as_list()) {
    const std::string where = "histograms[" + std::to_string(i++) + "]";
    if (item.type() != ValueType::table) return refuse("model_stats", where + " is not a table");
    const Value* parameter = item.find("parameter");
    const Value* of = item.find("of");
    if (parameter == nullptr || parameter->type() != ValueType::string || parameter->as_string().empty())
      return refuse("model_stats", where + ": 'parameter' is missing or not a non-empty string");
    if (of == nullptr || of->type() != ValueType::string || (of->as_string() != "weight" && of->as_string() != "grad"))
      return refuse("model_stats", where + ": 'of' must be \"weight\" or \"grad\"");
    const auto lo = finite_of(item.find("lo"));
    const auto hi = finite_of(item.find("hi"));
    if (!lo || !hi) return refuse("model_stats", where + ": 'lo' and 'hi' must be finite numbers");
    if (*lo > *hi) return refuse("model_stats", where + ": 'lo' is above 'hi'");
    const auto index = integer_of(item.find("tensor"));
    if (!index || *index < 0 || *index >= static_cast<std::int64_t>(packet.tensors.size())) {
      return refuse("model_stats", where + ": 'tensor' must be the index of one of the packet's " +
                                       std::to_string(packet.tensors.size()) + " tensors");
    }
    const Tensor& t = packet.tensors[static_cast<std::size_t>(*index)];
    if (t.rank() != 1 || t.numel() < 1 || t.numel() > static_cast<std::int64_t>(kMaxBins) ||
        !(is_float_dtype(t.dtype()) || is_integer_dtype(t.dtype()))) {
      return refuse("model_stats", where + ": tensor " + std::to_string(*index) + " is " + describe(t) +
                                       ", not counts [bins] with 1 to " + std::to_string(kMaxBins) + " bins");
    }
    HistogramSnapshot s{step, epoch, wall_time_s(), *lo, *hi, {}};
    s.counts.resize(static_cast<std::size_t>(t.numel()));
    for (std::int64_t b = 0; b < t.numel(); ++b) {
      const double c = t.at(b);
      if (!std::isfinite(c) || c < 0.0)
        return refuse("model_stats",
                      where + ": tensor " + std::to_string(*index) + " has a negative or non-finite count");
      s.counts[static_cast<std::size_t>(b)] = c;
    }
    entries.push_back(Entry{parameter->as_string(), of->as_string(), std::move(s)});
  }
  for (auto& e : entries) {
    if (index_.count(e.parameter) == 0 && order_.size() >= kMaxParameters) continue;
    parameter_index(e.parameter);
    auto& slot = histograms_[{e.parameter, e.of}];
    if (!slot) {
      slot = std::make_unique<Histogram>();
      parameters_changed_ = true;
    }
    Histogram& h = *slot;
    if (h.newest_extra) {
      values_ -= h.kept.back().counts.size();
      h.kept.pop_back();
    }
    h.newest_extra = h.received % h.stride != 0;
    ++h.received;
    values_ += e.snapshot.counts.size();
    h.kept.push_back(std::move(e.snapshot));
    h.fresh = true;
    while (h.kept.size() > capacity_locked(h.kept.back().counts.size())) thin(h);
  }
  return {};
}

// Caller holds mutex_. Fewer per histogram when many histograms of many bins share kMaxValues.
std::size_t ModelStore::capacity_locked(std::size_t bins) const {
  const std::size_t per = kMaxValues / std::max<std::size_t>(1, histograms_.size() * std::max<std::size_t>(1, bins));
  return std::clamp<std::size_t>(per, 8, kSnapshotsPerHistogram);
}

std::size_t ModelStore::capacity() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t bins = 1;
  for (const auto& [key, h] : histograms_) {
    if (!h->kept.empty()) bins = std::max(bins, h->kept.back().counts.size());
  }
  return capacity_locked(bins);
}

// Keeps every other snapshot on the stride (arrivals 0, 2s, 4s...) and the newest, so what is
// kept stays spread evenly over the whole run and the newest is always there.
void ModelStore::thin(Histogram& h) {
  std::optional<HistogramSnapshot> newest;
  if (h.newest_extra) {
    newest = std::move(h.kept.back());
    values_ -= newest->counts.size();
    h.kept.pop_back();
  } else if (h.kept.size() % 2 == 0) {  // the newest on the stride sits at an odd position, which goes
    newest = h.kept.back();
  }
  std::deque<HistogramSnapshot> kept;
  for (std::size_t i = 0; i < h.kept.size(); ++i) {
    if (i % 2 == 0) {
      kept.push_back(std::move(h.kept[i]));
    } else {
      values_ -= h.kept[i].counts.size();
    }
  }
  h.kept = std::move(kept);
  h.stride *= 2;
  h.newest_extra = newest.has_value();
  if (newest) {
    values_ += newest->counts.size();
    h.kept.push_back(std::move(*newest));
  }
}

ModelStore::Verdict ModelStore::add_boundary(const Packet& packet) {
  auto b = std::make_shared<BoundarySnapshot>();
  std::lock_guard<std::mutex> lock(mutex_);
  const char* input = "boundary";
  if (packet.tensors.size() < 5) {
    return refuse(input,
                  "5 tensors expected (classes [G,G], probabilities [G,G], points [N,2], labels [N], "
                  "predictions [N]), not " +
                      std::to_string(packet.tensors.size()));
  }
  const Tensor& cells = packet.tensors[0];
  const Tensor& probability = packet.tensors[1];
  const Tensor& points = packet.tensors[2];
  const Tensor& labels = packet.tensors[3];
  const Tensor& predictions = packet.tensors[4];
  if (cells.rank() != 2 || cells.dim(0) != cells.dim(1) || cells.dim(0) < 1 || cells.dim(0) > kMaxGrid ||
      !is_integer_dtype(cells.dtype())) {
    return refuse(input, "tensor 0 is " + describe(cells) +
                             ", not the classes of a square grid, i64 [G,G] with G 1 to " + std::to_string(kMaxGrid));
  }
  const std::int64_t g = cells.dim(0);
  if (probability.shape() != cells.shape() || !is_float_dtype(probability.dtype()))
    return refuse(input,
                  "tensor 1 is " + describe(probability) + ", not probabilities f32 " + to_string(cells.shape()));
  if (points.rank() != 2 || points.dim(1) != 2 || points.dim(0) > kMaxPoints || !is_float_dtype(points.dtype())) {
    return refuse(input, "tensor 2 is " + describe(points) + ", not points f32 [N,2] with N at most " +
                             std::to_string(kMaxPoints));
  }
  const std::int64_t n = points.dim(0);
  for (int k = 3; k <= 4; ++k) {
    const Tensor& t = packet.tensors[static_cast<std::size_t>(k)];
    if (t.rank() != 1 || t.dim(0) != n || !is_integer_dtype(t.dtype())) {
      return refuse(input, "tensor " + std::to_string(k) + " is " + describe(t) + ", not " +
                               (k == 3 ? "labels" : "predictions") + " i64 [" + std::to_string(n) + "]");
    }
  }
  const auto x0 = finite_of(packet.attribute("x0"));
  const auto x1 = finite_of(packet.attribute("x1"));
  const auto y0 = finite_of(packet.attribute("y0"));
  const auto y1 = finite_of(packet.attribute("y1"));
  if (!x0 || !x1 || !y0 || !y1) return refuse(input, "the attributes x0, x1, y0 and y1 must be finite numbers");
  if (!(*x0 < *x1) || !(*y0 < *y1)) return refuse(input, "the extent is empty: x0 < x1 and y0 < y1 are needed");
  const Value* projection = packet.attribute("projection");
  if (projection == nullptr || projection->type() != ValueType::string ||
      (projection->as_string() != "input" && projection->as_string() != "pca"))
    return refuse(input, "the attribute 'projection' must be \"input\" or \"pca\"");
  if (const Value* explained = packet.attribute("explained"); explained != nullptr) {
    if (explained->type() != ValueType::list || explained->as_list().size() != 2 ||
        !finite_of(&explained->as_list()[0]) || !finite_of(&explained->as_list()[1]))
      return refuse(input, "the attribute 'explained' must be a list of two numbers");
    if (projection->as_string() == "pca")
      b->explained = {explained->as_list()[0].as_number(), explained->as_list()[1].as_number()};
  }
  const Value* classes = packet.attribute("classes");
  if (classes == nullptr || classes->type() != ValueType::list)
    return refuse(input, "the attribute 'classes' (a list of class names) is missing");
  for (const Value& c : classes->as_list()) {
    if (c.type() == ValueType::string) {
      b->classes.push_back(c.as_string());
    } else if (c.is_number()) {
      b->classes.push_back(c.to_string());
    } else {
      return refuse(input, "the attribute 'classes' holds something other than names");
    }
  }
  if (auto wrong = read_step_epoch(packet, b->step, b->epoch); !wrong.empty()) return refuse(input, wrong);
  const auto class_count = static_cast<double>(b->classes.empty() ? 100000 : b->classes.size());
  auto read_classes = [&](const Tensor& t, std::vector<std::int32_t>& out, const char* what) -> std::string {
    out.resize(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double c = t.at(i);
      if (c < 0 || c >= class_count) {
        return std::string(what) + " holds the class " + std::to_string(static_cast<long long>(c)) + ", outside 0 to " +
               std::to_string(static_cast<long long>(class_count) - 1) + " (the 'classes' attribute)";
      }
      out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(c);
    }
    return {};
  };
  if (auto wrong = read_classes(cells, b->cells, "tensor 0"); !wrong.empty()) return refuse(input, wrong);
  if (auto wrong = read_classes(labels, b->labels, "tensor 3"); !wrong.empty()) return refuse(input, wrong);
  if (auto wrong = read_classes(predictions, b->predictions, "tensor 4"); !wrong.empty()) return refuse(input, wrong);
  b->probability.resize(static_cast<std::size_t>(probability.numel()));
  for (std::int64_t i = 0; i < probability.numel(); ++i) {
    const double p = probability.at(i);
    if (!std::isfinite(p)) return refuse(input, "tensor 1 holds a probability that is not finite");
    b->probability[static_cast<std::size_t>(i)] = static_cast<float>(std::clamp(p, 0.0, 1.0));
  }
  b->x.resize(static_cast<std::size_t>(n));
  b->y.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = points.at(2 * i);
    const double y = points.at(2 * i + 1);
    if (!std::isfinite(x) || !std::isfinite(y)) return refuse(input, "tensor 2 holds a point that is not finite");
    b->x[static_cast<std::size_t>(i)] = static_cast<float>(x);
    b->y[static_cast<std::size_t>(i)] = static_cast<float>(y);
  }
  b->grid = g;
  b->x0 = *x0;
  b->x1 = *x1;
  b->y0 = *y0;
  b->y1 = *y1;
  b->projection = projection->as_string();
  b->time = wall_time_s();
  boundaries_.push_back(std::move(b));
  if (boundaries_.size() > kBoundaries) boundaries_.pop_front();
  boundary_fresh_ = true;
  return {};
}

std::vector<ModelStore::Parameter> ModelStore::parameters() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Parameter> out;
  for (const std::string& name : order_) {
    Parameter p{name, std::nullopt, std::nullopt};
    for (const char* of : {"weight", "grad"}) {
      auto it = histograms_.find({name, of});
      if (it == histograms_.end() || it->second->kept.empty()) continue;
      const Histogram& h = *it->second;
      HistogramInfo info{h.kept.size(), h.received, h.kept.back().counts.size(), h.kept.front().step,
                         h.kept.back().step};
      (std::string(of) == "weight" ? p.weight : p.grad) = info;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<std::vector<HistogramSnapshot>> ModelStore::histograms(const std::string& parameter,
                                                                     const std::string& of) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = histograms_.find({parameter, of});
  if (it == histograms_.end()) return std::nullopt;
  return std::vector<HistogramSnapshot>(it->second->kept.begin(), it->second->kept.end());
}

std::shared_ptr<const BoundarySnapshot> ModelStore::boundary(std::optional<std::int64_t> step) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (boundaries_.empty()) return nullptr;
  if (!step) return boundaries_.back();
  for (const auto& b : boundaries_) {
    if (b->step == *step) return b;
  }
  return nullptr;
}

std::vector<std::pair<std::int64_t, std::int64_t>> ModelStore::boundary_steps() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& b : boundaries_) out.emplace_back(b->step, b->epoch);
  return out;
}

std::size_t ModelStore::values_in_memory() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return values_;
}

std::vector<ModelStore::Refusal> ModelStore::refusals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return refusals_;
}

ModelStore::Fresh ModelStore::take_new(std::size_t max_values) {
  std::lock_guard<std::mutex> lock(mutex_);
  Fresh f;
  // From the one after the last sent, around, so none waits for ever behind the others.
  const auto start = histograms_.upper_bound(live_cursor_);
  std::size_t values = 0;
  auto visit = [&](auto begin, auto end) {
    for (auto it = begin; it != end; ++it) {
      Histogram& h = *it->second;
      if (!h.fresh) continue;
      const std::size_t bins = h.kept.back().counts.size();
      if (!f.histograms.empty() && values + bins > max_values) return false;
      values += bins;
      h.fresh = false;
      live_cursor_ = it->first;
      f.histograms.emplace_back(it->first.first, it->first.second, h.kept.back());
    }
    return true;
  };
  if (visit(start, histograms_.end())) visit(histograms_.begin(), start);
  f.parameters_changed = parameters_changed_;
  parameters_changed_ = false;
  if (boundary_fresh_ && !boundaries_.empty()) f.boundary = boundaries_.back();
  boundary_fresh_ = false;
  return f;
}

// ---- JSON ---------------------------------------------------------------------------------
namespace {

Json snapshot_json(const HistogramSnapshot& s) {
  Json counts = Json::array();
  for (double c : s.counts) counts.push_back(number(c));
  return Json{{"step", s.step},     {"epoch", s.epoch},   {"time", s.time},
              {"lo", number(s.lo)}, {"hi", number(s.hi)}, {"counts", std::move(counts)}};
}

Json info_json(const std::optional<HistogramInfo>& info) {
  if (!info) return nullptr;
  return Json{{"snapshots", info->snapshots},
              {"received", info->received},
              {"bins", info->bins},
              {"first_step", info->first_step},
              {"last_step", info->last_step}};
}

Json boundary_summary(const BoundarySnapshot& b) {
  Json explained = b.explained.empty() ? Json(nullptr) : Json::array({number(b.explained[0]), number(b.explained[1])});
  return Json{{"step", b.step},       {"epoch", b.epoch},           {"time", b.time},         {"grid", b.grid},
              {"points", b.x.size()}, {"projection", b.projection}, {"explained", explained}, {"classes", b.classes}};
}

}  // namespace

std::string model_json(const ModelStore& store) {
  Json parameters = Json::array();
  for (const auto& p : store.parameters())
    parameters.push_back(Json{{"name", p.name}, {"weight", info_json(p.weight)}, {"grad", info_json(p.grad)}});
  Json boundaries = Json::array();
  for (const auto& [step, epoch] : store.boundary_steps()) boundaries.push_back(Json{{"step", step}, {"epoch", epoch}});
  const auto newest = store.boundary();
  Json refused = Json::array();
  for (const auto& r : store.refusals())
    refused.push_back(Json{{"input", r.input}, {"what", r.what}, {"count", r.count}});
  return dump(Json{{"parameters", std::move(parameters)},
                   {"capacity", store.capacity()},
                   {"boundary", newest ? boundary_summary(*newest) : Json(nullptr)},
                   {"boundaries", std::move(boundaries)},
                   {"refused", std::move(refused)}});
}

std::optional<std::string> histograms_json(const ModelStore& store, const std::string& parameter,
                                           const std::string& of) {
  const auto snapshots = store.histograms(parameter, of);
  if (!snapshots) return std::nullopt;
  Json list = Json::array();
  for (const auto& s : *snapshots) list.push_back(snapshot_json(s));
  return dump(
      Json{{"parameter", parameter}, {"of", of}, {"capacity", store.capacity()}, {"snapshots", std::move(list)}});
}

std::string boundary_json(const BoundarySnapshot& b) {
  Json j = boundary_summary(b);
  j["x0"] = b.x0;
  j["x1"] = b.x1;
  j["y0"] = b.y0;
  j["y1"] = b.y1;
  j["cells"] = b.cells;
  Json probability = Json::array();
  for (float p : b.probability) probability.push_back(std::round(static_cast<double>(p) * 1000.0) / 1000.0);
  j["probability"] = std::move(probability);
  Json x = Json::array();
  Json y = Json::array();
  for (float v : b.x) x.push_back(number(v, 5));
  for (float v : b.y) y.push_back(number(v, 5));
  j["x"] = std::move(x);
  j["y"] = std::move(y);
  j["labels"] = b.labels;
  j["predictions"] = b.predictions;
  return dump(j);
}

std::vector<std::string> model_live_messages(const ModelStore::Fresh& fresh) {
  std::vector<std::string> out;
  if (!fresh.histograms.empty() || fresh.parameters_changed) {
    Json list = Json::array();
    for (const auto& [parameter, of, snapshot] : fresh.histograms) {
      Json s = snapshot_json(snapshot);
      s["parameter"] = parameter;
      s["of"] = of;
      list.push_back(std::move(s));
    }
    out.push_back(dump(
        Json{{"type", "model"}, {"parameters_changed", fresh.parameters_changed}, {"histograms", std::move(list)}}));
  }
  if (fresh.boundary) out.push_back(dump(Json{{"type", "boundary"}, {"boundary", boundary_summary(*fresh.boundary)}}));
  return out;
}

}  // namespace tributary::sinks
