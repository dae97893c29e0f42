#include "trainer/confusion.hpp"

#include <catch2/catch.hpp>

using tributary::models::ConfusionMatrix;

TEST_CASE("confusion: scores one-vs-rest per class and macro over the classes present") {
  // 3 classes; class 2 never occurs in labels or predictions.
  ConfusionMatrix m(3);
  const std::int64_t labels[] = {0, 0, 0, 1, 1, 1, 1, 0};
  const std::int64_t predicted[] = {0, 0, 1, 1, 1, 1, 0, 0};
  for (int i = 0; i < 8; ++i) m.add(labels[i], predicted[i]);
  CHECK(m.total() == 8);
  CHECK(m.count(0, 1) == 1);
  CHECK(m.count(1, 0) == 1);
  const auto s = m.scores();
  CHECK(s.accuracy == Approx(6.0 / 8.0));
  // class 0: tp 3, fp 1, fn 1, tn 3.
  CHECK(s.per_class[0].precision == Approx(0.75));
  CHECK(s.per_class[0].recall == Approx(0.75));
  CHECK(s.per_class[0].fpr == Approx(0.25));
  CHECK(s.per_class[0].fnr == Approx(0.25));
  CHECK(s.per_class[0].f1 == Approx(0.75));
  CHECK_FALSE(s.per_class[2].present);
  CHECK(s.precision == Approx(0.75));
  CHECK(s.fnr == Approx(0.25));

  const auto empty = ConfusionMatrix(2).scores();
  CHECK(empty.accuracy == 0.0);
}
