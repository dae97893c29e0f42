#include "softmax_regression/softmax_regression.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::models::score;
using tributary::models::SoftmaxRegression;

namespace {

struct Row {
  std::vector<float> x;
  std::int64_t label = 0;
};

PacketPtr example(const Row& row, Split split, std::optional<std::int64_t> epoch = std::nullopt,
                  std::optional<std::int64_t> epochs = std::nullopt) {
  auto p = make_packet(PayloadKind::example);
  p->stream = "data";
  p->tensors.push_back(Tensor::from_vector(row.x));
  p->label = row.label;
  p->split = split;
  if (epoch) p->set_attribute("epoch", *epoch);
  if (epochs) p->set_attribute("epochs", *epochs);
  return p;
}

std::vector<MetricPoint> points(const NodeHarness& h) {
  std::vector<MetricPoint> all;
  for (const auto& p : h.output("metrics")) all.insert(all.end(), p->metrics.begin(), p->metrics.end());
  return all;
}

std::vector<MetricPoint> named(const NodeHarness& h, const std::string& name) {
  std::vector<MetricPoint> found;
  for (const auto& m : points(h)) {
    if (m.name == name) found.push_back(m);
  }
  return found;
}

// Iris as scikit-learn ships it: a header "150,4,setosa,versicolor,virginica", then rows of
// four measurements and an integer class.
std::vector<Row> read_iris() {
  std::ifstream file("/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv");
  REQUIRE(file.good());
  std::string line;
  std::getline(file, line);
  std::vector<Row> rows;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    std::stringstream fields(line);
    std::string field;
    Row row;
    for (int i = 0; i < 4 && std::getline(fields, field, ','); ++i) row.x.push_back(std::stof(field));
    std::getline(fields, field, ',');
    row.label = std::stoll(field);
    rows.push_back(row);
  }
  return rows;
}

// Standardises every row with the mean and standard deviation of `fit`.
void standardize(std::vector<Row>& rows, const std::vector<Row>& fit) {
  const std::size_t n = fit.front().x.size();
  std::vector<double> mean(n, 0.0), var(n, 0.0);
  for (const auto& r : fit) {
    for (std::size_t j = 0; j < n; ++j) mean[j] += r.x[j] / static_cast<double>(fit.size());
  }
  for (const auto& r : fit) {
    for (std::size_t j = 0; j < n; ++j) var[j] += std::pow(r.x[j] - mean[j], 2) / static_cast<double>(fit.size());
  }
  for (auto& r : rows) {
    for (std::size_t j = 0; j < n; ++j) r.x[j] = static_cast<float>((r.x[j] - mean[j]) / std::sqrt(var[j]));
  }
}

// Well separated Gaussian blobs: `classes` centres 8 apart per axis, unit spread.
std::vector<Row> blobs(std::size_t count, std::size_t classes, std::size_t dims, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<std::vector<float>> centres(classes, std::vector<float>(dims));
  for (std::size_t c = 0; c < classes; ++c) {
    for (std::size_t j = 0; j < dims; ++j) centres[c][j] = j == c % dims ? 8.0f : 0.0f;
  }
  std::vector<Row> rows(count);
  for (std::size_t i = 0; i < count; ++i) {
    rows[i].label = static_cast<std::int64_t>(i % classes);
    for (std::size_t j = 0; j < dims; ++j) rows[i].x.push_back(centres[i % classes][j] + noise(rng));
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  return rows;
}

}  // namespace

TEST_CASE("softmax_regression declares its ports and parameters") {
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 3}});
  const auto& spec = h.spec();
  REQUIRE(spec.outputs().size() == 2);
  CHECK(std::string(spec.outputs()[0]->name) == "metrics");
  CHECK(spec.outputs()[0]->kinds == PayloadKinds(PayloadKind::metrics));
  CHECK(std::string(spec.outputs()[1]->name) == "predictions");
  CHECK(spec.outputs()[1]->kinds == PayloadKinds(PayloadKind::example));
  REQUIRE(spec.find_param("lr") != nullptr);
  CHECK(spec.find_param("lr")->settable);
  CHECK(spec.find_param("classes")->required);
  CHECK(h.params().get<double>("lr") == 0.1);
  CHECK(h.params().get<std::int64_t>("batch") == 16);
  CHECK(h.params().get<double>("momentum") == 0.9);
  CHECK(h.params().get<std::int64_t>("log_every") == 10);
  CHECK(h.params().get<std::int64_t>("eval_buffer") == 100000);
}

