#include "dsp/real_fft.hpp"

#include <kiss_fft.h>
#include <kiss_fftr.h>

#include <stdexcept>
#include <string>

namespace tributary::features {

// KissFFT's real transform needs an even length; odd lengths go through the complex one.
struct RealFft::Plan {
  kiss_fftr_cfg real = nullptr;
  kiss_fft_cfg complex = nullptr;
  std::vector<kiss_fft_cpx> in;   // odd lengths: the frame as complex values
  std::vector<kiss_fft_cpx> out;  // odd lengths: all n bins
  ~Plan() {
    if (real != nullptr) kiss_fftr_free(real);
    if (complex != nullptr) kiss_fft_free(complex);
  }
};

static_assert(sizeof(kiss_fft_cpx) == sizeof(std::complex<float>), "kiss_fft_cpx must be two floats");

RealFft::RealFft(std::size_t n) : n_(n), plan_(std::make_unique<Plan>()) {
  if (n < 1) throw std::invalid_argument("FFT length must be at least 1");
  const int length = static_cast<int>(n);
  if (n % 2 == 0) {
    plan_->real = kiss_fftr_alloc(length, 0, nullptr, nullptr);
  } else {
    plan_->complex = kiss_fft_alloc(length, 0, nullptr, nullptr);
    plan_->in.resize(n);
    plan_->out.resize(n);
  }
  if (plan_->real == nullptr && plan_->complex == nullptr) {
    throw std::runtime_error("cannot plan an FFT of length " + std::to_string(n));
  }
}

RealFft::~RealFft() = default;
RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;

void RealFft::forward(const float* in, std::complex<float>* out) {
  if (plan_->real != nullptr) {
    kiss_fftr(plan_->real, in, reinterpret_cast<kiss_fft_cpx*>(out));
    return;
  }
  for (std::size_t i = 0; i < n_; ++i) plan_->in[i] = kiss_fft_cpx{in[i], 0.0f};
  kiss_fft(plan_->complex, plan_->in.data(), plan_->out.data());
  for (std::size_t k = 0; k < bins(); ++k) out[k] = {plan_->out[k].r, plan_->out[k].i};
}

}  // namespace tributary::features
