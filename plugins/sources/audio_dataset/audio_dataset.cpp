#include "audio_dataset/audio_dataset.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "audio_dataset/wav_decoder.hpp"
#include "gstreamer/stream.hpp"
#include "gstreamer/tensors.hpp"
#include "sampling/seeded_random.hpp"
#include "tabular/csv_fields.hpp"

namespace tributary::sources {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSplitStream = 1;  // sub-streams of the seed
constexpr std::uint64_t kShuffleStream = 2;
constexpr auto kPollSlice = std::chrono::milliseconds(50);

// FNV-1a: a split follows from a file's own name, so adding files never moves the others.
std::uint64_t hash_of(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::string trim(const std::string& text) {
  std::string_view view = trim_blanks(text);
  while (!view.empty() && view.back() == '\r') view = trim_blanks(view.substr(0, view.size() - 1));
  return std::string(view);
}

bool is_wav(const std::string& path) {
  const std::string name = lower(path);
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".wav") == 0;
}

bool all_integers(const std::set<std::string>& names) {
  return std::all_of(names.begin(), names.end(), [](const std::string& n) {
    return !n.empty() && n.size() < 18 &&
           std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); });
  });
}

// Class names in label order: numerically when every name is a number, otherwise sorted.
std::vector<std::string> ordered_classes(const std::set<std::string>& names) {
  std::vector<std::string> classes(names.begin(), names.end());
  if (all_integers(names)) {
    std::sort(classes.begin(), classes.end(),
              [](const std::string& a, const std::string& b) { return std::stoll(a) < std::stoll(b); });
  }
  return classes;
}

}  // namespace

void AudioDataset::declare(NodeSpec& spec) {
  spec.summary(
      "a labelled audio data set (a folder of class folders, or a manifest CSV) decoded by GStreamer into "
      "fixed-length clips with deterministic, seedable splits");
  spec.output(kOut);
  spec.source(SourceMode::pull);
  spec.param<std::string>("path", "",
                          "a folder with one sub-folder per class (the sub-folder's name is the class); audio files "
                          "anywhere below it belong to that class")
      .input_folder();
  spec.param<std::string>("manifest", "",
                          "a CSV file of path,label[,split] rows (a header row is optional); paths relative to the "
                          "manifest's folder; split is train, val or test, or empty to draw it")
      .input_path();
  spec.param<std::int64_t>("rate", 16000, "samples per second of the clips, resampled by GStreamer")
      .range(1000, 384000);
  spec.param<std::int64_t>("channels", 1, "channels of the clips, mixed or duplicated by GStreamer").range(1, 64);
  spec.param<std::int64_t>("clip_ms", 1000,
                           "length of every clip: longer files are cut, shorter ones zero-padded at the end")
      .range(1, 3600000);
  spec.param<std::int64_t>("seed", 0, "random seed for the splits and the shuffling");
  SplitFractions::declare(spec);
  spec.param<bool>("shuffle", false, "visit the files in a different order in each epoch, the same on every run");
  spec.param<std::int64_t>("epochs", 1, "passes over the data set").min(1);
  spec.param<std::string>("on_error", "fail",
                          "a file that cannot be read or decoded: fail the run naming it, or skip it (logged with its "
                          "path and counted in dataset/skipped)")
      .choices({"fail", "skip"});
  spec.param<bool>("cache", false,
                   "keep decoded clips in memory after the first epoch (rate x clip_ms x 4 bytes each)");
  spec.param<std::int64_t>("decoders", 2,
                           "files decoded at the same time, of every format, on threads of their own ahead of the one "
                           "being emitted; the clips and their order are the same for any number")
      .range(1, 64);
  spec.param<std::vector<std::string>>("extensions", {".wav", ".flac", ".ogg", ".opus", ".mp3"},
                                       "file name endings read from a folder (case-insensitive)");
  spec.example(R"(# The spoken-keyword data set as labelled 1 s clips in a JSON Lines file, two shuffled epochs.
# Make the data first: scripts/make-kws-dataset.sh data/kws
[pipeline]
name  = "kws-clips"
links = [ "clips -> export" ]

[nodes.clips]
plugin  = "audio_dataset"
path    = "data/kws"
clip_ms = 1000
shuffle = true
epochs  = 2

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/clips.jsonl")");
}

