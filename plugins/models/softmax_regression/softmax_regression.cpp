#include "softmax_regression/softmax_regression.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

namespace tributary::models {

namespace {

std::size_t argmax(const std::vector<double>& values) {
  return static_cast<std::size_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

double seconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

struct SplitNames {
  const char* loss;
  const char* accuracy;
  const char* precision;
  const char* recall;
  const char* f1;
  const char* fpr;
  const char* fnr;
};

SplitNames names_of(Split split) {
  if (split == Split::test) {
    return {metric::kTestLoss, metric::kTestAccuracy, metric::kTestPrecision, metric::kTestRecall,
            metric::kTestF1,   metric::kTestFpr,      metric::kTestFnr};
  }
  return {metric::kValLoss, metric::kValAccuracy, metric::kValPrecision, metric::kValRecall,
          metric::kValF1,   metric::kValFpr,      metric::kValFnr};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SoftmaxClassifier

void SoftmaxClassifier::reset(std::size_t classes, std::size_t features, std::uint64_t seed) {
  classes_ = classes;
  features_ = features;
  // Small seeded weights in [-0.01, 0.01): reproducible, and far from saturating the softmax.
  std::mt19937_64 rng(seed);
  weights_.resize(classes * features);
  for (double& w : weights_) w = (static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0) * 0.01;
  bias_.assign(classes, 0.0);
  velocity_w_.assign(weights_.size(), 0.0);
  velocity_b_.assign(classes, 0.0);
  grad_w_.assign(weights_.size(), 0.0);
  grad_b_.assign(classes, 0.0);
}

double SoftmaxClassifier::predict(const float* x, std::int64_t label, std::vector<double>& probs) const {
  probs.resize(classes_);
  double top = -std::numeric_limits<double>::infinity();
  for (std::size_t c = 0; c < classes_; ++c) {
    const double* w = &weights_[c * features_];
    double z = bias_[c];
    for (std::size_t j = 0; j < features_; ++j) z += w[j] * static_cast<double>(x[j]);
    probs[c] = z;
    top = std::max(top, z);
  }
  const double label_logit = probs[static_cast<std::size_t>(label)] - top;
  double sum = 0.0;
  for (double& p : probs) {
    p = std::exp(p - top);
    sum += p;
  }
  for (double& p : probs) p /= sum;
  return std::log(sum) - label_logit;
}

SoftmaxClassifier::StepResult SoftmaxClassifier::step(const std::vector<float>& x,
                                                      const std::vector<std::int64_t>& labels, std::size_t count,
                                                      double lr, double momentum, double l2) {
  StepResult result;
  std::fill(grad_w_.begin(), grad_w_.end(), 0.0);
  std::fill(grad_b_.begin(), grad_b_.end(), 0.0);
  std::vector<double> probs;
  for (std::size_t i = 0; i < count; ++i) {
    const float* row = &x[i * features_];
    const auto label = static_cast<std::size_t>(labels[i]);
    result.loss_sum += predict(row, labels[i], probs);
    if (argmax(probs) == label) ++result.correct;
    // d loss / d logits = probabilities - one-hot label.
    for (std::size_t c = 0; c < classes_; ++c) {
      const double d = probs[c] - (c == label ? 1.0 : 0.0);
      grad_b_[c] += d;
      double* g = &grad_w_[c * features_];
      for (std::size_t j = 0; j < features_; ++j) g[j] += d * static_cast<double>(row[j]);
    }
  }
  const double scale = 1.0 / static_cast<double>(count);
  double norm2 = 0.0;
  for (std::size_t k = 0; k < grad_w_.size(); ++k) {
    const double g = grad_w_[k] * scale + l2 * weights_[k];
    norm2 += g * g;
    velocity_w_[k] = momentum * velocity_w_[k] + g;
    weights_[k] -= lr * velocity_w_[k];
  }
  for (std::size_t c = 0; c < classes_; ++c) {
    const double g = grad_b_[c] * scale;
    norm2 += g * g;
    velocity_b_[c] = momentum * velocity_b_[c] + g;
    bias_[c] -= lr * velocity_b_[c];
  }
  result.grad_norm = std::sqrt(norm2);
  return result;
}

double SoftmaxClassifier::weights_norm() const {
  double norm2 = 0.0;
  for (double w : weights_) norm2 += w * w;
  for (double b : bias_) norm2 += b * b;
  return std::sqrt(norm2);
}

// ---------------------------------------------------------------------------------------------
// Scores

ClassificationScores score(const std::vector<std::int64_t>& labels, const std::vector<std::int64_t>& predicted,
                           double loss_sum, std::size_t classes) {
  ClassificationScores s;
  const std::size_t n = labels.size();
  if (n == 0) return s;
  std::vector<std::size_t> tp(classes, 0), fp(classes, 0), fn(classes, 0);
  std::vector<bool> present(classes, false);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto y = static_cast<std::size_t>(labels[i]);
    const auto p = static_cast<std::size_t>(predicted[i]);
    present[y] = true;
    present[p] = true;
    if (y == p) {
      ++tp[y];
      ++correct;
    } else {
      ++fp[p];
      ++fn[y];
    }
  }
  auto ratio = [](std::size_t num, std::size_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / den; };
  std::size_t counted = 0;
  for (std::size_t c = 0; c < classes; ++c) {
    if (!present[c]) continue;
    ++counted;
    const std::size_t tn = n - tp[c] - fp[c] - fn[c];
    const double precision = ratio(tp[c], tp[c] + fp[c]);
    const double recall = ratio(tp[c], tp[c] + fn[c]);
    s.precision += precision;
    s.recall += recall;
    s.f1 += precision + recall > 0.0 ? 2.0 * precision * recall / (precision + recall) : 0.0;
    s.fpr += ratio(fp[c], fp[c] + tn);
    s.fnr += ratio(fn[c], fn[c] + tp[c]);
  }
  const double k = static_cast<double>(counted);
  s.precision /= k;
  s.recall /= k;
  s.f1 /= k;
  s.fpr /= k;
  s.fnr /= k;
  s.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  s.loss = loss_sum / static_cast<double>(n);
  return s;
}

// ---------------------------------------------------------------------------------------------
// SoftmaxRegression

void SoftmaxRegression::declare(NodeSpec& spec) {
  spec.summary(
      "multinomial logistic regression trained online by mini-batch SGD with momentum; "
      "evaluates val/test examples at each epoch end and at end of stream");
  spec.input(kIn);
  spec.output(kMetrics);
  spec.output(kPredictions);
  spec.concurrency(Concurrency::serial);
  spec.required<std::int64_t>("classes", "number of classes; labels run from 0 to classes - 1").range(2, 100000);
  spec.param<double>("lr", 0.1, "SGD learning rate, > 0; settable while running (key \"lr\")").min(0.0).settable();
  spec.param<std::int64_t>("batch", 16, "train examples per SGD step").range(1, 1000000);
  spec.param<double>("l2", 0.0, "L2 weight decay on the weights (not the biases)").min(0.0);
  spec.param<double>("momentum", 0.9, "SGD momentum").range(0.0, 0.999);
  spec.param<std::int64_t>("seed", 0, "seed of the small random initial weights");
  spec.param<std::int64_t>("log_every", 10, "SGD steps between reports of the train metrics").min(1);
  spec.param<std::int64_t>("eval_buffer", 100000,
                           "val and test examples kept for evaluation, per split; further ones are dropped "
                           "with a warning")
      .range(1, 10000000);
  spec.example(R"([pipeline]
name  = "iris-softmax"
links = [ "iris -> norm", "norm -> train", "train.metrics -> log" ]

[nodes.iris]
plugin  = "table"
path    = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv"
shuffle = true
epochs  = 50
split   = [0.7, 0.15, 0.15]

[nodes.norm]
plugin = "standardize"
warmup = 150

[nodes.train]
plugin  = "softmax_regression"
classes = 3
lr      = 0.05
batch   = 10

[nodes.log]
plugin = "csv"
path   = "${RUN_DIR}/metrics.csv"
)");
}

void SoftmaxRegression::configure(const Params& params) {
  classes_ = static_cast<std::size_t>(params.get<std::int64_t>("classes"));
  lr_ = params.get<double>("lr");
  if (!(lr_ > 0.0) || !std::isfinite(lr_)) throw ParamError("lr", "must be a finite number greater than 0; try 0.1");
  batch_ = static_cast<std::size_t>(params.get<std::int64_t>("batch"));
  l2_ = params.get<double>("l2");
  momentum_ = params.get<double>("momentum");
  seed_ = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  log_every_ = params.get<std::int64_t>("log_every");
  eval_capacity_ = static_cast<std::size_t>(params.get<std::int64_t>("eval_buffer"));
}

void SoftmaxRegression::start() {
  log().debug("SGD with lr ", lr_, ", batch ", batch_, ", momentum ", momentum_, ", l2 ", l2_);
  run_clock_ = std::chrono::steady_clock::now();
  report_clock_ = run_clock_;
}

std::int64_t SoftmaxRegression::epoch_of(const Packet& packet) const {
  const Value* epoch = packet.attribute("epoch");
  if (epoch == nullptr || !epoch->is_number()) return 0;
  return epoch->type() == ValueType::integer ? epoch->as_int() : static_cast<std::int64_t>(epoch->as_number());
}

std::int64_t SoftmaxRegression::label_of(const Packet& packet) const {
  const std::string& node = context().node_name();
  if (!packet.label) {
    throw std::runtime_error(node + ": expected a labelled example, found an example without a label (sequence " +
                             std::to_string(packet.sequence) + " of stream '" + packet.stream + "')");
  }
  const std::int64_t label = *packet.label;
  if (label < 0 || static_cast<std::size_t>(label) >= classes_) {
    throw std::runtime_error(node + ": label " + std::to_string(label) + " is outside [0, " + std::to_string(classes_) +
                             "); set classes to the number of classes in the data");
  }
  return label;
}

Tensor SoftmaxRegression::features_of(const Packet& packet) {
  const std::string& node = context().node_name();
  if (packet.tensors.empty()) {
    throw std::runtime_error(node + ": expected an example with a feature tensor (tensor 0), found no tensors");
  }
  const Tensor& x = packet.tensors.front();
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64) {
    throw std::runtime_error(node + ": expected f32 features, found " + std::string(to_string(x.dtype())) +
                             " of shape " + to_string(x.shape()));
  }
  if (!shaped_) {
    if (x.numel() == 0)
      throw std::runtime_error(node + ": expected at least one feature, found shape " + to_string(x.shape()));
    shaped_ = true;
    first_shape_ = x.shape();
    const auto features = static_cast<std::size_t>(x.numel());
    model_.reset(classes_, features, seed_);
    batch_x_.assign(batch_ * features, 0.0f);
    batch_y_.assign(batch_, 0);
  } else if (static_cast<std::size_t>(x.numel()) != model_.features()) {
    throw std::runtime_error(node + ": expected " + std::to_string(model_.features()) +
                             " features per example (shape " + to_string(first_shape_) +
                             ", as in the first example), found shape " + to_string(x.shape()));
  }
  return x.to(DType::f32);
}

void SoftmaxRegression::keep(EvalSet& set, const PacketPtr& packet, std::int64_t epoch) {
  if (!set.examples.empty() && epoch != set.epoch) set.examples.clear();
  set.epoch = epoch;
  if (set.examples.size() < eval_capacity_) {
    set.examples.push_back(packet);
    return;
  }
  if (set.dropped++ == 0) {
    log().warn("more than ", eval_capacity_, " ", to_string(set.split), " examples in one epoch: evaluating the first ",
               eval_capacity_, " (raise eval_buffer to keep more)");
  }
}

void SoftmaxRegression::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const Packet& p = *packet;
  const Tensor x = features_of(p);
  const std::int64_t label = label_of(p);
  const std::int64_t epoch = epoch_of(p);
  if (const Value* total = p.attribute("epochs"); total != nullptr && total->is_number() && total->as_number() > 0) {
    epochs_total_ = static_cast<std::int64_t>(total->as_number());
  }

