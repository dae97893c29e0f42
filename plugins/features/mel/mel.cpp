#include "mel/mel.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>

#include "dsp/decibels.hpp"

namespace tributary::features {

void Mel::declare(NodeSpec& spec) {
  spec.summary("mel spectrograms [frames, n_mels], as torchaudio.transforms.MelSpectrogram; optional log or dB");
  spec.input(kIn);
  spec.input(kSpectra);
  spec.output(kOut);
  // A live stream's frames cross chunk boundaries, so packets are taken one at a time.
  spec.concurrency(Concurrency::serial);
  // Whole clips share nothing: fed only clips, the node computes them at the same time, in order.
  spec.concurrency_for(PayloadKind::example, Concurrency::ordered);
  declare_spectrum_params(spec);
  declare_mel_params(spec);
  spec.param<std::string>("log", "none",
                          "none; natural: log(mel + log_offset); db: 10 log10(max(mel, 1e-10)) (20 log10 for "
                          "power 1), as AmplitudeToDB")
      .choices({"none", "natural", "db"});
  spec.param<double>("log_offset", 1e-6, "added before the natural log").range(1e-30, 1.0);
  spec.param<double>("top_db", 0.0,
                     "with log = db: floor at the peak minus top_db (the clip's peak; on a stream, the peak so "
                     "far); 0 = no floor")
      .range(0.0, 1000.0);
  spec.example(R"([pipeline]
name  = "mel-demo"
links = [ "tone -> mel", "mel -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.mel]
plugin     = "mel"
n_fft      = 512
hop_length = 160
n_mels     = 40
log        = "natural"

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/mel.jsonl"
)");
}

void Mel::configure(const Params& params) {
  options_ = read_spectrum_options(params);
  check_spectrum_options(options_);
  mel_ = read_mel_options(params);
  const std::string log = params.get<std::string>("log");
  log_ = log == "natural" ? LogScale::natural : log == "db" ? LogScale::decibels : LogScale::none;
  log_offset_ = params.get<double>("log_offset");
  top_db_ = params.get<double>("top_db");
  if (top_db_ > 0.0 && log_ != LogScale::decibels) {
    throw ParamError("top_db", "top_db applies to decibels only: set log = \"db\" or leave top_db out");
  }
  prepare_if_known(read_sample_rate(params));
}

AudioFeatureNode::Layout Mel::prepare(double sample_rate) {
  filterbank_ = make_mel_filterbank(mel_, options_.n_fft, sample_rate);
  warn_empty_filters(log(), filterbank_);
  return layout_of(Spectrum(options_), mel_.n_mels);
}

void Mel::compute(FrameScratch& scratch, float* out) const {
  scratch.spectrum.compute(scratch.frame.data(), scratch.bins.data());
  filterbank_.apply(scratch.bins.data(), out);
}

void Mel::finish_block(FrameBlock& block, BlockState& state, bool) const {
  float* v = block.values.data();
  const std::size_t n = block.values.size();
  if (log_ == LogScale::natural) {
    const auto offset = static_cast<float>(log_offset_);
    for (std::size_t i = 0; i < n; ++i) v[i] = std::log(v[i] + offset);
  } else if (log_ == LogScale::decibels) {
    const float multiplier = options_.power == 1.0 ? 20.0f : 10.0f;
    for (std::size_t i = 0; i < n; ++i) v[i] = to_decibels(v[i], multiplier);
    if (top_db_ > 0.0) {
      for (std::size_t i = 0; i < n; ++i) state.peak = std::max(state.peak, static_cast<double>(v[i]));
      floor_decibels(v, n, state.peak, top_db_);
    }
  }
}

void Mel::process(const InputPort& port, const PacketPtr& packet, Emitter& out) {
  if (std::string_view(port.name) == kSpectra.name) {
    process_spectra(*packet, out);
    return;
  }
  AudioFeatureNode::process(port, packet, out);
}

void Mel::process_spectra(const Packet& packet, Emitter& out) {
  const std::string& node = context().node_name();
  if (packet.tensors.empty() || packet.tensors.front().rank() != 2 || packet.tensors.front().dtype() != DType::f32) {
    throw std::runtime_error(
        node + ": spectra: expected tensor 0 of shape [frames, bins] f32, found " +
        (packet.tensors.empty() ? std::string("no tensors") : to_string(packet.tensors.front().shape())));
  }
  const Tensor& x = packet.tensors.front();
  const auto bins = static_cast<std::size_t>(x.dim(1));
  if (bins != options_.n_fft / 2 + 1) {
    throw std::runtime_error(node + ": spectra: expected n_fft / 2 + 1 = " + std::to_string(options_.n_fft / 2 + 1) +
                             " bins (n_fft " + std::to_string(options_.n_fft) + "), found " + std::to_string(bins) +
                             ": set the same n_fft on both nodes");
  }
  const Value* rate = packet.attribute("sample_rate");
  if (rate == nullptr || !rate->is_number()) {
    throw std::runtime_error(node + ": spectra: the packet has no sample_rate attribute");
  }
  std::shared_ptr<const MelFilterbank> filterbank;
  {
    std::lock_guard<std::mutex> lock(spectra_mutex_);
    if (spectra_rate_ != rate->as_number()) {
      try {
        spectra_filterbank_ =
            std::make_shared<MelFilterbank>(make_mel_filterbank(mel_, options_.n_fft, rate->as_number()));
      } catch (const ParamError& e) {
        throw std::runtime_error(node + ": " + e.param() + ": " + e.what());
      }
      spectra_rate_ = rate->as_number();
    }
    filterbank = spectra_filterbank_;
  }
  FrameBlock block;
  block.channels = 1;
  block.frames = static_cast<std::size_t>(x.dim(0));
  block.width = mel_.n_mels;
  block.values.resize(block.frames * block.width);
  const float* s = x.data<float>();
  for (std::size_t t = 0; t < block.frames; ++t) filterbank->apply(s + t * bins, block.row(0, t));
  BlockState fresh;
  const bool clip = packet.kind == PayloadKind::example;
  finish_block(block, clip ? fresh : spectra_streams_[packet.stream], clip);
  auto result = std::make_shared<Packet>(packet);
  result->tensors.front() = Tensor::from_vector(
      std::move(block.values), {static_cast<std::int64_t>(block.frames), static_cast<std::int64_t>(block.width)});
  out.emit(kOut, std::move(result));
}

}  // namespace tributary::features
