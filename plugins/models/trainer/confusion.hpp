#pragma once
// A confusion matrix and the classification scores read from it: accuracy, and precision, recall,
// F1, FPR and FNR one-vs-rest per class and macro-averaged.
#include <cstdint>
#include <vector>

namespace tributary::models {

struct ClassScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double fpr = 0.0;
  double fnr = 0.0;
  bool present = false;  // the class occurs among the labels or the predictions
};

struct ClassificationScores {
  double accuracy = 0.0;
  // Macro averages over the present classes.
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double fpr = 0.0;
  double fnr = 0.0;
  std::vector<ClassScores> per_class;
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::size_t classes = 0) : classes_(classes), counts_(classes * classes, 0) {}
  std::size_t classes() const noexcept { return classes_; }
  void add(std::int64_t label, std::int64_t predicted);
  std::uint64_t count(std::size_t label, std::size_t predicted) const { return counts_[label * classes_ + predicted]; }
  std::uint64_t total() const noexcept { return total_; }
  ClassificationScores scores() const;

 private:
  std::size_t classes_;
  std::vector<std::uint64_t> counts_;  // [label, predicted], row-major
  std::uint64_t total_ = 0;
};

}  // namespace tributary::models
