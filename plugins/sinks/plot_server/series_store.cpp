#include "plot_server/series_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace tributary::sinks {

namespace {

// A point as it is kept in a spill file: fixed size, so a range is found by its position.
struct SpilledPoint {
  std::int64_t step;
  std::int64_t epoch;
  double time;
  double value;
  std::uint64_t seq;
};

double x_of(const SeriesPoint& p, SeriesAxis axis) {
  return axis == SeriesAxis::step ? static_cast<double>(p.step) : p.time;
}

bool in_range(double x, const SeriesQuery& q) { return (!q.from || x >= *q.from) && (!q.to || x <= *q.to); }

}  // namespace

struct SeriesStore::Series {
  std::string node;
  std::string metric;
  std::deque<SeriesPoint> recent;  // the newest points, oldest first
  std::uint64_t length = 0;
  std::uint64_t spilled = 0;  // points in the file, the oldest ones
  std::uint64_t sent = 0;     // the newest seq take_new() gave out
  std::int64_t first_step = -1;
  std::vector<std::uint64_t> chunks;  // where each chunk of its spilled points starts in the file, oldest first
};

std::vector<std::size_t> decimated_indices(std::size_t n, const std::function<double(std::size_t)>& value,
                                           std::size_t max_points) {
  std::vector<std::size_t> out;
  if (n <= max_points) {
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = i;
    return out;
  }
  const std::size_t buckets = std::max<std::size_t>(1, max_points / 4);
  out.reserve(buckets * 4);
  for (std::size_t b = 0; b < buckets; ++b) {
    const std::size_t begin = b * n / buckets;
    const std::size_t end = (b + 1) * n / buckets;
    if (begin >= end) continue;
    std::size_t low = begin;
    std::size_t high = begin;
    double low_value = value(begin);
    double high_value = low_value;
    for (std::size_t i = begin + 1; i < end; ++i) {
      const double v = value(i);
      if (v < low_value) {
        low = i;
        low_value = v;
      }
      if (v > high_value) {
        high = i;
        high_value = v;
      }
    }
    std::size_t keep[4] = {begin, low, high, end - 1};
    std::sort(std::begin(keep), std::end(keep));
    for (std::size_t k = 0; k < 4; ++k) {
      if (k == 0 || keep[k] != keep[k - 1]) out.push_back(keep[k]);
    }
  }
  return out;
}

std::vector<std::pair<double, double>> decimate(const std::vector<std::pair<double, double>>& points,
                                                std::size_t max_points) {
  if (points.size() <= max_points) return points;
  std::vector<std::pair<double, double>> out;
  for (std::size_t i : decimated_indices(
           points.size(), [&](std::size_t k) { return points[k].second; }, max_points))
    out.push_back(points[i]);
  return out;
}

SeriesStore::SeriesStore(std::size_t history, std::string spill_dir)
    : history_(std::max<std::size_t>(history, 8)),
      spill_dir_(std::move(spill_dir)),
      chunk_points_(std::max<std::size_t>(1, history_ / 8)) {}

SeriesStore::~SeriesStore() {
  if (spill_fd_ >= 0) {
    ::close(spill_fd_);
    ::unlink(spill_path_.c_str());
  }
  std::error_code ignored;
  if (!spill_dir_.empty()) std::filesystem::remove(spill_dir_, ignored);  // only when empty
}

void SeriesStore::add(const std::string& node, const std::string& metric, const SeriesPoint& point) {
  std::lock_guard<std::mutex> lock(mutex_);
  add_locked(node, metric, point);
}

void SeriesStore::add(const std::string& stream, const std::vector<MetricPoint>& points) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const MetricPoint& p : points) {
    add_locked(p.node.empty() ? stream : p.node, p.name, SeriesPoint{p.step, p.epoch, p.time, p.value, 0});
  }
}

void SeriesStore::add_locked(const std::string& node, const std::string& metric, const SeriesPoint& point) {
  key_.assign(node).append(1, ':').append(metric);
  auto it = series_.find(key_);
  if (it == series_.end()) {
    auto s = std::make_unique<Series>();
    s->node = node;
    s->metric = metric;
    it = series_.emplace(key_, std::move(s)).first;
  }
  Series& s = *it->second;
  if (s.recent.size() >= history_) spill(s);
  SeriesPoint p = point;
  p.seq = ++s.length;
  if (s.length == 1) s.first_step = p.step;
  s.recent.push_back(p);
  ++in_memory_;
}