void AudioDataset::configure(const Params& params) {
  folder_ = params.get<std::string>("path");
  manifest_ = params.get<std::string>("manifest");
  if (folder_.empty() == manifest_.empty()) {
    throw ParamError(folder_.empty() ? "path" : "manifest",
                     folder_.empty() ? "set 'path' (a folder of class folders) or 'manifest' (a CSV of path,label)"
                                     : "set only one of 'path' and 'manifest'");
  }
  rate_ = params.get<int>("rate");
  channels_ = params.get<int>("channels");
  clip_ms_ = params.get<std::int64_t>("clip_ms");
  seed_ = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  fractions_ = SplitFractions::from(params);
  shuffle_ = params.get<bool>("shuffle");
  epochs_ = params.get<std::int64_t>("epochs");
  skip_errors_ = params.get<std::string>("on_error") == "skip";
  cache_ = params.get<bool>("cache");
  decoders_ = params.get<std::int64_t>("decoders");
  extensions_.clear();
  for (const auto& e : params.get<std::vector<std::string>>("extensions")) extensions_.push_back(lower(e));
}

void AudioDataset::start() {
  started_ = true;
  items_.clear();
  classes_.clear();
  if (!folder_.empty()) {
    list_folder();
  } else {
    read_manifest();
  }
  assign_splits();

  std::vector<std::vector<std::int64_t>> counts(3, std::vector<std::int64_t>(classes_.size(), 0));
  for (const auto& item : items_) {
    const int s = item.split == Split::train ? 0 : item.split == Split::val ? 1 : 2;
    counts[static_cast<std::size_t>(s)][static_cast<std::size_t>(item.label)] += 1;
  }
  auto as_list = [](const std::vector<std::int64_t>& v) { return Value(std::vector<Value>(v.begin(), v.end())); };
  counts_value_ =
      Value::table({{"train", as_list(counts[0])}, {"val", as_list(counts[1])}, {"test", as_list(counts[2])}});
  classes_value_ = Value(std::vector<Value>(classes_.begin(), classes_.end()));

  log().info(items_.size(), " files in ", classes_.size(), " classes from ", folder_.empty() ? manifest_ : folder_,
             "; clips of ", clip_ms_, " ms at ", rate_, " Hz");
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    log().info("class ", c, " '", classes_[c], "': train ", counts[0][c], ", val ", counts[1][c], ", test ",
               counts[2][c]);
  }
  cached_.assign(cache_ ? items_.size() : 0, std::nullopt);
  unreadable_.assign(items_.size(), false);
  order_.resize(items_.size());
  cursor_ = 0;
  epoch_ = 0;
  sequence_ = 0;
  emitted_in_epoch_ = 0;
  skipped_ = 0;
}

void AudioDataset::list_folder() {
  std::error_code ec;
  if (!fs::is_directory(folder_, ec)) {
    throw std::runtime_error("the data set folder '" + folder_ + "' " +
                             (fs::exists(folder_, ec) ? "is not a folder" : "does not exist") + " (path = \"" +
                             folder_ + "\"): it should hold one sub-folder per class");
  }
  std::vector<fs::path> class_dirs;
  for (const auto& entry : fs::directory_iterator(folder_)) {
    if (entry.is_directory()) class_dirs.push_back(entry.path());
  }
  std::set<std::string> names;
  for (const auto& dir : class_dirs) names.insert(dir.filename().string());
  classes_ = ordered_classes(names);
  std::map<std::string, std::int64_t> index;
  for (std::size_t i = 0; i < classes_.size(); ++i) index[classes_[i]] = static_cast<std::int64_t>(i);

  for (const auto& dir : class_dirs) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      const std::string name = lower(entry.path().filename().string());
      const bool wanted = std::any_of(extensions_.begin(), extensions_.end(), [&](const std::string& ext) {
        return name.size() >= ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
      });
      if (wanted) files.push_back(fs::relative(entry.path(), folder_).generic_string());
    }
    for (auto& key : files) {
      Item item;
      item.path = (fs::path(folder_) / key).string();
      item.key = std::move(key);
      item.label = index[dir.filename().string()];
      item.wav = is_wav(item.path);
      items_.push_back(std::move(item));
    }
  }
  std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.key < b.key; });
  if (items_.empty()) {
    std::string endings;
    for (const auto& e : extensions_) endings += (endings.empty() ? "" : ", ") + e;
    throw std::runtime_error("the data set folder '" + folder_ + "' holds no audio files (" + endings +
                             ") in sub-folders: put each class's files in a folder named after the class");
  }
}