  if (!seen_packet_) {
    seen_packet_ = true;
    run_clock_ = std::chrono::steady_clock::now();
    report_clock_ = run_clock_;
  } else if (epoch != epoch_) {
    ++epochs_done_;
    evaluate(val_, epoch_, out);
    report_progress(out, epochs_done_);
  }
  epoch_ = epoch;

  if (p.split == Split::val) {
    keep(val_, packet, epoch);
    return;
  }
  if (p.split == Split::test) {
    keep(test_, packet, epoch);
    return;
  }
  const float* values = x.data<float>();
  std::copy(values, values + model_.features(),
            batch_x_.begin() + static_cast<std::ptrdiff_t>(batch_fill_ * model_.features()));
  batch_y_[batch_fill_] = label;
  if (++batch_fill_ == batch_) train_batch(out);
}

void SoftmaxRegression::train_batch(Emitter& out) {
  const auto result = model_.step(batch_x_, batch_y_, batch_fill_, lr_, momentum_, l2_);
  // A NaN loss would be reported as a number and the run would finish as if it had learned.
  if (!std::isfinite(result.loss_sum)) {
    throw std::runtime_error(concat("the loss is ", result.loss_sum, " at step ", steps_ + 1,
                                    ": training diverged or an example holds NaN or infinity; lower lr (", lr_,
                                    ") or standardize the features"));
  }
  ++steps_;
  ++steps_since_report_;
  loss_sum_ += result.loss_sum;
  correct_ += result.correct;
  samples_ += batch_fill_;
  grad_norm_sum_ += result.grad_norm;
  batch_fill_ = 0;
  if (steps_ % log_every_ == 0) report_training(out);
}

void SoftmaxRegression::report_training(Emitter& out) {
  if (steps_since_report_ == 0) return;
  const double n = static_cast<double>(samples_);
  const double seconds = std::max(seconds_since(report_clock_), 1e-9);
  emit_metrics(out,
               {{metric::kTrainLoss, loss_sum_ / n},
                {metric::kTrainAccuracy, static_cast<double>(correct_) / n},
                {metric::kLearningRate, lr_},
                {metric::kGradNorm, grad_norm_sum_ / static_cast<double>(steps_since_report_)},
                {metric::kSamplesPerSecond, n / seconds}},
               epoch_);
  loss_sum_ = 0.0;
  correct_ = 0;
  samples_ = 0;
  grad_norm_sum_ = 0.0;
  steps_since_report_ = 0;
  report_clock_ = std::chrono::steady_clock::now();
}

void SoftmaxRegression::evaluate(EvalSet& set, std::int64_t epoch, Emitter& out) {
  if (set.examples.empty()) return;
  std::vector<std::int64_t> labels;
  std::vector<std::int64_t> predicted;
  labels.reserve(set.examples.size());
  predicted.reserve(set.examples.size());
  double loss_sum = 0.0;
  std::vector<double> probs;
  for (const PacketPtr& example : set.examples) {
    const Tensor x = features_of(*example);
    const std::int64_t label = *example->label;
    loss_sum += model_.predict(x.data<float>(), label, probs);
    const auto best = static_cast<std::int64_t>(argmax(probs));
    labels.push_back(label);
    predicted.push_back(best);

    auto prediction = make_packet(PayloadKind::example);
    prediction->stream = example->stream;
    prediction->sequence = example->sequence;
    prediction->timestamp_ns = example->timestamp_ns;
    prediction->label = label;
    prediction->split = example->split;
    prediction->attributes = example->attributes;
    prediction->set_attribute("predicted", best);
    prediction->tensors.push_back(
        Tensor::from_vector(std::vector<float>(probs.begin(), probs.end()), {static_cast<std::int64_t>(classes_)}));
    out.emit(kPredictions, std::move(prediction));
  }
  const ClassificationScores s = score(labels, predicted, loss_sum, classes_);
  const SplitNames names = names_of(set.split);
  emit_metrics(out,
               {{names.loss, s.loss},
                {names.accuracy, s.accuracy},
                {names.precision, s.precision},
                {names.recall, s.recall},
                {names.f1, s.f1},
                {names.fpr, s.fpr},
                {names.fnr, s.fnr}},
               epoch);
}

void SoftmaxRegression::report_progress(Emitter& out, std::int64_t epochs_done) {
  if (!epochs_total_ || epochs_done <= 0) return;
  const std::int64_t total = *epochs_total_;
  const std::int64_t done = std::min(epochs_done, total);
  const double per_epoch = seconds_since(run_clock_) / static_cast<double>(done);
  emit_metrics(out,
               {{metric::kProgress, static_cast<double>(done) / static_cast<double>(total)},
                {metric::kEtaSeconds, per_epoch * static_cast<double>(total - done)}},
               epoch_);
}

void SoftmaxRegression::emit_metrics(Emitter& out, const std::vector<MetricValue>& values, std::int64_t epoch) {
  auto packet = make_packet(PayloadKind::metrics);
  packet->stream = context().node_name();
  packet->sequence = metric_sequence_++;
  packet->timestamp_ns = monotonic_ns();
  const double now = wall_time_s();
  for (const MetricValue& v : values) {
    packet->metrics.push_back(MetricPoint{now, context().node_name(), v.name, steps_, epoch, v.value});
  }
  out.emit(kMetrics, std::move(packet));
}

ControlReply SoftmaxRegression::on_control(const ControlMessage& message, Emitter& out) {
  const auto step = static_cast<std::int64_t>(steps_);
  if (message.verb == ControlVerb::set) {
    if (message.key != "lr") {
      log().warn("'", message.key, "' cannot be set while running; the settable parameter is 'lr'");
      return ControlReply::refuse("'" + message.key + "' cannot be set while running; the settable parameter is 'lr'");
    }
    if (!message.value.is_number() || !(message.value.as_number() > 0.0) || !std::isfinite(message.value.as_number())) {
      log().warn("ignoring lr = ", message.value.to_string(), ": the learning rate must be a finite number > 0");
      return ControlReply::refuse("the learning rate must be a finite number > 0, not " + message.value.to_string());
    }
    const double previous = lr_;
    lr_ = message.value.as_number();
    log().info("lr ", previous, " -> ", lr_, " at step ", steps_);
    emit_metrics(out, {{metric::kLearningRate, lr_}}, epoch_);
    return ControlReply::accept(concat("lr ", previous, " -> ", lr_), step);
  }
  if (message.verb == ControlVerb::checkpoint) {
    const double norm = shaped_ ? model_.weights_norm() : 0.0;
    log().info("checkpoint at step ", steps_, " (epoch ", epoch_, "): weights norm ", norm);
    emit_metrics(out, {{"weights_norm", norm}}, epoch_);
    return ControlReply::accept(concat("weights norm ", norm), step);
  }
  return Node::on_control(message, out);
}

void SoftmaxRegression::flush(Emitter& out) {
  if (batch_fill_ > 0) train_batch(out);
  report_training(out);
  if (seen_packet_) report_progress(out, epochs_done_ + 1);
  evaluate(val_, epoch_, out);
  evaluate(test_, epoch_, out);
  for (const EvalSet* set : {&val_, &test_}) {
    if (set->dropped > 0) {
      log().warn(set->dropped, " ", to_string(set->split),
                 " examples were not evaluated (eval_buffer = ", eval_capacity_, ")");
    }
  }
  log().info("trained ", steps_, " steps; weights norm ", shaped_ ? model_.weights_norm() : 0.0);
}

}  // namespace tributary::models
