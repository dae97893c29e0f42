#include "cache/cache.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "tributary/downstream_room.hpp"

namespace tributary::features {

namespace fs = std::filesystem;

namespace {

// splitmix64: the replay order follows from the seed and the epoch alone, on every platform.
class ReplayRandom {
 public:
  explicit ReplayRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

std::string megabytes(std::uint64_t bytes) { return concat(static_cast<double>(bytes) / 1e6, " MB"); }

}  // namespace

void Cache::declare(NodeSpec& spec) {
  spec.summary(
      "remembers one epoch of a data-set pipeline per item (in memory within max_bytes, spilling to disk) and "
      "replays it for the later epochs, shuffled, so they decode nothing");
  spec.input(kIn);
  spec.output(kOut);
  spec.keeps_kinds(kIn, kOut);
  // Replaying an epoch is long work: it runs on a thread of its own, not on a worker.
  spec.thread(NodeThread::own);
  spec.param<std::int64_t>("epochs", 1,
                           "epochs emitted in all: the first as it comes, then replays; give the source epochs = 1")
      .range(1, 1000000);
  spec.param<bool>("shuffle", false, "replay the train packets in a new order each epoch (val and test stay in place)");
  spec.param<std::int64_t>("seed", 0, "random seed of the replay order").min(0);
  spec.param<std::string>("key", "path",
                          "the attribute that names an item (the file's path from audio_dataset); empty: the "
                          "packet's position in the first epoch");
  spec.param<std::int64_t>("max_bytes", std::int64_t{1} << 30,
                           "tensor bytes kept in memory; the tensors of later items are spilled to a file in `dir`")
      .min(0);
  spec.param<std::string>("dir", "", "folder of the spill file; empty: cache/ in the run directory").output_folder();
  spec.example(R"([pipeline]
name  = "cache-demo"
links = [ "tone -> cache", "cache -> mel", "mel -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.cache]
plugin  = "cache"
key     = ""          # synthetic packets have no path: key by position
epochs  = 3

[nodes.mel]
plugin = "mel"
n_mels = 40

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/mel.jsonl"
)");
}

Cache::Cache() = default;
Cache::~Cache() { close_spill(); }

void Cache::configure(const Params& params) {
  epochs_ = params.get<std::int64_t>("epochs");
  shuffle_ = params.get<bool>("shuffle");
  seed_ = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  key_ = params.get<std::string>("key");
  max_bytes_ = static_cast<std::uint64_t>(params.get<std::int64_t>("max_bytes"));
  dir_ = params.get<std::string>("dir");
}

void Cache::start() {
  entries_.clear();
  steps_.clear();
  keys_.clear();
  memory_bytes_ = spilled_bytes_ = next_sequence_ = 0;
  first_epoch_ = 0;
  epoch_ended_ = false;
  close_spill();
  const fs::path dir = dir_.empty() ? fs::path(context().run_dir()) / "cache" : fs::path(dir_);
  spill_path_ = (dir / (context().node_name() + ".spill")).string();
}

std::string Cache::key_of(const Packet& packet) const {
  if (key_.empty()) return std::to_string(entries_.size());
  const Value* value = packet.attribute(key_);
  if (value == nullptr) {
    throw std::runtime_error(context().node_name() + ": packet " + std::to_string(packet.sequence) + " of stream '" +
                             packet.stream + "' has no '" + key_ + "' attribute to name its item by; set key to an " +
                             "attribute every packet has, or key = \"\" to name items by their position");
  }
  return value->type() == ValueType::string ? value->as_string() : value->to_string();
}

void Cache::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  if (epoch_ended_) {
    throw std::runtime_error(context().node_name() +
                             ": a packet came after the first epoch's end: the cache replays the later epochs "
                             "itself; give the source epochs = 1 and the cache epochs = N");
  }
  store(packet);
  next_sequence_ = std::max(next_sequence_, packet->sequence + 1);
  if (const Value* e = packet->attribute("epoch"); e != nullptr && e->type() == ValueType::integer) {
    first_epoch_ = e->as_int();
  }
  auto passed = std::make_shared<Packet>(*packet);  // tensors are shared, not copied
  passed->set_attribute("epochs", epochs_);
  out.emit(kOut, std::move(passed));
}

void Cache::store(const PacketPtr& packet) {
  const std::string key = key_of(*packet);
  if (!keys_.insert(key).second) {
    throw std::runtime_error(context().node_name() + ": two packets name the item '" + key + "' (attribute '" + key_ +
                             "') in one epoch; the cache needs one packet per item");
  }
  std::uint64_t bytes = 0;
  for (const Tensor& t : packet->tensors) bytes += t.nbytes();
  Entry entry;
  if (memory_bytes_ + bytes <= max_bytes_) {
    entry.packet = packet;
    memory_bytes_ += bytes;
  } else {
    entry.spilled = spill(*packet);
    auto meta = std::make_shared<Packet>(*packet);
    meta->tensors.clear();
    entry.packet = std::move(meta);
  }
  steps_.push_back(Step{static_cast<std::int64_t>(entries_.size()), {}});
  entries_.push_back(std::move(entry));
}

std::vector<Cache::SpilledTensor> Cache::spill(const Packet& packet) {
  const auto fail = [&](const std::string& what) {
    const int error = errno;
    throw std::runtime_error(context().node_name() + ": cannot " + what + " the spill file " + spill_path_ + ": " +
                             std::strerror(error) + " (" + megabytes(spilled_bytes_) +
                             " spilled so far): free space there, set dir to a larger disk, or raise max_bytes");
  };
  if (spill_ == nullptr) {
    std::error_code ec;
    fs::create_directories(fs::path(spill_path_).parent_path(), ec);
    spill_ = std::fopen(spill_path_.c_str(), "w+b");
    if (spill_ == nullptr) fail("create");
    log().info("memory budget of ", megabytes(max_bytes_), " reached: spilling to ", spill_path_);
  }
  std::vector<SpilledTensor> spilled;
  for (const Tensor& t : packet.tensors) {
    SpilledTensor s{t.dtype(), t.shape(), spilled_bytes_, t.nbytes()};
    if (s.bytes > 0 && std::fwrite(t.raw(), 1, s.bytes, spill_) != s.bytes) fail("write to");
    spilled_bytes_ += s.bytes;
    spilled.push_back(std::move(s));
  }
  // A full disk shows at once, not replays later.
  if (std::fflush(spill_) != 0) fail("write to");
  return spilled;
}

PacketPtr Cache::load(const Entry& entry) const {
  if (entry.spilled.empty()) return entry.packet;
  auto packet = std::make_shared<Packet>(*entry.packet);
  for (const SpilledTensor& s : entry.spilled) {
    Tensor t = Tensor::empty(s.dtype, s.shape);
    std::uint64_t done = 0;
    auto* to = static_cast<char*>(t.raw());
    while (done < s.bytes) {
      const ssize_t n = ::pread(fileno(spill_), to + done, s.bytes - done, static_cast<off_t>(s.offset + done));
      if (n <= 0) {
        throw std::runtime_error(context().node_name() + ": cannot read back the spill file " + spill_path_ + ": " +
                                 (n == 0 ? std::string("it is shorter than written") : std::strerror(errno)));
      }
      done += static_cast<std::uint64_t>(n);
    }
    packet->tensors.push_back(std::move(t));
  }
  return packet;
}

void Cache::on_marker(const InputPort& port, const Marker& marker, Emitter& out) {
  if (marker.kind == MarkerKind::end_of_stream) return;
  if (epoch_ended_) {
    throw std::runtime_error(context().node_name() +
                             ": a second epoch came: the cache replays the later epochs itself; give the source "
                             "epochs = 1 and the cache epochs = N");
  }
  if (marker.kind == MarkerKind::epoch_end) {
    epoch_ended_ = true;
    first_epoch_ = marker.epoch;
  }
  steps_.push_back(Step{-1, marker});
  Node::on_marker(port, marker, out);
}

void Cache::flush(Emitter& out) {
  if (spill_ != nullptr && std::fflush(spill_) != 0) {
    throw std::runtime_error(context().node_name() + ": cannot write the spill file " + spill_path_ + ": " +
                             std::strerror(errno) + ": free space there, set dir to a larger disk, or raise max_bytes");
  }
  log().info("cached ", entries_.size(), " items: ", megabytes(memory_bytes_), " in memory, ",
             megabytes(spilled_bytes_), " spilled", spill_ != nullptr ? " to " + spill_path_ : std::string());
  context().metric("cache/items", static_cast<double>(entries_.size()));
  context().metric("cache/memory_bytes", static_cast<double>(memory_bytes_));
  context().metric("cache/spilled_bytes", static_cast<double>(spilled_bytes_));
  if (entries_.empty()) return;
  // A stream without an epoch marker is one epoch: it gets its marker before the replays.
  if (!epoch_ended_ && epochs_ > 1) {
    const Marker end{MarkerKind::epoch_end, first_epoch_, Split::none, context().node_name()};
    steps_.push_back(Step{-1, end});
    out.mark(end);
  }
  for (std::int64_t r = 1; r < epochs_; ++r) {
    if (context().stop_requested()) break;
    replay(first_epoch_ + r, out);
  }
}

void Cache::replay(std::int64_t epoch, Emitter& out) {
  // The train packets trade places among the train packets' positions; everything else stays.
  std::vector<std::int64_t> order;
  order.reserve(entries_.size());
  for (const Step& s : steps_) {
    if (s.entry >= 0) order.push_back(s.entry);
  }
  if (shuffle_) {
    std::vector<std::size_t> train;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (entries_[static_cast<std::size_t>(order[i])].packet->split == Split::train) train.push_back(i);
    }
    ReplayRandom random(seed_ * 0xD1B54A32D192ED03ull ^ static_cast<std::uint64_t>(epoch));
    for (std::size_t i = train.size(); i > 1; --i) {
      std::swap(order[train[i - 1]], order[train[static_cast<std::size_t>(random.next() % i)]]);
    }
  }
  // Emitting a whole epoch at once would queue all of it below: wait for room as a source does.
  auto* room = static_cast<DownstreamRoom*>(context().extension(DownstreamRoom::kName, DownstreamRoom::kVersion));
  std::size_t next = 0;
  for (const Step& s : steps_) {
    if (context().stop_requested() || (room != nullptr && !room->wait())) return;
    if (s.entry < 0) {
      Marker m = s.marker;
      m.epoch = epoch;
      out.mark(m);
      continue;
    }
    const PacketPtr stored = load(entries_[static_cast<std::size_t>(order[next++])]);
    auto packet = std::make_shared<Packet>(*stored);
    packet->sequence = next_sequence_++;
    packet->set_attribute("epoch", epoch);
    packet->set_attribute("epochs", epochs_);
    out.emit(kOut, std::move(packet));
  }
}

void Cache::close_spill() {
  if (spill_ == nullptr) return;
  std::fclose(spill_);
  spill_ = nullptr;
  std::error_code ec;
  fs::remove(spill_path_, ec);
}

void Cache::stop() { close_spill(); }

}  // namespace tributary::features