TEST_CASE("softmax_regression refuses bad parameters before it runs") {
  CHECK_THROWS_AS(NodeHarness::of<SoftmaxRegression>({}), ParamError);                // classes is required
  CHECK_THROWS_AS(NodeHarness::of<SoftmaxRegression>({{"classes", 1}}), ParamError);  // at least 2
  CHECK_THROWS_AS(NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"lr", 0.0}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"momentum", 1.0}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"batch", 0}}), ParamError);
  try {
    NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"lr", -1.0}});
  } catch (const ParamError& e) {
    CHECK(e.param() == "lr");
  }
}

TEST_CASE("score() macro-averages one-vs-rest counts over the classes that occur") {
  // Labels 0 0 1 1 2, predictions 0 1 1 1 0.
  const auto s = score({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, 2.5, 4);
  CHECK(s.loss == Approx(0.5));
  CHECK(s.accuracy == Approx(0.6));
  // precision: c0 1/2, c1 2/3, c2 0 ; recall: c0 1/2, c1 1, c2 0 (class 3 never occurs).
  CHECK(s.precision == Approx((0.5 + 2.0 / 3.0 + 0.0) / 3.0));
  CHECK(s.recall == Approx((0.5 + 1.0 + 0.0) / 3.0));
  CHECK(s.f1 == Approx((0.5 + 0.8 + 0.0) / 3.0));
  // fpr: c0 1/3, c1 1/3, c2 0 ; fnr: c0 1/2, c1 0, c2 1.
  CHECK(s.fpr == Approx((1.0 / 3.0 + 1.0 / 3.0 + 0.0) / 3.0));
  CHECK(s.fnr == Approx((0.5 + 0.0 + 1.0) / 3.0));
}

TEST_CASE("softmax_regression learns iris: val and test accuracy above 0.85 after 50 epochs") {
  auto rows = read_iris();
  REQUIRE(rows.size() == 150);
  std::mt19937_64 rng(7);
  std::shuffle(rows.begin(), rows.end(), rng);
  std::vector<Row> train(rows.begin(), rows.begin() + 100);
  std::vector<Row> val(rows.begin() + 100, rows.begin() + 125);
  std::vector<Row> test(rows.begin() + 125, rows.end());
  const std::vector<Row> fit = train;
  standardize(train, fit);
  standardize(val, fit);
  standardize(test, fit);

  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"lr", 0.05}, {"batch", 10}, {"seed", 3}});
  h.start();
  // Like a table source: every epoch sends every row, with its split and the epoch number.
  for (std::int64_t epoch = 0; epoch < 50; ++epoch) {
    std::shuffle(train.begin(), train.end(), rng);
    for (const auto& r : train) h.push("in", example(r, Split::train, epoch));
    for (const auto& r : val) h.push("in", example(r, Split::val, epoch));
    for (const auto& r : test) h.push("in", example(r, Split::test, epoch));
  }
  h.flush();

  const auto val_accuracy = named(h, "val/accuracy");
  const auto test_accuracy = named(h, "test/accuracy");
  REQUIRE(val_accuracy.size() == 50);  // at each of the 49 epoch changes and at flush
  REQUIRE(test_accuracy.size() == 1);  // at flush
  CHECK(val_accuracy.back().value > 0.85);
  CHECK(test_accuracy.back().value > 0.85);
  CHECK(val_accuracy.front().epoch == 0);
  CHECK(val_accuracy.back().epoch == 49);
  CHECK(named(h, "val/loss").back().value < named(h, "val/loss").front().value);
  const auto train_loss = named(h, "train/loss");
  REQUIRE(train_loss.size() >= 2);
  CHECK(train_loss.back().value < train_loss.front().value);
  CHECK(train_loss.back().step == 500);  // 50 epochs x 100 rows / batch 10
  // Predictions: 25 val examples at each of the 50 evaluations, and 25 test examples at flush.
  CHECK(h.output("predictions").size() == 50 * 25 + 25);
}

