#pragma once
// RealFft: the forward FFT of a real frame, as n/2 + 1 complex bins (KissFFT underneath).
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
  // `in` holds size() samples, `out` bins() values. Not thread-safe per instance (scratch).
  void forward(const float* in, std::complex<float>* out);

 private:
  struct Plan;
  std::size_t n_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace tributary::features