// Moves the oldest eighth of the points in memory to the spill file, as one chunk; when the file
// cannot be written (a full disk) they are dropped, so memory stays bounded either way.
void SeriesStore::spill(Series& s) {
  const std::size_t count = chunk_points_;
  if (!spill_failed_ && spill_fd_ < 0 && !spill_dir_.empty()) {
    std::error_code error;
    std::filesystem::create_directories(spill_dir_, error);
    spill_path_ = spill_dir_ + "/series.bin";
    spill_fd_ = ::open(spill_path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (spill_fd_ < 0) spill_failed_ = true;
  }
  if (spill_fd_ >= 0 && !spill_failed_) {
    std::vector<SpilledPoint> rows;
    rows.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      const SeriesPoint& p = s.recent[i];
      rows.push_back(SpilledPoint{p.step, p.epoch, p.time, p.value, p.seq});
    }
    const char* data = reinterpret_cast<const char*>(rows.data());
    const std::size_t size = rows.size() * sizeof(SpilledPoint);
    std::size_t written = 0;
    while (written < size) {
      const ssize_t n = ::pwrite(spill_fd_, data + written, size - written, static_cast<off_t>(spill_end_ + written));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    if (written == size) {
      s.chunks.push_back(spill_end_);
      spill_end_ += size;
      s.spilled += count;
      spilled_ += count;
    } else {
      // A torn chunk is never listed (and cut off, when the file lets it); spilling stops.
      spill_failed_ = true;
      const int cut = ::ftruncate(spill_fd_, static_cast<off_t>(spill_end_));
      static_cast<void>(cut);
    }
  }
  s.recent.erase(s.recent.begin(), s.recent.begin() + static_cast<std::ptrdiff_t>(count));
  in_memory_ -= count;
}

std::vector<SeriesInfo> SeriesStore::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<SeriesInfo> out;
  out.reserve(series_.size());
  for (const auto& [name, s] : series_) {
    SeriesInfo info{name, s->node, s->metric, s->length, s->first_step, -1, 0.0, 0.0};
    if (!s->recent.empty()) {
      info.last_step = s->recent.back().step;
      info.last_value = s->recent.back().value;
      info.last_time = s->recent.back().time;
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<SeriesView> SeriesStore::query(const std::string& name, const SeriesQuery& q) const {
  std::vector<std::pair<double, double>> selected;
  SeriesView view;
  int fd = -1;
  std::vector<std::uint64_t> chunks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = series_.find(name);
    if (it == series_.end()) return std::nullopt;
    const Series& s = *it->second;
    view.length = s.length;
    view.last_seq = s.length;
    if (spill_fd_ >= 0 && !s.chunks.empty()) {
      fd = ::dup(spill_fd_);  // written chunks never change: they are read without the lock
      chunks = s.chunks;
    }
    std::vector<std::pair<double, double>> recent;
    for (const SeriesPoint& p : s.recent) {
      const double x = x_of(p, q.x);
      if (in_range(x, q)) recent.emplace_back(x, p.value);
    }
    selected.swap(recent);
  }
  if (fd >= 0) {
    std::vector<std::pair<double, double>> older;
    std::vector<SpilledPoint> rows(chunk_points_);
    const std::size_t size = rows.size() * sizeof(SpilledPoint);
    for (const std::uint64_t offset : chunks) {
      std::size_t done = 0;
      while (done < size) {
        const ssize_t n =
            ::pread(fd, reinterpret_cast<char*>(rows.data()) + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      for (std::size_t i = 0; i < done / sizeof(SpilledPoint); ++i) {
        const SpilledPoint& r = rows[i];
        const double x = q.x == SeriesAxis::step ? static_cast<double>(r.step) : r.time;
        if (in_range(x, q)) older.emplace_back(x, r.value);
      }
      if (done < size) break;  // a short read: the chunks after it are not trusted either
    }
    ::close(fd);
    older.insert(older.end(), selected.begin(), selected.end());
    selected.swap(older);
  }
  view.decimated = selected.size() > q.points;
  view.points = decimate(selected, q.points);
  return view;
}

std::vector<std::pair<std::string, std::vector<SeriesPoint>>> SeriesStore::take_new(std::size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<std::string, std::vector<SeriesPoint>>> out;
  for (auto& [name, s] : series_) {
    if (s->sent >= s->length) continue;
    const std::uint64_t fresh = std::min<std::uint64_t>({s->length - s->sent, s->recent.size(), limit});
    std::vector<SeriesPoint> points(s->recent.end() - static_cast<std::ptrdiff_t>(fresh), s->recent.end());
    s->sent = s->length;
    out.emplace_back(name, std::move(points));
  }
  return out;
}

std::size_t SeriesStore::points_in_memory() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_memory_;
}

std::uint64_t SeriesStore::points_spilled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return spilled_;
}

}  // namespace tributary::sinks