TEST_CASE("softmax_regression separates Gaussian blobs with test accuracy above 0.95") {
  const auto rows = blobs(1000, 4, 6, 11);
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 4}});
  h.start();
  for (int pass = 0; pass < 3; ++pass) {
    for (std::size_t i = 0; i < 800; ++i) h.push("in", example(rows[i], Split::none));
  }
  for (std::size_t i = 800; i < rows.size(); ++i) h.push("in", example(rows[i], Split::test));
  h.flush();

  const auto accuracy = named(h, "test/accuracy");
  REQUIRE(accuracy.size() == 1);
  CHECK(accuracy[0].value > 0.95);
  CHECK(named(h, "test/f1")[0].value > 0.95);
  CHECK(named(h, "test/fpr")[0].value < 0.05);
  CHECK(named(h, "val/accuracy").empty());

  // One prediction per test example: probabilities over the classes, label and split copied.
  const auto& predictions = h.output("predictions");
  REQUIRE(predictions.size() == 200);
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    const auto& p = *predictions[i];
    REQUIRE(p.tensors.size() == 1);
    CHECK(p.tensors[0].dtype() == DType::f32);
    CHECK(p.tensors[0].shape() == Shape{4});
    double sum = 0.0;
    for (std::int64_t c = 0; c < 4; ++c) sum += p.tensors[0].at(c);
    CHECK(sum == Approx(1.0).epsilon(1e-5));
    CHECK(p.label == rows[800 + i].label);
    CHECK(p.split == Split::test);
  }
}

TEST_CASE("softmax_regression names its metric points as the design says") {
  const auto rows = blobs(300, 3, 3, 5);
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"batch", 8}, {"log_every", 5}});
  h.start();
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    for (std::size_t i = 0; i < 200; ++i) h.push("in", example(rows[i], Split::train, epoch));
    for (std::size_t i = 200; i < 250; ++i) h.push("in", example(rows[i], Split::val, epoch));
    for (std::size_t i = 250; i < 300; ++i) h.push("in", example(rows[i], Split::test, epoch));
  }
  h.flush();

  std::set<std::string> names;
  for (const auto& m : points(h)) {
    names.insert(m.name);
    CHECK(m.node == "softmax_regression");
    CHECK(m.step >= 0);
    CHECK((m.epoch == 0 || m.epoch == 1));
    CHECK(m.time > 1.0e9);
  }
  const std::set<std::string> expected{
      "train/loss",     "train/accuracy", "lr",      "grad_norm", "samples_per_s", "val/loss",  "val/accuracy",
      "val/precision",  "val/recall",     "val/f1",  "val/fpr",   "val/fnr",       "test/loss", "test/accuracy",
      "test/precision", "test/recall",    "test/f1", "test/fpr",  "test/fnr"};
  CHECK(names == expected);  // no progress or eta_s: the source gives no "epochs"
  for (const auto& p : h.output("metrics")) CHECK(p->kind == PayloadKind::metrics);

  // Steps count SGD steps: 2 x 200 / 8 = 50 steps, reported every 5.
  const auto loss = named(h, "train/loss");
  REQUIRE(loss.size() == 10);
  CHECK(loss.front().step == 5);
  CHECK(loss.back().step == 50);
  CHECK(loss.back().epoch == 1);
  for (const auto& m : named(h, "samples_per_s")) CHECK(m.value > 0.0);
  for (const auto& m : named(h, "grad_norm")) CHECK(m.value > 0.0);
}

TEST_CASE("softmax_regression reports progress and eta_s when the source says how many epochs") {
  const auto rows = blobs(40, 2, 2, 9);
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 2}, {"batch", 4}});
  h.start();
  for (std::int64_t epoch = 0; epoch < 4; ++epoch) {
    for (const auto& r : rows) h.push("in", example(r, Split::train, epoch, 4));
  }
  h.flush();
  const auto progress = named(h, "progress");
  REQUIRE(progress.size() == 4);
  CHECK(progress[0].value == Approx(0.25));
  CHECK(progress[3].value == Approx(1.0));
  const auto eta = named(h, "eta_s");
  REQUIRE(eta.size() == 4);
  CHECK(eta[0].value >= 0.0);
  CHECK(eta[3].value == 0.0);
}

TEST_CASE("softmax_regression trains the last partial batch at flush") {
  const auto rows = blobs(5, 2, 2, 1);
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 2}});
  h.start();
  for (const auto& r : rows) h.push("in", example(r, Split::train));
  CHECK(h.output("metrics").empty());
  h.flush();
  const auto loss = named(h, "train/loss");
  REQUIRE(loss.size() == 1);
  CHECK(loss[0].step == 1);
  CHECK(loss[0].epoch == 0);
}

