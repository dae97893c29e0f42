#include "denoise/denoise.hpp"

#include <cmath>
#include <stdexcept>

namespace tributary::features {

void Denoise::declare(NodeSpec& spec) {
  spec.summary("spectral-gating noise reduction (noisereduce's algorithm), stationary or non-stationary");
  spec.input(kIn);
  spec.output(kOut);
  // A stream's frames span chunks and its profile and running average are state.
  spec.concurrency(Concurrency::serial);
  spec.param<std::int64_t>("n_fft", 1024, "FFT size of the STFT (even); hann window of the same length")
      .range(16, 65536);
  spec.param<std::int64_t>("hop_length", 256, "samples between frames (left out: n_fft / 4)").range(1, 65536);
  spec.param<bool>("stationary", true,
                   "true: gate against a noise profile (mean + n_std_thresh std per frequency); false: against "
                   "a running average of the signal itself");
  spec.param<double>("noise_ms", 0.0,
                     "stationary: the first noise_ms of each clip or stream is the noise profile; 0 = the whole "
                     "clip (streams need a value)")
      .range(0.0, 600000.0);
  spec.param<std::string>("noise_path", "",
                          "stationary: a WAV recording of the noise alone for the profile (noisereduce's y_noise), "
                          "at the audio's sample rate; instead of noise_ms")
      .input_path();
  spec.param<double>("prop_decrease", 1.0, "how much of the noise to remove, 0..1").range(0.0, 1.0);
  spec.param<double>("n_std_thresh", 1.5,
                     "stationary: standard deviations above the noise mean a bin must be to pass; non-stationary "
                     "(default 2): how many times above its running average")
      .range(0.0, 100.0);
  spec.param<double>("freq_mask_smooth_hz", 500.0, "mask smoothing over frequency, Hz (at least one bin)")
      .range(0.0, 100000.0);
  spec.param<double>("time_mask_smooth_ms", 50.0, "mask smoothing over time, ms (at least one hop)")
      .range(0.0, 100000.0);
  spec.param<double>("time_constant_s", 2.0, "non-stationary: time constant of the running average, s")
      .range(0.001, 3600.0);
  spec.param<double>("sigmoid_slope", 10.0, "non-stationary: slope of the sigmoid that turns the rise into a mask")
      .range(0.01, 1000.0);
  spec.example(R"([pipeline]
name  = "denoise-demo"
links = [ "tone -> clean", "clean -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "sine"
noise  = 0.05
count  = 20

[nodes.clean]
plugin   = "denoise"
noise_ms = 100

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/clean.jsonl"
)");
}

void Denoise::configure(const Params& params) {
  n_fft_ = static_cast<std::size_t>(params.get<std::int64_t>("n_fft"));
  if (n_fft_ % 2 != 0)
    throw ParamError("n_fft", "n_fft must be even for the inverse FFT, found " + std::to_string(n_fft_));
  hop_length_ =
      params.was_given("hop_length") ? static_cast<std::size_t>(params.get<std::int64_t>("hop_length")) : n_fft_ / 4;
  if (hop_length_ > n_fft_ / 2) {
    throw ParamError("hop_length", "hop_length " + std::to_string(hop_length_) +
                                       " is more than n_fft / 2 = " + std::to_string(n_fft_ / 2) +
                                       ": the frames would not overlap enough to "
                                       "resynthesise the signal");
  }
  stationary_ = params.get<bool>("stationary");
  noise_ms_ = params.get<double>("noise_ms");
  prop_decrease_ = params.get<double>("prop_decrease");
  n_std_thresh_ = params.was_given("n_std_thresh") || stationary_ ? params.get<double>("n_std_thresh") : 2.0;
  freq_mask_smooth_hz_ = params.get<double>("freq_mask_smooth_hz");
  time_mask_smooth_ms_ = params.get<double>("time_mask_smooth_ms");
  time_constant_s_ = params.get<double>("time_constant_s");
  sigmoid_slope_ = params.get<double>("sigmoid_slope");
  noise_path_ = params.get<std::string>("noise_path");
  if (!noise_path_.empty()) {
    if (!stationary_)
      throw ParamError("noise_path", "a noise recording is for stationary gating: set stationary = true");
    if (noise_ms_ > 0.0) throw ParamError("noise_path", "give noise_path or noise_ms, not both");
    try {
      noise_ = read_wav(noise_path_);
    } catch (const std::runtime_error& e) {
      throw ParamError("noise_path", e.what());
    }
    if (noise_.samples.size() < n_fft_ / 2 + 1) {
      throw ParamError("noise_path", noise_path_ + ": " + std::to_string(noise_.samples.size()) +
                                         " samples of noise are too few for one frame of n_fft " +
                                         std::to_string(n_fft_));
    }
  }
}

SpectralGateOptions Denoise::options_for(double sample_rate) const {
  SpectralGateOptions o;
  o.n_fft = n_fft_;
  o.hop_length = hop_length_;
  o.stationary = stationary_;
  const double noise_samples = noise_ms_ * sample_rate / 1000.0;
  // The profile: frames centred within the first noise_ms.
  o.profile_frames =
      noise_ms_ > 0.0 ? static_cast<std::size_t>(std::ceil(noise_samples / static_cast<double>(hop_length_))) : 0;
  o.n_std_thresh = n_std_thresh_;
  o.prop_decrease = prop_decrease_;
  // As noisereduce sizes its smoothing kernel.
  o.smooth_bins = static_cast<std::size_t>(freq_mask_smooth_hz_ / (sample_rate / (static_cast<double>(n_fft_) / 2.0)));
  o.smooth_frames =
      static_cast<std::size_t>(time_mask_smooth_ms_ / (static_cast<double>(hop_length_) / sample_rate * 1000.0));
  o.time_constant_frames = time_constant_s_ * sample_rate / static_cast<double>(hop_length_);
  o.sigmoid_slope = sigmoid_slope_;
  return o;
}

Denoise::Stream Denoise::open(const Packet& packet, std::size_t channels, double sample_rate) const {
  Stream s;
  s.sample_rate = sample_rate;
  s.start_ns = packet.timestamp_ns;
  const auto options = options_for(sample_rate);
  for (std::size_t c = 0; c < channels; ++c) {
    s.gates.emplace_back(options);
    if (!noise_.samples.empty()) s.gates.back().set_noise(noise_.samples.data(), noise_.samples.size());
  }
  return s;
}

void Denoise::emit_samples(Stream& stream, std::vector<std::vector<float>>& channels, Emitter& out) {
  const std::size_t n = channels.front().size();
  if (n == 0) return;
  const std::size_t count = channels.size();
  std::vector<float> interleaved(n * count);
  for (std::size_t c = 0; c < count; ++c) {
    for (std::size_t i = 0; i < n; ++i) interleaved[i * count + c] = channels[c][i];
  }
  auto p = std::make_shared<Packet>(*stream.last);
  p->kind = PayloadKind::audio;
  p->sequence = stream.sequence++;
  p->timestamp_ns = stream.start_ns + std::llround(static_cast<double>(stream.samples_out) * 1e9 / stream.sample_rate);
  const auto frames = static_cast<std::int64_t>(n);
  p->tensors.front() = stream.multichannel
                           ? Tensor::from_vector(std::move(interleaved), {frames, static_cast<std::int64_t>(count)})
                           : Tensor::from_vector(std::move(interleaved), {frames});
  stream.samples_out += n;
  out.emit(kOut, std::move(p));
}

void Denoise::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const std::string& node = context().node_name();
  if (packet->tensors.empty()) throw std::runtime_error(node + ": expected audio in tensor 0, found no tensors");
  const Tensor& x = packet->tensors.front();
  if ((x.rank() != 1 && x.rank() != 2) || x.dtype() != DType::f32) {
    throw std::runtime_error(node + ": expected f32 audio of shape [samples] or [samples, channels], found " +
                             std::string(to_string(x.dtype())) + " " + to_string(x.shape()));
  }
  const Value* rate = packet->attribute("sample_rate");
  if (rate == nullptr || !rate->is_number())
    throw std::runtime_error(node + ": the packet has no sample_rate attribute");
  const std::size_t channels = x.rank() == 2 ? static_cast<std::size_t>(x.dim(1)) : 1;
  const auto count = static_cast<std::size_t>(x.dim(0));
  const bool clip = packet->kind == PayloadKind::example;
  if (!noise_.samples.empty() && noise_.sample_rate != rate->as_number()) {
    throw std::runtime_error(node + ": the noise recording " + noise_path_ + " is at " +
                             std::to_string(noise_.sample_rate) + " Hz, the audio at " +
                             std::to_string(rate->as_number()) + " Hz: resample one of them");
  }
  if (!clip && stationary_ && noise_ms_ <= 0.0 && noise_.samples.empty()) {
    throw std::runtime_error(node +
                             ": a stream has no end to take its noise profile from: set noise_ms (e.g. 500) "
                             "or stationary = false");
  }
  Stream fresh;
  auto found = streams_.find(packet->stream);
  if (clip || found == streams_.end()) {
    fresh = open(*packet, channels, rate->as_number());
    fresh.multichannel = x.rank() == 2;
  }
  Stream& stream = clip ? fresh
                        : (found == streams_.end() ? streams_.emplace(packet->stream, std::move(fresh)).first->second
                                                   : found->second);
  if (stream.gates.size() != channels) {
    throw std::runtime_error(node + ": stream '" + packet->stream + "' changed its channel count");
  }
  stream.last = packet;
  std::vector<std::vector<float>> produced(channels);
  const float* samples = x.data<float>();
  try {
    for (std::size_t c = 0; c < channels; ++c) {
      stream.gates[c].push(samples + c, count, channels, produced[c]);
      if (clip) stream.gates[c].finish(produced[c]);
    }
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(node + ": clip of " + std::to_string(count) + " samples: " + e.what());
  }
  if (clip) {
    auto p = std::make_shared<Packet>(*packet);
    std::vector<float> interleaved(count * channels);
    for (std::size_t c = 0; c < channels; ++c) {
      for (std::size_t i = 0; i < count; ++i) interleaved[i * channels + c] = produced[c][i];
    }
    p->tensors.front() = Tensor::from_vector(std::move(interleaved), x.shape());
    out.emit(kOut, std::move(p));
    return;
  }
  emit_samples(stream, produced, out);
}

void Denoise::flush(Emitter& out) {
  for (auto& [name, stream] : streams_) {
    std::vector<std::vector<float>> produced(stream.gates.size());
    try {
      for (std::size_t c = 0; c < stream.gates.size(); ++c) stream.gates[c].finish(produced[c]);
    } catch (const std::invalid_argument& e) {
      log().warn("stream '", name, "' ended before its first frame: ", e.what());
      continue;
    }
    emit_samples(stream, produced, out);
  }
  streams_.clear();
}

}  // namespace tributary::features
