#include "stft/stft.hpp"

#include "dsp/frame_params.hpp"

namespace tributary::features {

void Stft::declare(NodeSpec& spec) {
  spec.summary("power or magnitude spectra [frames, n_fft/2 + 1], as torchaudio.transforms.Spectrogram");
  spec.input(kIn);
  spec.output(kOut);
  // A live stream's frames cross chunk boundaries, so packets are taken one at a time.
  spec.concurrency(Concurrency::serial);
  // Whole clips share nothing: fed only clips, the node computes them at the same time, in order.
  spec.concurrency_for(PayloadKind::example, Concurrency::ordered);
  declare_spectrum_params(spec);
  spec.example(R"([pipeline]
name  = "stft-demo"
links = [ "tone -> spec", "spec -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.spec]
plugin     = "stft"
n_fft      = 512
hop_length = 160

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/spectra.jsonl"
)");
}

void Stft::configure(const Params& params) {
  options_ = read_spectrum_options(params);
  check_spectrum_options(options_);
  prepare_if_known(read_sample_rate(params));
}

AudioFeatureNode::Layout Stft::prepare(double) {
  const Spectrum spectrum(options_);
  return layout_of(spectrum, spectrum.bins());
}

void Stft::compute(FrameScratch& scratch, float* out) const { scratch.spectrum.compute(scratch.frame.data(), out); }

}  // namespace tributary::features