void AudioDataset::read_manifest() {
  std::ifstream in(manifest_);
  if (!in) {
    throw std::runtime_error("cannot open the manifest '" + manifest_ + "': " + std::strerror(errno) +
                             " (manifest = \"" + manifest_ + "\")");
  }
  const fs::path base = fs::path(manifest_).parent_path();
  struct Row {
    std::string path;
    std::string label;
    std::string split;
    std::size_t line;
  };
  std::vector<Row> rows;
  std::string line;
  std::vector<std::string> fields;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string content = trim(line);
    if (content.empty() || content[0] == '#') continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    split_csv_line(line, ',', fields);
    if (rows.empty() && number == 1 && !fields.empty() && lower(fields[0]) == "path") continue;  // a header
    const std::string where = manifest_ + ":" + std::to_string(number) + ": ";
    if (fields.size() < 2 || fields.size() > 3) {
      throw std::runtime_error(where + "expected path,label or path,label,split, found " +
                               std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s"));
    }
    if (fields[0].empty()) throw std::runtime_error(where + "the path is empty");
    if (fields[1].empty()) throw std::runtime_error(where + "the label of " + fields[0] + " is empty");
    std::string split = fields.size() == 3 ? lower(fields[2]) : "";
    if (!split.empty() && !parse_split(split)) {
      throw std::runtime_error(where + "the split is \"" + fields[2] + "\": write train, val, test, or leave it empty");
    }
    rows.push_back({fields[0], fields[1], split, number});
  }
  if (rows.empty()) throw std::runtime_error("the manifest '" + manifest_ + "' lists no files");
  std::set<std::string> names;
  for (const auto& r : rows) names.insert(r.label);
  classes_ = ordered_classes(names);
  std::map<std::string, std::int64_t> index;
  for (std::size_t i = 0; i < classes_.size(); ++i) index[classes_[i]] = static_cast<std::int64_t>(i);
  for (auto& r : rows) {
    Item item;
    item.path = fs::path(r.path).is_absolute() ? r.path : (base / r.path).string();
    item.key = r.path;
    item.label = index[r.label];
    item.split = r.split.empty() ? Split::none : *parse_split(r.split);
    item.wav = is_wav(item.path);
    items_.push_back(std::move(item));
  }
}

void AudioDataset::assign_splits() {
  const std::uint64_t split_seed = SeededRandom::derive(seed_, kSplitStream);
  for (auto& item : items_) {
    if (item.split != Split::none) continue;
    SeededRandom random(SeededRandom::derive(split_seed, hash_of(item.key)));
    item.split = fractions_.draw(random);
  }
}

void AudioDataset::order_epoch() { epoch_order(order_, shuffle_, seed_, kShuffleStream, epoch_); }

void AudioDataset::end_epoch(Emitter& out) {
  // In band: every node downstream (a trainer) sees the epoch end after its last clip.
  out.mark(Marker{MarkerKind::epoch_end, epoch_, Split::none, context().node_name()});
  log().info("epoch ", epoch_, " done: ", emitted_in_epoch_, " clips",
             skipped_ > 0 ? concat(", ", skipped_, " files skipped") : "");
  context().metric("dataset/epoch_clips", static_cast<double>(emitted_in_epoch_), -1, epoch_);
}

