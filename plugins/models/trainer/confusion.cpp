#include "trainer/confusion.hpp"

namespace tributary::models {

void ConfusionMatrix::add(std::int64_t label, std::int64_t predicted) {
  ++counts_[static_cast<std::size_t>(label) * classes_ + static_cast<std::size_t>(predicted)];
  ++total_;
}

ClassificationScores ConfusionMatrix::scores() const {
  ClassificationScores s;
  s.per_class.resize(classes_);
  if (total_ == 0) return s;
  auto ratio = [](std::uint64_t num, std::uint64_t den) {
    return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
  };
  std::uint64_t correct = 0;
  std::size_t present = 0;
  for (std::size_t c = 0; c < classes_; ++c) {
    std::uint64_t tp = count(c, c), fp = 0, fn = 0;
    correct += tp;
    for (std::size_t k = 0; k < classes_; ++k) {
      if (k == c) continue;
      fp += count(k, c);
      fn += count(c, k);
    }
    const std::uint64_t tn = total_ - tp - fp - fn;
    ClassScores& cs = s.per_class[c];
    cs.present = tp + fp + fn > 0;
    cs.precision = ratio(tp, tp + fp);
    cs.recall = ratio(tp, tp + fn);
    cs.f1 = cs.precision + cs.recall > 0.0 ? 2.0 * cs.precision * cs.recall / (cs.precision + cs.recall) : 0.0;
    cs.fpr = ratio(fp, fp + tn);
    cs.fnr = ratio(fn, fn + tp);
    if (!cs.present) continue;
    ++present;
    s.precision += cs.precision;
    s.recall += cs.recall;
    s.f1 += cs.f1;
    s.fpr += cs.fpr;
    s.fnr += cs.fnr;
  }
  const double k = static_cast<double>(present);
  s.precision /= k;
  s.recall /= k;
  s.f1 /= k;
  s.fpr /= k;
  s.fnr /= k;
  s.accuracy = ratio(correct, total_);
  return s;
}

}  // namespace tributary::models
