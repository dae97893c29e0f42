#include "augment/augment.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <stdexcept>

namespace tributary::features {

// splitmix64, seeded per packet from the node's seed, the stream and the packet's sequence: a
// packet's augmentation does not depend on which thread or in which order packets are processed,
// and differs from epoch to epoch as sequence numbers do.
class Augment::Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

 private:
  std::uint64_t state_;
};

namespace {

std::pair<double, double> range_of(const Params& params, const char* name) {
  const auto v = params.get<std::vector<double>>(name);
  if (v.size() != 2 || v[0] > v[1]) {
    throw ParamError(name, std::string(name) + " must be [min, max] with min <= max");
  }
  return {v[0], v[1]};
}

bool is_features(const Packet& packet) {
  return packet.kind == PayloadKind::features || packet.attribute("hop_length") != nullptr;
}

}  // namespace

void Augment::declare(NodeSpec& spec) {
  spec.summary(
      "seedable augmentation of train examples: background noise at a random SNR, gain, time shift, "
      "SpecAugment masks");
  spec.input(kIn);
  spec.output(kOut);
  spec.keeps_kinds(kIn, kOut);
  // Each packet's randomness comes from the seed, its stream and its sequence number alone.
  spec.concurrency(Concurrency::ordered);
  spec.param<std::vector<std::string>>("splits", std::vector<std::string>{"train"},
                                       "which packets are augmented, by split: train, val, test, none (no split)")
      .choices({"train", "val", "test", "none"});
  spec.param<std::string>("noise_dir", "", "folder of WAV files mixed in as background noise; empty: no noise")
      .input_folder();
  spec.param<double>("noise_prob", 1.0, "share of train audio packets that get noise").range(0.0, 1.0);
  spec.param<std::vector<double>>("snr_db", std::vector<double>{5.0, 20.0},
                                  "[min, max] signal-to-noise ratio in dB, drawn uniformly per packet");
  spec.param<std::vector<double>>("gain_db", std::vector<double>{0.0, 0.0},
                                  "[min, max] gain in dB, drawn uniformly per packet; [0, 0]: none");
  spec.param<double>("shift_ms", 0.0, "shift audio by up to this many ms either way (zeros fill in); 0: none")
      .range(0.0, 60000.0);
  spec.param<std::int64_t>("freq_masks", 0, "SpecAugment: frequency masks per feature packet").range(0, 100);
  spec.param<std::int64_t>("freq_mask_width", 0, "SpecAugment: widest frequency mask, in bins").range(0, 100000);
  spec.param<std::int64_t>("time_masks", 0, "SpecAugment: time masks per feature packet").range(0, 100);
  spec.param<std::int64_t>("time_mask_width", 0, "SpecAugment: widest time mask, in frames").range(0, 100000);
  spec.param<std::int64_t>("seed", 0, "random seed; the same seed gives the same augmentation of the same packets")
      .min(0);
  spec.example(R"([pipeline]
name  = "augment-demo"
links = [ "tone -> mel", "mel -> aug", "aug -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.mel]
plugin = "mel"
n_mels = 40

[nodes.aug]
plugin          = "augment"
splits          = ["train", "none"]   # synthetic audio has no split
freq_masks      = 2
freq_mask_width = 8
time_masks      = 2
time_mask_width = 10

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/augmented.jsonl"
)");
}

void Augment::configure(const Params& params) {
  splits_.clear();
  for (const auto& name : params.get<std::vector<std::string>>("splits")) splits_.push_back(*parse_split(name));
  noise_dir_ = params.get<std::string>("noise_dir");
  noise_prob_ = params.get<double>("noise_prob");
  std::tie(snr_min_, snr_max_) = range_of(params, "snr_db");
  std::tie(gain_min_, gain_max_) = range_of(params, "gain_db");
  shift_ms_ = params.get<double>("shift_ms");
  freq_masks_ = params.get<std::int64_t>("freq_masks");
  freq_mask_width_ = params.get<std::int64_t>("freq_mask_width");
  time_masks_ = params.get<std::int64_t>("time_masks");
  time_mask_width_ = params.get<std::int64_t>("time_mask_width");
  seed_ = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  if (freq_masks_ > 0 && freq_mask_width_ == 0) {
    throw ParamError("freq_mask_width", "freq_masks needs a freq_mask_width of at least 1");
  }
  if (time_masks_ > 0 && time_mask_width_ == 0) {
    throw ParamError("time_mask_width", "time_masks needs a time_mask_width of at least 1");
  }
  if (!noise_dir_.empty() && !std::filesystem::is_directory(noise_dir_)) {
    throw ParamError("noise_dir", "'" + noise_dir_ + "' is not a folder");
  }
}

void Augment::start() {
  noises_.clear();
  if (noise_dir_.empty()) return;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(noise_dir_)) {
    auto ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (entry.is_regular_file() && ext == ".wav") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // the seed picks the same file on every machine
  for (const auto& f : files) {
    auto audio = read_wav(f.string());
    if (!audio.samples.empty()) noises_.push_back(std::move(audio));
  }
  if (noises_.empty()) throw std::runtime_error(context().node_name() + ": no WAV files with audio in " + noise_dir_);
  log().info("background noise: ", noises_.size(), " WAV files from ", noise_dir_);
}

void Augment::augment_audio(Tensor& x, double sample_rate, Random& random) const {
  const auto samples = static_cast<std::size_t>(x.dim(0));
  const std::size_t channels = x.rank() == 2 ? static_cast<std::size_t>(x.dim(1)) : 1;
  float* v = x.data<float>();
  if (samples == 0) return;
  if (!noises_.empty() && random.uniform() < noise_prob_) {
    const WavAudio& noise = noises_[random.next() % noises_.size()];
    if (noise.sample_rate != sample_rate) {
      throw std::runtime_error(context().node_name() + ": background noise at " + std::to_string(noise.sample_rate) +
                               " Hz, audio at " + std::to_string(sample_rate) + " Hz: resample the noise files");
    }
    const std::size_t offset = random.next() % noise.samples.size();
    double signal_power = 0.0;
    double noise_power = 0.0;
    for (std::size_t i = 0; i < samples; ++i) {
      const double n = noise.samples[(offset + i) % noise.samples.size()];
      noise_power += n * n;
      for (std::size_t c = 0; c < channels; ++c)
        signal_power += static_cast<double>(v[i * channels + c]) * v[i * channels + c];
    }
    signal_power /= static_cast<double>(samples * channels);
    noise_power /= static_cast<double>(samples);
    const double snr = random.uniform(snr_min_, snr_max_);
    // Silence has no level to set the noise against: it stays as it is.
    if (signal_power > 0.0 && noise_power > 0.0) {
      const double scale = std::sqrt(signal_power / (noise_power * std::pow(10.0, snr / 10.0)));
      for (std::size_t i = 0; i < samples; ++i) {
        const double n = noise.samples[(offset + i) % noise.samples.size()] * scale;
        for (std::size_t c = 0; c < channels; ++c) v[i * channels + c] = static_cast<float>(v[i * channels + c] + n);
      }
    }
  }
  if (gain_min_ != 0.0 || gain_max_ != 0.0) {
    const auto gain = static_cast<float>(std::pow(10.0, random.uniform(gain_min_, gain_max_) / 20.0));
    for (std::size_t i = 0; i < samples * channels; ++i) v[i] *= gain;
  }
  if (shift_ms_ > 0.0) {
    const auto most = static_cast<std::int64_t>(shift_ms_ * sample_rate / 1000.0);
    const std::int64_t shift =
        most > 0 ? static_cast<std::int64_t>(random.next() % static_cast<std::uint64_t>(2 * most + 1)) - most : 0;
    const auto n = static_cast<std::int64_t>(samples);
    const auto width = static_cast<std::int64_t>(channels);
    if (shift > 0) {
      std::copy_backward(v, v + (n - std::min(shift, n)) * width, v + n * width);
      std::fill(v, v + std::min(shift, n) * width, 0.0f);
    } else if (shift < 0) {
      const std::int64_t s = std::min(-shift, n);
      std::copy(v + s * width, v + n * width, v);
      std::fill(v + (n - s) * width, v + n * width, 0.0f);
    }
  }
}

void Augment::augment_features(Tensor& x, Random& random) const {
  if (x.rank() != 2) return;
  const std::int64_t frames = x.dim(0);
  const std::int64_t bins = x.dim(1);
  float* v = x.data<float>();
  // As torchaudio's FrequencyMasking and TimeMasking: width uniform in [0, max), start uniform
  // over where it fits; masked values become 0.
  const auto mask = [&](std::int64_t size, std::int64_t widest, auto&& clear) {
    const auto width = static_cast<std::int64_t>(random.uniform() * static_cast<double>(std::min(widest, size)));
    const auto start = static_cast<std::int64_t>(random.uniform() * static_cast<double>(size - width));
    for (std::int64_t i = start; i < start + width; ++i) clear(i);
  };
  for (std::int64_t m = 0; m < freq_masks_; ++m) {
    mask(bins, freq_mask_width_, [&](std::int64_t f) {
      for (std::int64_t t = 0; t < frames; ++t) v[t * bins + f] = 0.0f;
    });
  }
  for (std::int64_t m = 0; m < time_masks_; ++m) {
    mask(frames, time_mask_width_, [&](std::int64_t t) { std::fill(v + t * bins, v + (t + 1) * bins, 0.0f); });
  }
}

void Augment::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  if (std::find(splits_.begin(), splits_.end(), packet->split) == splits_.end() || packet->tensors.empty()) {
    out.emit(kOut, packet);
    return;
  }
  const Tensor& x = packet->tensors.front();
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64) {
    throw std::runtime_error(context().node_name() + ": expected tensor 0 of dtype f32 or f64, found " +
                             to_string(x.dtype()));
  }
  std::uint64_t key = seed_ * 0x9E3779B97F4A7C15ull ^ std::hash<std::string>{}(packet->stream);
  key = key * 31 + packet->sequence;
  Random random(key);
  auto result = std::make_shared<Packet>(*packet);
  Tensor y = x.dtype() == DType::f32 ? x.clone() : x.to(DType::f32);
  if (is_features(*packet)) {
    augment_features(y, random);
  } else {
    const Value* rate = packet->attribute("sample_rate");
    if (rate == nullptr || !rate->is_number()) {
      throw std::runtime_error(context().node_name() + ": audio without a sample_rate attribute");
    }
    augment_audio(y, rate->as_number(), random);
  }
  result->tensors.front() = std::move(y);
  out.emit(kOut, std::move(result));
}

}  // namespace tributary::features