// Threads that decode files ahead of the stream, each with its own WAV decoder (a
// GstAudioConverter serves one thread), taking the files in the order they are asked for.
class AudioDataset::DecoderThreads {
 public:
  DecoderThreads(const AudioDataset& node, std::size_t count) : node_(node) {
    ensure_gstreamer();  // here, so a failure reaches the node with GStreamer's reason
    try {
      for (std::size_t i = 0; i < count; ++i) threads_.emplace_back([this] { run(); });
    } catch (...) {
      end();  // the threads started so far
      throw;
    }
  }
  ~DecoderThreads() { end(); }
  DecoderThreads(const DecoderThreads&) = delete;
  DecoderThreads& operator=(const DecoderThreads&) = delete;

  std::future<Decoded> submit(std::size_t index) {
    std::promise<Decoded> promise;
    std::future<Decoded> decoded = promise.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back({index, std::move(promise)});
    }
    wake_.notify_one();
    return decoded;
  }

 private:
  struct Job {
    std::size_t index = 0;
    std::promise<Decoded> promise;
  };

  void run() {
    std::unique_ptr<WavDecoder> wav;
    std::exception_ptr failed;
    try {
      wav = std::make_unique<WavDecoder>(node_.rate_, node_.channels_);
    } catch (...) {
      failed = std::current_exception();
    }
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;  // what is left is not waited for: the node is stopping
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        if (failed) std::rethrow_exception(failed);
        job.promise.set_value(node_.decode_on(*wav, node_.items_[job.index]));
      } catch (...) {
        job.promise.set_exception(std::current_exception());
      }
    }
  }

  void end() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  const AudioDataset& node_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: started once the rest is ready
};

AudioDataset::Decoded AudioDataset::decode(const Item& item) const {
  std::error_code ec;
  if (!fs::is_regular_file(item.path, ec)) {
    return {std::nullopt, fs::exists(item.path, ec) ? "not a regular file" : "the file does not exist", {}};
  }
  try {
    return {decode_with(item.path, "decodebin"), {}, {}};
  } catch (const std::exception& e) {
    return {std::nullopt, e.what(), {}};
  }
}

Tensor AudioDataset::decode_with(const std::string& path, const char* parser) const {
  const std::int64_t samples = static_cast<std::int64_t>(rate_) * clip_ms_ / 1000;
  Tensor clip = Tensor::zeros(DType::f32, {samples, channels_});
  auto* to = clip.data<float>();
  const std::size_t wanted = static_cast<std::size_t>(samples) * static_cast<std::size_t>(channels_);
  std::size_t filled = 0;
  GstStream::Options options;
  options.description = std::string("filesrc name=src ! ") + parser + " ! audioconvert ! audioresample";
  options.properties.push_back({"src", "location", path});
  options.caps = concat("audio/x-raw,format=F32LE,layout=interleaved,rate=", rate_, ",channels=", channels_);
  options.max_buffers = 8;
  GstStream stream(std::move(options));
  stream.start();
  // Decoding stops once the clip is full: the rest of a long file is never read.
  while (filled < wanted) {
    auto sample = stream.pull(kPollSlice, [this] { return !cancel_.load(std::memory_order_relaxed); });
    if (!sample) break;
    const Tensor buffer = audio_tensor(*sample);
    const auto n = std::min(wanted - filled, static_cast<std::size_t>(buffer.numel()));
    std::memcpy(to + filled, buffer.data<float>(), n * sizeof(float));
    filled += n;
  }
  stream.stop();
  return clip;
}

