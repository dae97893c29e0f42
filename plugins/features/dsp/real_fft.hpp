#pragma once
// RealFft: the forward FFT of a real frame, as n/2 + 1 complex bins. KissFFT (BSD-3-Clause)
// underneath by default; FFTW (GPL-2+, about twice as fast) with -DTRIBUTARY_FFTW=ON.
#include <complex>
#include <cstddef>
#include <memory>
#include <vector>

namespace tributary::features {

class RealFft {
 public:
  explicit RealFft(std::size_t n);
  ~RealFft();
  RealFft(RealFft&&) noexcept;
  RealFft& operator=(RealFft&&) noexcept;

  std::size_t size() const noexcept { return n_; }
  std::size_t bins() const noexcept { return n_ / 2 + 1; }
  // The transform reads input() (size() samples, kept between calls) and writes output()
  // (bins() values). Not thread-safe per instance.
  float* input() noexcept { return in_; }
  const std::complex<float>* output() const noexcept { return out_; }
  void forward();
  // The inverse: reads bins() values from `bins`, writes size() samples to `samples`, unscaled
  // (n times the signal, as FFTW and KissFFT leave it). size() must be even.
  void inverse(const std::complex<float>* bins, float* samples);

 private:
  struct Plan;
  std::size_t n_;
  std::unique_ptr<Plan> plan_;
  float* in_ = nullptr;
  std::complex<float>* out_ = nullptr;
};

}  // namespace tributary::features
