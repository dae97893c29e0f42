#include "synthetic/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <thread>

namespace tributary::sources {

namespace {

constexpr double kTwoPi = 6.283185307179586476925;
constexpr double kCentreDistance = 4.0;     // between neighbouring blob centres, in units of the blob std dev
constexpr std::int64_t kSpreadDims = 16;    // up to here centres are spread by best-candidate sampling
constexpr int kCandidates = 10;             // candidates tried per centre
constexpr std::uint64_t kSampleStream = 0;  // sub-streams of the seed
constexpr std::uint64_t kCentreStream = 1;

// Nanoseconds from the start of the stream to sample `index`, without overflowing for long runs.
std::int64_t position_ns(std::int64_t index, std::int64_t sample_rate) {
  constexpr std::int64_t kNs = 1'000'000'000;
  return (index / sample_rate) * kNs + (index % sample_rate) * kNs / sample_rate;
}

double squared_distance(const double* a, const double* b, std::size_t dims) {
  double sum = 0.0;
  for (std::size_t i = 0; i < dims; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

// Slower paces overflow the clock's period arithmetic; nobody waits this long between packets.
constexpr double kSlowestRateHz = 1e-3;

}  // namespace

void Synthetic::declare(NodeSpec& spec) {
  spec.summary(
      "deterministic, seedable test data: sine, square, chirp, noise or silent audio chunks, or labelled gaussian "
      "blobs");
  spec.output(kOut);
  spec.source(SourceMode::pull);
  spec.param<std::string>(
          "signal", "sine",
          "what to generate: sine, square, chirp (sweeps frequency..sample_rate/4 linearly over one "
          "second, then repeats), noise (uniform white noise), silence (zeros, plus `noise` if set) or blobs "
          "(labelled points)")
      .choices({"sine", "square", "chirp", "noise", "silence", "blobs"});
  spec.param<std::int64_t>("count", 100, "packets to produce; 0 = endless").min(0);
  spec.param<double>("rate_hz", 0.0,
                     "packets per second, at least 0.001 (one every 1000 s); 0 = as fast as downstream takes them")
      .range(0, 1e6);
  spec.param<bool>("live", false,
                   "behave like a device: never wait for downstream (full queues drop by policy); needs rate_hz > 0");
  spec.param<std::int64_t>("sample_rate", 16000, "audio samples per second").range(1, 384000);
  spec.param<std::int64_t>("chunk", 1600, "audio samples per packet (at most 1048576, 4 MiB of f32)").range(1, 1 << 20);
  spec.param<double>("frequency", 440.0,
                     "tone frequency in Hz (the chirp's start); must be above 0 and below sample_rate/2")
      .min(0);
  spec.param<double>("amplitude", 0.5, "peak amplitude of the audio signals").range(0, 1e6);
  spec.param<double>("noise", 0.0, "std dev of gaussian noise added to every audio sample or blob coordinate; 0 = none")
      .min(0);
  spec.param<std::int64_t>("seed", 0, "random seed: the same seed gives bit-identical output");
  spec.param<std::int64_t>("classes", 3, "blobs: number of classes (labels 0..classes-1)").range(2, 1000);
  spec.param<std::int64_t>("dims", 2, "blobs: dimensions of each point").range(1, 4096);
  SplitFractions::declare(spec);
  spec.example(R"([nodes.tone]
plugin = "synthetic"
signal = "chirp"
count = 50
sample_rate = 16000
chunk = 1600)");
}

void Synthetic::configure(const Params& params) {
  const auto signal = params.get<std::string>("signal");
  signal_ = signal == "square"    ? Signal::square
            : signal == "chirp"   ? Signal::chirp
            : signal == "noise"   ? Signal::noise
            : signal == "silence" ? Signal::silence
            : signal == "blobs"   ? Signal::blobs
                                  : Signal::sine;
  count_ = params.get<std::int64_t>("count");
  rate_hz_ = params.get<double>("rate_hz");
  live_ = params.get<bool>("live");
  sample_rate_ = params.get<std::int64_t>("sample_rate");
  chunk_ = params.get<std::int64_t>("chunk");
  frequency_ = params.get<double>("frequency");
  amplitude_ = params.get<double>("amplitude");
  noise_ = params.get<double>("noise");
  seed_ = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  classes_ = params.get<std::int64_t>("classes");
  dims_ = params.get<std::int64_t>("dims");
  split_ = SplitFractions::from(params);

  if (rate_hz_ > 0.0 && rate_hz_ < kSlowestRateHz) {
    throw ParamError("rate_hz", concat("'rate_hz' is ", rate_hz_, ", below the slowest pace of ", kSlowestRateHz,
                                       " packets per second (one every 1000 s); use 0 for no pacing"));
  }
  if (live_ && rate_hz_ <= 0.0) {
    throw ParamError("rate_hz",
                     "a live source must be paced: set rate_hz above 0 (packets per second), or live = false to "
                     "let downstream set the pace");
  }
  if (rate_hz_ > 0.0) {
    context().set_timer(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(1.0 / rate_hz_)));
  }
  const bool tonal = signal_ == Signal::sine || signal_ == Signal::square || signal_ == Signal::chirp;
  if (tonal && frequency_ <= 0.0) throw ParamError("frequency", "'frequency' must be above 0 Hz");
  if (tonal && frequency_ >= static_cast<double>(sample_rate_) / 2.0) {
    throw ParamError("frequency", concat("'frequency' is ", frequency_, " Hz, not below the Nyquist frequency ",
                                         static_cast<double>(sample_rate_) / 2.0,
                                         " Hz (sample_rate/2): lower frequency or raise sample_rate"));
  }
}

SourceMode Synthetic::source_mode(SourceMode declared) const { return live_ ? SourceMode::live : declared; }

void Synthetic::start() {
  random_.emplace(SeededRandom::derive(seed_, kSampleStream));
  sequence_ = 0;
  sample_index_ = 0;
  phase_ = 0.0;
  if (signal_ == Signal::blobs) place_centres();
  log().debug(count_ > 0 ? concat(count_, " packets") : std::string("endless packets"),
              signal_ == Signal::blobs ? concat(" of ", classes_, " blobs in ", dims_, " dimensions")
                                       : concat(" of ", chunk_, " samples at ", sample_rate_, " Hz"),
              rate_hz_ > 0 ? concat(", ", rate_hz_, " per second") : std::string(", unpaced"), live_ ? ", live" : "",
              ", seed ", seed_);
}

bool Synthetic::produce(Emitter& out) {
  if (count_ > 0 && sequence_ >= static_cast<std::uint64_t>(count_)) return false;
  if (!random_) start();
  out.emit(kOut, signal_ == Signal::blobs ? next_example() : next_audio());
  return !context().stop_requested();
}

// Paced: the runtime's timer calls this every 1/rate_hz seconds, the first time at once.
bool Synthetic::on_tick(Emitter& out) { return produce(out); }

PayloadKinds Synthetic::output_kinds(const OutputPort& port) const {
  (void)port;
  return signal_ == Signal::blobs ? PayloadKinds(PayloadKind::example) : PayloadKinds(PayloadKind::audio);
}

void Synthetic::advance_phase(double hz) {
  phase_ += hz / static_cast<double>(sample_rate_);
  phase_ -= std::floor(phase_);
}

namespace {
// The samples still to compute: none when the chunk is silent.
struct Span {
  float* first = nullptr;
  float* last = nullptr;
  float* begin() const { return first; }
  float* end() const { return last; }
};
}  // namespace

PacketPtr Synthetic::next_audio() {
  const double rate = static_cast<double>(sample_rate_);
  const double sweep_end = rate / 4.0;
  const std::int64_t first = sample_index_;
  std::vector<float> samples(static_cast<std::size_t>(chunk_));  // zeros
  const bool silent = signal_ == Signal::silence && noise_ <= 0.0;
  if (silent) sample_index_ += chunk_;
  for (float& sample : silent ? Span{} : Span{samples.data(), samples.data() + samples.size()}) {
    double value = 0.0;
    switch (signal_) {
      case Signal::sine:
        value = amplitude_ * std::sin(kTwoPi * phase_);
        advance_phase(frequency_);
        break;
      case Signal::square:
        value = phase_ < 0.5 ? amplitude_ : -amplitude_;
        advance_phase(frequency_);
        break;
      case Signal::chirp: {
        // The instantaneous frequency restarts every second; the phase stays continuous.
        const double t = static_cast<double>(sample_index_ % sample_rate_) / rate;
        value = amplitude_ * std::sin(kTwoPi * phase_);
        advance_phase(frequency_ + (sweep_end - frequency_) * t);
        break;
      }
      case Signal::noise:
        value = amplitude_ * (2.0 * random_->uniform() - 1.0);
        break;
      case Signal::silence:
      case Signal::blobs:
        break;
    }
    if (noise_ > 0.0) value += noise_ * random_->normal();
    sample = static_cast<float>(value);
    ++sample_index_;
  }

  auto packet = make_packet(PayloadKind::audio);
  packet->stream = context().node_name();
  packet->sequence = sequence_++;
  packet->timestamp_ns = position_ns(first, sample_rate_);
  packet->tensors.push_back(Tensor::from_vector(std::move(samples)));
  packet->set_attribute("sample_rate", sample_rate_);
  packet->set_attribute("channels", 1);
  return packet;
}

PacketPtr Synthetic::next_example() {
  const auto dims = static_cast<std::size_t>(dims_);
  const auto label = static_cast<std::int64_t>(random_->below(static_cast<std::uint64_t>(classes_)));
  const double* centre = centres_.data() + static_cast<std::size_t>(label) * dims;
  std::vector<float> point(dims);
  for (std::size_t i = 0; i < dims; ++i) {
    double value = centre[i] + random_->normal();
    if (noise_ > 0.0) value += noise_ * random_->normal();
    point[i] = static_cast<float>(value);
  }

  auto packet = make_packet(PayloadKind::example);
  packet->stream = context().node_name();
  packet->sequence = sequence_;
  // The packet's nominal time in a paced stream; unpaced examples have no timeline.
  packet->timestamp_ns = rate_hz_ > 0.0 ? std::llround(static_cast<double>(sequence_) * 1e9 / rate_hz_) : 0;
  ++sequence_;
  packet->label = label;
  packet->split = split_.draw(*random_);
  packet->tensors.push_back(Tensor::from_vector(std::move(point)));
  packet->set_attribute("classes", classes_);
  return packet;
}

void Synthetic::place_centres() {
  const auto classes = static_cast<std::size_t>(classes_);
  const auto dims = static_cast<std::size_t>(dims_);
  centres_.assign(classes * dims, 0.0);
  SeededRandom random(SeededRandom::derive(seed_, kCentreStream));

  if (dims_ > kSpreadDims) {
    // In many dimensions independent gaussian centres are nearly equidistant, |a - b| ~ s * sqrt(2 dims).
    const double scale = kCentreDistance / std::sqrt(2.0 * static_cast<double>(dims));
    for (auto& x : centres_) x = scale * random.normal();
    return;
  }

  // In few dimensions random centres may land on top of each other: best-candidate sampling spreads
  // them over the unit cube, then the cloud is centred and scaled to the wanted neighbour distance.
  std::vector<double> candidate(dims);
  std::vector<double> best(dims);
  for (std::size_t c = 0; c < classes; ++c) {
    double best_gap = -1.0;
    const int trials = c == 0 ? 1 : kCandidates;
    for (int trial = 0; trial < trials; ++trial) {
      for (auto& x : candidate) x = random.uniform();
      double gap = std::numeric_limits<double>::infinity();
      for (std::size_t other = 0; other < c; ++other) {
        gap = std::min(gap, squared_distance(candidate.data(), &centres_[other * dims], dims));
      }
      if (gap > best_gap) {
        best_gap = gap;
        best = candidate;
      }
    }
    std::copy(best.begin(), best.end(), centres_.begin() + static_cast<std::ptrdiff_t>(c * dims));
  }

  for (std::size_t i = 0; i < dims; ++i) {
    double mean = 0.0;
    for (std::size_t c = 0; c < classes; ++c) mean += centres_[c * dims + i];
    mean /= static_cast<double>(classes);
    for (std::size_t c = 0; c < classes; ++c) centres_[c * dims + i] -= mean;
  }
  double total = 0.0;
  for (std::size_t c = 0; c < classes; ++c) {
    double nearest = std::numeric_limits<double>::infinity();
    for (std::size_t other = 0; other < classes; ++other) {
      if (other != c) nearest = std::min(nearest, squared_distance(&centres_[c * dims], &centres_[other * dims], dims));
    }
    total += std::sqrt(nearest);
  }
  const double mean_gap = total / static_cast<double>(classes);
  if (mean_gap > 0.0) {
    for (auto& x : centres_) x *= kCentreDistance / mean_gap;
  }
}

}  // namespace tributary::sources