AudioDataset::Decoded AudioDataset::decode_on(WavDecoder& wav, const Item& item) const {
  std::string refused;
  if (item.wav) {
    const std::int64_t samples = static_cast<std::int64_t>(rate_) * clip_ms_ / 1000;
    try {
      if (auto clip = wav.decode(item.path, samples, refused)) return {std::move(clip), {}, {}};
    } catch (const std::exception& e) {
      return {std::nullopt, e.what(), {}};  // skipped or failed by on_error, as any other file
    }
  }
  // Any other format, and a WAV file whose header is not read here (another encoding, a broken
  // header): decodebin decodes it or says what is wrong.
  Decoded decoded = decode(item);
  if (!decoded.clip && !refused.empty()) decoded.error += " (its WAV header: " + refused + ")";
  decoded.refused = std::move(refused);
  return decoded;
}

void AudioDataset::decode_ahead() {
  if (!threads_) threads_ = std::make_unique<DecoderThreads>(*this, static_cast<std::size_t>(decoders_));
  // Two files in line per thread, so no thread waits for the node to take a clip.
  while (ahead_.size() < 2 * static_cast<std::size_t>(decoders_) && ahead_cursor_ < order_.size()) {
    const std::size_t index = order_[ahead_cursor_++];
    if (unreadable_[index] || (cache_ && cached_[index])) continue;
    ahead_.push_back({index, threads_->submit(index)});
  }
}

std::optional<Tensor> AudioDataset::take_clip(std::size_t index) {
  if (unreadable_[index]) return std::nullopt;
  if (cache_ && cached_[index]) return cached_[index];
  decode_ahead();
  if (ahead_.empty() || ahead_.front().index != index) {
    throw std::logic_error("audio_dataset: decoding fell out of step with the epoch's order");
  }
  Decoded decoded = ahead_.front().decoded.get();
  ahead_.pop_front();
  const Item& item = items_[index];
  if (!decoded.refused.empty()) log().debug("'", item.path, "' is decoded by decodebin: ", decoded.refused);
  if (context().stop_requested()) return std::nullopt;
  decode_ahead();
  if (!decoded.clip) {
    unreadable_[index] = true;
    const std::string message = "'" + item.path + "' could not be decoded as audio: " + decoded.error;
    if (!skip_errors_) throw std::runtime_error(message + " (on_error = \"skip\" goes on without it)");
    ++skipped_;
    log().warn("skipping ", message);
    context().metric("dataset/skipped", static_cast<double>(skipped_), -1, epoch_);
    return std::nullopt;
  }
  if (cache_) cached_[index] = decoded.clip;
  return std::move(decoded.clip);
}

void AudioDataset::stop() {
  cancel_.store(true);
  threads_.reset();  // waits for the decoders, which give up at once
  ahead_.clear();
  cancel_.store(false);
}

AudioDataset::AudioDataset() = default;
AudioDataset::~AudioDataset() { stop(); }

bool AudioDataset::produce(Emitter& out) {
  if (!started_) start();
  while (epoch_ < epochs_) {
    if (cursor_ == 0) {
      order_epoch();
      emitted_in_epoch_ = 0;
      ahead_cursor_ = 0;
    }
    if (cursor_ >= order_.size()) {
      end_epoch(out);
      ++epoch_;
      cursor_ = 0;
      continue;
    }
    const std::size_t index = order_[cursor_++];
    std::optional<Tensor> clip = take_clip(index);
    if (context().stop_requested()) return false;
    if (!clip) continue;
    const Item& item = items_[index];

    auto packet = make_packet(PayloadKind::example);
    packet->stream = context().node_name();
    packet->sequence = sequence_++;
    packet->label = item.label;
    packet->split = item.split;
    packet->tensors.push_back(std::move(*clip));
    packet->set_attribute("path", item.path);
    packet->set_attribute("class", classes_[static_cast<std::size_t>(item.label)]);
    packet->set_attribute("classes", classes_value_);
    packet->set_attribute("class_counts", counts_value_);
    packet->set_attribute("sample_rate", std::int64_t{rate_});
    packet->set_attribute("epoch", epoch_);
    out.emit(kOut, std::move(packet));
    ++emitted_in_epoch_;
    return true;
  }
  return false;
}

}  // namespace tributary::sources
