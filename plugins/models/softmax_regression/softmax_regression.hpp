#pragma once
// softmax_regression: a multinomial logistic regression classifier trained online by mini-batch
// SGD with momentum and L2 weight decay, for tabular examples.
//
//   [nodes.train]
//   plugin  = "softmax_regression"
//   classes = 3
//   lr      = 0.1    # settable while running: ControlVerb::set, key "lr"
//   batch   = 16
//
// Train examples (and examples without a split) are batched; each full batch is one SGD step.
// Validation and test examples are kept and evaluated at the end of each epoch (when the
// packets' "epoch" attribute changes) and at end of stream.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::models {

// The weights of a linear softmax classifier and their SGD-with-momentum update.
class SoftmaxClassifier {
 public:
  void reset(std::size_t classes, std::size_t features, std::uint64_t seed);
  std::size_t classes() const noexcept { return classes_; }
  std::size_t features() const noexcept { return features_; }

  // Class probabilities of one feature vector into `probs` (size classes()); returns the
  // cross-entropy loss against `label`.
  double predict(const float* x, std::int64_t label, std::vector<double>& probs) const;

  // Loss, correct predictions and gradient norm of one SGD step.
  struct StepResult {
    double loss_sum = 0.0;
    std::size_t correct = 0;
    double grad_norm = 0.0;
  };
  // One step over `count` rows of `x` (row-major, features() wide).
  StepResult step(const std::vector<float>& x, const std::vector<std::int64_t>& labels, std::size_t count, double lr,
                  double momentum, double l2);

  // Euclidean norm of all weights and biases.
  double weights_norm() const;

 private:
  std::size_t classes_ = 0;
  std::size_t features_ = 0;
  std::vector<double> weights_;  // [classes, features], row-major
  std::vector<double> bias_;     // [classes]
  std::vector<double> velocity_w_;
  std::vector<double> velocity_b_;
  std::vector<double> grad_w_;
  std::vector<double> grad_b_;
};

// Macro-averaged classification metrics over the classes that occur in labels or predictions.
struct ClassificationScores {
  double loss = 0.0;
  double accuracy = 0.0;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double fpr = 0.0;
  double fnr = 0.0;
};
ClassificationScores score(const std::vector<std::int64_t>& labels, const std::vector<std::int64_t>& predicted,
                           double loss_sum, std::size_t classes);

class SoftmaxRegression final : public Node {
 public:
  static constexpr const char* kType = "softmax_regression";
  static constexpr InputPort kIn{"in", PayloadKind::example,
                                 "labelled examples: f32 features (tensor 0, flattened), int label, split"};
  static constexpr OutputPort kMetrics{"metrics", PayloadKind::metrics,
                                       "train/*, val/*, test/*, lr, grad_norm, samples_per_s metric points"};
  static constexpr OutputPort kPredictions{"predictions", PayloadKind::example,
                                           "class probabilities f32 [classes] of each evaluated val/test example"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  ControlReply on_control(const ControlMessage& message, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  // Val or test examples kept for evaluation: those of the latest epoch in which the split
  // appeared, so a source that repeats them every epoch is not counted twice.
  struct EvalSet {
    Split split = Split::val;
    std::vector<PacketPtr> examples;
    std::int64_t epoch = 0;
    std::uint64_t dropped = 0;
  };

  struct MetricValue {
    const char* name;
    double value;
  };

  std::int64_t epoch_of(const Packet& packet) const;
  std::int64_t label_of(const Packet& packet) const;
  Tensor features_of(const Packet& packet);
  void keep(EvalSet& set, const PacketPtr& packet, std::int64_t epoch);
  void train_batch(Emitter& out);
  void report_training(Emitter& out);
  void evaluate(EvalSet& set, std::int64_t epoch, Emitter& out);
  void report_progress(Emitter& out, std::int64_t epochs_done);
  void emit_metrics(Emitter& out, const std::vector<MetricValue>& values, std::int64_t epoch);

  // Parameters.
  std::size_t classes_ = 0;
  double lr_ = 0.1;
  std::size_t batch_ = 16;
  double l2_ = 0.0;
  double momentum_ = 0.9;
  std::uint64_t seed_ = 0;
  std::int64_t log_every_ = 10;
  std::size_t eval_capacity_ = 100000;

  // Model and the batch being filled.
  SoftmaxClassifier model_;
  bool shaped_ = false;
  Shape first_shape_;
  std::vector<float> batch_x_;
  std::vector<std::int64_t> batch_y_;
  std::size_t batch_fill_ = 0;
  std::int64_t steps_ = 0;

  // Training figures since the last report.
  double loss_sum_ = 0.0;
  std::size_t correct_ = 0;
  std::size_t samples_ = 0;
  double grad_norm_sum_ = 0.0;
  std::int64_t steps_since_report_ = 0;
  std::chrono::steady_clock::time_point report_clock_;

  // Epochs, as the source numbers them.
  bool seen_packet_ = false;
  std::int64_t epoch_ = 0;
  std::int64_t epochs_done_ = 0;
  std::optional<std::int64_t> epochs_total_;  // from an "epochs" attribute, when the source gives one
  std::chrono::steady_clock::time_point run_clock_;

  EvalSet val_{Split::val, {}, 0, 0};
  EvalSet test_{Split::test, {}, 0, 0};
  std::uint64_t metric_sequence_ = 0;
};

}  // namespace tributary::models
