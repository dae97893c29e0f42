#include "dsp/real_fft.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#if TRIBUTARY_FEATURES_FFTW
#include <fftw3.h>

#include <mutex>
#else
#include <kiss_fft.h>
#include <kiss_fftr.h>
#endif

namespace tributary::features {

#if TRIBUTARY_FEATURES_FFTW

namespace {
// FFTW's planner is not thread-safe (executing a plan is); nodes plan in configure or at their
// first packet, possibly at the same time.
std::mutex& planner_mutex() {
  static std::mutex mutex;
  return mutex;
}
}  // namespace

struct RealFft::Plan {
  fftwf_plan plan = nullptr;
  fftwf_plan inverse = nullptr;  // planned at the first inverse()
  float* in = nullptr;
  fftwf_complex* out = nullptr;
  float* inverse_out = nullptr;
  fftwf_complex* inverse_in = nullptr;
  ~Plan() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    if (plan != nullptr) fftwf_destroy_plan(plan);
    if (inverse != nullptr) fftwf_destroy_plan(inverse);
    fftwf_free(inverse_out);
    fftwf_free(inverse_in);
    fftwf_free(in);
    fftwf_free(out);
  }
};

static_assert(sizeof(fftwf_complex) == sizeof(std::complex<float>), "fftwf_complex must be two floats");

RealFft::RealFft(std::size_t n) : n_(n), plan_(std::make_unique<Plan>()) {
  if (n < 1) throw std::invalid_argument("FFT length must be at least 1");
  std::lock_guard<std::mutex> lock(planner_mutex());
  plan_->in = fftwf_alloc_real(n);
  plan_->out = fftwf_alloc_complex(n / 2 + 1);
  plan_->plan = fftwf_plan_dft_r2c_1d(static_cast<int>(n), plan_->in, plan_->out, FFTW_MEASURE);
  if (plan_->plan == nullptr) throw std::runtime_error("cannot plan an FFT of length " + std::to_string(n));
  std::fill_n(plan_->in, n, 0.0f);
  in_ = plan_->in;
  out_ = reinterpret_cast<std::complex<float>*>(plan_->out);
}

RealFft::~RealFft() = default;
RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;

void RealFft::forward() { fftwf_execute(plan_->plan); }

void RealFft::inverse(const std::complex<float>* bins, float* samples) {
  if (plan_->inverse == nullptr) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    plan_->inverse_in = fftwf_alloc_complex(n_ / 2 + 1);
    plan_->inverse_out = fftwf_alloc_real(n_);
    plan_->inverse = fftwf_plan_dft_c2r_1d(static_cast<int>(n_), plan_->inverse_in, plan_->inverse_out, FFTW_MEASURE);
    if (plan_->inverse == nullptr)
      throw std::runtime_error("cannot plan an inverse FFT of length " + std::to_string(n_));
  }
  std::copy_n(bins, n_ / 2 + 1, reinterpret_cast<std::complex<float>*>(plan_->inverse_in));
  fftwf_execute(plan_->inverse);  // c2r overwrites its input, hence the copy
  std::copy_n(plan_->inverse_out, n_, samples);
}

#else

// KissFFT's real transform needs an even length; odd lengths go through the complex one.
struct RealFft::Plan {
  kiss_fftr_cfg real = nullptr;
  kiss_fftr_cfg inverse = nullptr;  // made at the first inverse()
  kiss_fft_cfg complex = nullptr;
  std::vector<float> samples;
  std::vector<std::complex<float> > bins;
  std::vector<kiss_fft_cpx> in;   // odd lengths: the frame as complex values
  std::vector<kiss_fft_cpx> out;  // odd lengths: all n bins
  ~Plan() {
    if (real != nullptr) kiss_fftr_free(real);
    if (inverse != nullptr) kiss_fftr_free(inverse);
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
  plan_->samples.assign(n, 0.0f);
  plan_->bins.resize(n / 2 + 1);
  in_ = plan_->samples.data();
  out_ = plan_->bins.data();
}

RealFft::~RealFft() = default;
RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;

void RealFft::forward() {
  if (plan_->real != nullptr) {
    kiss_fftr(plan_->real, in_, reinterpret_cast<kiss_fft_cpx*>(out_));
    return;
  }
  for (std::size_t i = 0; i < n_; ++i) plan_->in[i] = kiss_fft_cpx{in_[i], 0.0f};
  kiss_fft(plan_->complex, plan_->in.data(), plan_->out.data());
  for (std::size_t k = 0; k < bins(); ++k) out_[k] = {plan_->out[k].r, plan_->out[k].i};
}

void RealFft::inverse(const std::complex<float>* bins, float* samples) {
  if (n_ % 2 != 0) throw std::invalid_argument("the inverse FFT needs an even length, not " + std::to_string(n_));
  if (plan_->inverse == nullptr) {
    plan_->inverse = kiss_fftr_alloc(static_cast<int>(n_), 1, nullptr, nullptr);
    if (plan_->inverse == nullptr)
      throw std::runtime_error("cannot plan an inverse FFT of length " + std::to_string(n_));
  }
  kiss_fftri(plan_->inverse, reinterpret_cast<const kiss_fft_cpx*>(bins), samples);
}

#endif

}  // namespace tributary::features