TEST_CASE("softmax_regression applies a learning rate set through the control bus") {
  const auto rows = blobs(480, 3, 3, 21);
  auto run = [&](std::optional<double> lr) {
    auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 3}, {"log_every", 5}});
    h.start();
    if (lr) h.control(ControlMessage{ControlVerb::set, "softmax_regression", "lr", *lr});
    for (const auto& r : rows) h.push("in", example(r, Split::train));
    h.flush();
    return h;
  };
  auto normal = run(std::nullopt);
  auto frozen = run(1e-9);

  const auto set_point = named(frozen, "lr");
  REQUIRE(set_point.size() >= 2);
  CHECK(set_point.front().value == 1e-9);  // emitted when the control message arrived
  CHECK(set_point.front().step == 0);
  for (const auto& m : set_point) CHECK(m.value == 1e-9);
  for (const auto& m : named(normal, "lr")) CHECK(m.value == 0.1);
  // With a vanishing learning rate the loss stays at chance level, ln 3.
  CHECK(named(frozen, "train/loss").back().value == Approx(std::log(3.0)).epsilon(0.01));
  CHECK(named(normal, "train/loss").back().value < 0.2);
}

TEST_CASE("softmax_regression ignores bad control values and logs the weights norm at checkpoint") {
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 2}});
  h.start();
  h.control(ControlMessage{ControlVerb::set, "", "lr", -1.0});
  h.control(ControlMessage{ControlVerb::set, "", "batch", 4});
  CHECK(named(h, "lr").empty());
  const auto rows = blobs(32, 2, 2, 4);
  for (const auto& r : rows) h.push("in", example(r, Split::train));
  h.control(ControlMessage{ControlVerb::checkpoint, "", "", Value()});
  const auto norm = named(h, "weights_norm");
  REQUIRE(norm.size() == 1);
  CHECK(norm[0].value > 0.0);
  CHECK(norm[0].step == 2);
  bool logged = false;
  for (const auto& l : h.logs()) logged = logged || l.message.find("weights norm") != std::string::npos;
  CHECK(logged);
}

TEST_CASE("softmax_regression keeps at most eval_buffer examples per split") {
  const auto rows = blobs(10, 2, 2, 2);
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 2}, {"eval_buffer", 3}});
  h.start();
  for (const auto& r : rows) h.push("in", example(r, Split::val));
  h.flush();
  CHECK(h.output("predictions").size() == 3);
  bool warned = false;
  for (const auto& l : h.logs())
    warned = warned || (l.level == LogLevel::warn && l.message.find("eval_buffer") != std::string::npos);
  CHECK(warned);
}

TEST_CASE("softmax_regression names itself and the bad value for a label out of range") {
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 3}});
  h.start();
  CHECK_THROWS_WITH(h.push("in", example(Row{{1.0f, 2.0f}, 3}, Split::train)),
                    Catch::Contains("softmax_regression") && Catch::Contains("label 3") && Catch::Contains("[0, 3)"));
  CHECK_THROWS_WITH(h.push("in", example(Row{{1.0f, 2.0f}, -1}, Split::val)), Catch::Contains("label -1"));
  auto unlabelled = make_packet(PayloadKind::example);
  unlabelled->tensors.push_back(Tensor::from_vector(std::vector<float>{1.0f, 2.0f}));
  CHECK_THROWS_WITH(h.push("in", unlabelled), Catch::Contains("without a label"));
}

TEST_CASE("softmax_regression names the expected and found shape when the feature count changes") {
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 3}});
  h.start();
  h.push("in", example(Row{{1.0f, 2.0f, 3.0f}, 0}, Split::train));
  CHECK_THROWS_WITH(
      h.push("in", example(Row{{1.0f, 2.0f}, 0}, Split::train)),
      Catch::Contains("softmax_regression") && Catch::Contains("expected 3 features") && Catch::Contains("[2]"));
  auto ints = make_packet(PayloadKind::example);
  ints->label = 0;
  ints->tensors.push_back(Tensor::from_vector(std::vector<std::int32_t>{1, 2, 3}));
  CHECK_THROWS_WITH(h.push("in", ints), Catch::Contains("expected f32") && Catch::Contains("i32"));
}

TEST_CASE("softmax_regression fails when the loss is not a finite number, rather than report it") {
  auto h = NodeHarness::of<SoftmaxRegression>({{"classes", 2}, {"batch", 1}});
  h.start();
  h.push("in", example({{1.0f, 2.0f}, 0}, Split::train));
  CHECK_THROWS_WITH(h.push("in", example({{std::nanf(""), 2.0f}, 1}, Split::train)),
                    Catch::StartsWith("the loss is nan at step 2: training diverged or an example holds NaN"));
  for (const auto& point : named(h, "train/loss")) CHECK(std::isfinite(point.value));
}
