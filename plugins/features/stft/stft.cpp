#include "stft/stft.hpp"

#include "dsp/frame_params.hpp"

namespace tributary::features {

void Stft::declare(NodeSpec& spec) {
  spec.summary("power or magnitude spectra [frames, n_fft/2 + 1], as torchaudio.transforms.Spectrogram");
  spec.input(kIn);
  spec.output(kOut);
  // A live stream's frames cross chunk boundaries, so packets are taken one at a time.
  spec.concurrency(Concurrency::serial);
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
  spectrum_.emplace(options_);
  return layout_of(*spectrum_, spectrum_->bins());
}

void Stft::compute(float* frame, float* out) { spectrum_->compute(frame, out); }

}  // namespace tributary::features
