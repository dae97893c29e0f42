#include "trainer/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "trainer/boundary.hpp"
#include "trainer/confusion.hpp"
#include "trainer/model_spec.hpp"
#include "trainer/model_stats.hpp"
#include "trainer/network.hpp"

namespace tributary::models {

namespace {

// 1.5 GB, 12.0 MB, 640 kB: a size for a log line.
std::string format_bytes(double bytes) {
  char text[32];
  if (bytes >= 1e9) {
    std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  } else if (bytes >= 1e6) {
    std::snprintf(text, sizeof text, "%.1f MB", bytes / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.0f kB", std::ceil(bytes / 1e3));
  }
  return text;
}

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

constexpr const char* kFormat = "tributary.trainer/1";
// Rows per evaluation pass: at most 1024 and at most 2^14 input values, as the boundary's passes,
// so that a convolution's activations stay in the cache (`models_tests "[.cost]"`: on a
// keyword-spotter cnn, 8 rows a pass evaluate several times faster per row than 4096).
constexpr std::int64_t kEvalRows = 1024;
constexpr std::int64_t kEvalValues = std::int64_t{1} << 14;

double seconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Lower is better for losses and error rates, higher for the rest.
bool lower_is_better(const std::string& metric_name) {
  for (const char* suffix : {"loss", "fpr", "fnr", "eta_s"}) {
    const std::string s(suffix);
    if (metric_name.size() >= s.size() && metric_name.compare(metric_name.size() - s.size(), s.size(), s) == 0) {
      return true;
    }
  }
  return false;
}

std::string shape_text(const torch::Tensor& t) {
  Shape shape(t.sizes().begin(), t.sizes().end());
  return to_string(shape);
}

// "0.weight [64, 64]; 0.bias [64]; ...": what a network holds, to compare a checkpoint with.
std::string layout_of(const torch::nn::Sequential& net) {
  std::string text;
  for (const auto& p : net->named_parameters()) text += p.key() + " " + shape_text(p.value()) + "; ";
  for (const auto& b : net->named_buffers()) text += b.key() + " " + shape_text(b.value()) + "; ";
  return text;
}

// The first entry of `a` that differs from `b`, both "name shape; " lists.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string ea, eb;
  while (true) {
    const bool ha = static_cast<bool>(std::getline(sa, ea, ';'));
    const bool hb = static_cast<bool>(std::getline(sb, eb, ';'));
    if (!ha && !hb) return {};
    if (ha != hb || ea != eb) {
      auto trim = [](std::string s) {
        s.erase(0, s.find_first_not_of(' '));
        return s.empty() ? std::string("(nothing)") : s;
      };
      return "the checkpoint has " + trim(hb ? eb : "") + " where this model has " + trim(ha ? ea : "");
    }
  }
}

// Whether LibTorch's matrix products go to OpenBLAS; the reference BLAS is about 5x slower.
bool blas_is_openblas() { return dlsym(RTLD_DEFAULT, "openblas_get_config") != nullptr; }

void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (void* f = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) reinterpret_cast<SetThreads>(f)(threads);
}

// The newest checkpoint in a directory (or its checkpoints/ folder): the highest step-*.pt.
std::string newest_checkpoint(const fs::path& dir) {
  for (const fs::path& folder : {dir, dir / "checkpoints"}) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;
    std::string best;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("step-", 0) != 0 || entry.path().extension() != ".pt") continue;
      if (name > best) best = name;  // zero-padded steps sort as text
    }
    if (!best.empty()) return (folder / best).string();
  }
  return {};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Examples kept for evaluation: features row-major, labels.
struct ExampleSet {
  std::vector<float> x;
  std::vector<std::int64_t> y;
  std::uint64_t dropped = 0;
  void clear() {
    x.clear();
    y.clear();
  }
  std::size_t size() const { return y.size(); }
};

struct Evaluation {
  double loss = 0.0;
  ConfusionMatrix confusion;
};

}  // namespace

struct Trainer::State {
  // Parameters.
  ModelSpec model_spec;
  std::int64_t classes_param = 0;
  std::string optimizer = "adam";
  double lr = 1e-3;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double grad_clip = 0.0;
  std::int64_t batch = 32;
  std::uint64_t seed = 0;
  int threads = 1;
  std::string device_name = "cpu";
  std::int64_t log_every = 10;
  std::size_t eval_capacity = 100000;
  std::string monitor = "val/loss";
  std::int64_t checkpoint_every = 0;
  double checkpoint_every_s = 0.0;
  bool checkpoint_best = true;
  bool checkpoint_end = true;
  std::string resume;
  std::string scheduler = "none";
  std::int64_t step_size = 10;
  double gamma = 0.1;
  std::int64_t scheduler_patience = 5;
  std::int64_t t_max = 0;
  double min_lr = 0.0;
  std::int64_t early_stopping = 0;
  std::int64_t stats_every = 50;
  std::int64_t histogram_bins = 32;
  std::int64_t boundary_every = 1;
  std::int64_t boundary_grid = 64;
  std::int64_t boundary_points = 500;
  std::vector<double> class_weights;  // given per class; empty: unweighted (or balanced)
  bool balanced = false;              // class_weights = "balanced": from the source's class_counts
  bool reconstructs = false;          // an autoencoder: MSE against the input, no labels
  // mode = "online": a bounded replay buffer, a step every step_every packets on a batch drawn
  // from it, train figures over the last `window` steps.
  bool online = false;
  std::int64_t replay = 2048;
  std::int64_t step_every = 1;
  std::int64_t window = 20;

  // The model_stats and boundary ports: off when their period is 0 or when no link takes them.
  bool stats_on = false;
  bool boundary_on = false;
  std::unique_ptr<DecisionBoundary> boundary;  // keeps the principal components of the first picture
  bool boundary_skip_said = false;

  // Scheduler and early stopping, by epochs.
  double base_lr = 1e-3;
  std::int64_t epochs_without_gain = 0;  // since the monitor's last improvement
  std::int64_t plateau_epochs = 0;       // since the last improvement or cut of the learning rate
  bool stopped_early = false;

  // Model, built from the first packet.
  bool built = false;
  bool threads_set = false;
  Shape input_shape;
  std::int64_t features = 0;
  std::int64_t classes = 0;
  std::vector<std::string> class_names;
  torch::Device device{torch::kCPU};
  torch::nn::Sequential net{nullptr};
  std::unique_ptr<torch::optim::Optimizer> opt;
  std::vector<torch::Tensor> params;  // net->parameters(), kept for the steps
  std::vector<torch::Tensor> norms;   // the steps' per-parameter gradient norms
  torch::Tensor loss_weight;          // per class, for the training loss; undefined when unweighted
  // A torchscript model: the file (resolved at start) and the module loaded from it.
  std::string script_path;
  torch::jit::Module script;

  // The batch being filled (on the CPU).
  torch::Tensor batch_x;
  torch::Tensor batch_y;
  std::int64_t fill = 0;

  // Position in the stream.
  std::int64_t step = 0;
  std::int64_t epochs_done = 0;              // epoch_end markers seen
  std::int64_t packets_in_epoch = 0;         // packets of the current epoch taken
  std::optional<std::int64_t> epochs_total;  // from the source's "epochs" attribute
  // Packets per epoch: the last epoch's, or before one ended the source's class_counts.
  std::int64_t epoch_size = 0;
  bool epochs_reported = false;  // "epochs" (how many the run makes) goes out once

  // Train figures since the last report.
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  std::int64_t samples = 0;
  double grad_norm_sum = 0.0;
  std::int64_t steps_since_report = 0;
  std::int64_t trained_samples = 0;  // since this run started
  std::chrono::steady_clock::time_point report_clock;
  std::chrono::steady_clock::time_point run_clock;
  std::chrono::steady_clock::time_point checkpoint_clock;
  bool seen_packet = false;

  // Online mode: the replay buffer (a ring: the newest example replaces the oldest), the packets
  // since the last step, and the figures of the last `window` steps.
  std::vector<float> replay_x;
  std::vector<std::int64_t> replay_y;
  std::int64_t replay_size = 0;
  std::int64_t replay_next = 0;
  std::int64_t since_step = 0;
  std::int64_t packets_taken = 0;
  struct StepFigures {
    double loss_sum;  // loss times examples
    std::int64_t correct;
    std::int64_t samples;
    double grad_norm;
  };
  std::deque<StepFigures> recent;
  bool best_since_checkpoint = false;  // online: a new best of `monitor` since the last checkpoint

  ExampleSet val;
  ExampleSet test;
  ExampleSet last_test;  // the test examples of the latest finished epoch

  std::optional<double> best;
  std::int64_t best_epoch = -1;
  std::vector<std::pair<std::string, double>> last_scores;  // the latest evaluation, for checkpoints

  // Resume: the checkpoint's bytes until the model exists, then what to skip of the stream.
  std::string resume_path;
  std::string resume_bytes;
  std::int64_t skip_epochs = 0;
  std::int64_t skip_packets = 0;

  std::uint64_t metric_sequence = 0;
  std::uint64_t checkpoint_sequence = 0;
  std::uint64_t stats_sequence = 0;
  std::uint64_t boundary_sequence = 0;

  Trainer* node = nullptr;

  const std::string& name() const { return node->context().node_name(); }
  Logger& log() const { return node->log(); }

  void use_threads() {
    if (threads_set) return;
    threads_set = true;
    torch::set_num_threads(threads);
    set_blas_threads(threads);
  }

  // ---- model ------------------------------------------------------------------------------

  void read_classes(const Packet& p) {
    const Value* attr = p.attribute("classes");
    if (attr != nullptr && attr->type() == ValueType::list) {
      for (const Value& v : attr->as_list()) {
        class_names.push_back(v.type() == ValueType::string ? v.as_string() : v.to_string());
      }
    }
    if (classes_param > 0) {
      classes = classes_param;
    } else if (!class_names.empty()) {
      classes = static_cast<std::int64_t>(class_names.size());
    } else if (attr != nullptr && attr->type() == ValueType::integer) {
      classes = attr->as_int();
    }
    if (classes < 2) {
      throw std::runtime_error(name() + ": the number of classes is unknown: the source gives no 'classes' attribute" +
                               "; set classes = N on the trainer");
    }
    if (static_cast<std::int64_t>(class_names.size()) != classes) class_names.clear();
    if (class_names.empty()) {
      for (std::int64_t c = 0; c < classes; ++c) class_names.push_back(std::to_string(c));
    }
  }

  void build(const Packet& p, const Tensor& x) {
    use_threads();
    input_shape = x.shape();
    features = x.numel();
    if (features == 0)
      throw std::runtime_error(name() + ": the first example has no features (shape " + to_string(input_shape) + ")");
    if (!reconstructs) {
      read_classes(p);
      weigh_classes(p);
    }
    torch::manual_seed(seed);
    if (model_spec.kind == ModelKind::torchscript) {
      net = wrap_script(script);
      check_script(x);
    } else {
      try {
        net = build_network(model_spec, input_shape, classes);
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(name() + ": model " + model_spec.text + ": " + e.what());
      }
    }
    net->to(device);
    make_optimizer();
    batch_x = torch::zeros({batch, features}, torch::kFloat32);
    batch_y = torch::zeros({batch}, torch::kInt64);
    built = true;
    log().info("model ", describe_network(net, model_spec, input_shape, classes), "; optimizer ", optimizer, " lr ", lr,
               ", batch ", batch, ", ", threads, " intra-op thread", threads == 1 ? "" : "s", " on ", device_name);
    log().debug("input shape ", features, " features from the first example, ", classes, " classes; ",
                torch::get_num_threads(), " LibTorch threads");
    if (!resume_bytes.empty()) load_checkpoint();
  }

  // The per-class weights of the training loss: as given, or n / (classes * count) from the
  // source's class_counts of the train split (sklearn's "balanced").
  void weigh_classes(const Packet& p) {
    std::vector<double> w = class_weights;
    if (!w.empty() && static_cast<std::int64_t>(w.size()) != classes) {
      throw std::runtime_error(name() + ": class_weights has " + std::to_string(w.size()) + " weights but there are " +
                               std::to_string(classes) + " classes: give one weight per class");
    }
    if (balanced) {
      const Value* counts = p.attribute("class_counts");
      const Value* train = counts != nullptr && counts->type() == ValueType::table ? counts->find("train") : nullptr;
      if (train == nullptr || train->type() != ValueType::list) {
        throw std::runtime_error(
            name() + ": class_weights = \"balanced\" needs the source's 'class_counts' attribute with the train " +
            "split's count per class (audio_dataset gives it); this source gives " +
            (counts == nullptr ? std::string("no class_counts") : "class_counts = " + counts->to_string()) +
            ": give the weights as a list instead, e.g. class_weights = [1.0, 3.0]");
      }
      const auto& list = train->as_list();
      if (static_cast<std::int64_t>(list.size()) != classes) {
        throw std::runtime_error(name() + ": class_weights = \"balanced\": the source's class_counts.train has " +
                                 std::to_string(list.size()) + " counts but there are " + std::to_string(classes) +
                                 " classes");
      }
      double total = 0.0;
      for (const Value& n : list) total += n.is_number() ? n.as_number() : 0.0;
      std::string absent;
      for (std::int64_t c = 0; c < classes; ++c) {
        const Value& n = list[static_cast<std::size_t>(c)];
        const double count = n.is_number() ? n.as_number() : 0.0;
        if (count <= 0.0) absent += (absent.empty() ? "" : ", ") + class_names[static_cast<std::size_t>(c)];
        w.push_back(count > 0.0 ? total / (static_cast<double>(classes) * count) : 0.0);
      }
      if (!absent.empty()) {
        log().warn("class_weights = \"balanced\": no train examples of class ", absent,
                   " in the source's class_counts: weight 0");
      }
    }
    if (w.empty()) return;
    loss_weight = torch::tensor(w, torch::kFloat32).to(device);
    std::string text;
    for (std::size_t c = 0; c < w.size(); ++c) text += (c ? ", " : "") + class_names[c] + " " + format_number(w[c]);
    log().info("class weights of the training loss: ", text);
  }

  torch::Tensor train_loss(const torch::Tensor& logits, const torch::Tensor& y) const {
    if (reconstructs) return F::mse_loss(logits, y);
    if (!loss_weight.defined()) return F::cross_entropy(logits, y);
    return F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().weight(loss_weight));
  }

  // Loads the torchscript file named by model.path. The loader resolves it against the pipeline
  // file's folder (model.path is an input path key); run by hand, a relative path is taken from
  // the pipeline file's folder, or the current directory without one.
  void load_script() {
    fs::path path(model_spec.path);
    if (path.is_relative()) {
      const std::string& pipeline = node->context().run().pipeline_path;
      const fs::path base = pipeline.empty() ? fs::current_path() : fs::absolute(pipeline).parent_path();
      path = (base / path).lexically_normal();
    }
    script_path = path.string();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      throw std::runtime_error(name() + ": model.path = \"" + model_spec.path + "\": no file " + script_path +
                               (model_spec.path != script_path
                                    ? " (a relative path is taken from the pipeline file's folder)"
                                    : std::string()) +
                               "; save one in Python with torch.jit.script(model).save(\"model.pt\")");
    }
    try {
      script = torch::jit::load(script_path);
    } catch (const std::exception& e) {
      std::string why = e.what();
      why = why.substr(0, why.find('\n'));
      throw std::runtime_error(name() + ": " + script_path +
                               " is not a TorchScript file (one saved by torch.jit.script(model).save(path), or "
                               "torch.jit.trace): " +
                               why.substr(0, 200));
    }
  }

  // The scripted model's answer to the first example, in eval mode and without gradients (no state
  // changes, no random numbers): it must run and give [1, classes] or, for "mse", the input's shape.
  void check_script(const Tensor& x) {
    torch::NoGradGuard no_grad;
    const bool was_training = net->is_training();
    net->eval();
    const torch::Tensor one =
        torch::from_blob(const_cast<float*>(x.data<float>()), batch_view(1), torch::kFloat32).clone();
    torch::Tensor y;
    try {
      y = net->forward(one);
    } catch (const std::exception& e) {
      std::string why = e.what();
      // The TorchScript error's first lines say what failed; the rest is its traceback.
      std::string head;
      std::istringstream lines(why);
      for (std::string line; std::getline(lines, line) && head.size() < 400;) {
        if (!line.empty()) head += (head.empty() ? "" : " | ") + line;
      }
      throw std::runtime_error(name() + ": the TorchScript model " + script_path +
                               " fails on the first example, a batch of shape " + shape_text(one) + ": " + head);
    }
    net->train(was_training);
    const std::string got = shape_text(y);
    if (reconstructs && y.sizes() != one.sizes()) {
      throw std::runtime_error(name() + ": the TorchScript model " + script_path + " gives " + got +
                               " for a batch of shape " + shape_text(one) +
                               "; with loss = \"mse\" it must give back the input's shape");
    }
    if (!reconstructs && (y.dim() != 2 || y.size(1) != classes)) {
      throw std::runtime_error(name() + ": the TorchScript model " + script_path + " gives " + got +
                               " for a batch of shape " + shape_text(one) +
                               "; a classifier (loss = \"cross_entropy\") "
                               "must give [batch, classes] = [1, " +
                               std::to_string(classes) + "]");
    }
  }

  void make_optimizer() {
    params = net->parameters();
    if (optimizer == "sgd") {
      opt = std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(lr).momentum(momentum).nesterov(nesterov).weight_decay(weight_decay));
    } else if (optimizer == "adamw") {
      opt = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(lr).weight_decay(weight_decay));
    } else {
      opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(lr).weight_decay(weight_decay));
    }
  }

  void set_lr(double value) {
    lr = value;
    if (!opt) return;
    for (auto& group : opt->param_groups()) group.options().set_lr(value);
  }

  // Features of one example, checked against the first one.
  Tensor features_of(const Packet& p) {
    if (p.tensors.empty()) {
      throw std::runtime_error(name() + ": expected an example with a feature tensor (tensor 0), found no tensors " +
                               "(sequence " + std::to_string(p.sequence) + " of stream '" + p.stream + "')");
    }
    const Tensor& x = p.tensors.front();
    if (built && x.shape() != input_shape) {
      throw std::runtime_error(name() + ": expected examples of shape " + to_string(input_shape) +
                               " (as the first one, which built the model), found shape " + to_string(x.shape()) +
                               " (sequence " + std::to_string(p.sequence) + " of stream '" + p.stream + "')");
    }
    return x.dtype() == DType::f32 ? x : x.to(DType::f32);
  }

  std::int64_t label_of(const Packet& p) const {
    if (!p.label) {
      throw std::runtime_error(name() + ": expected a labelled example, found one without a label (sequence " +
                               std::to_string(p.sequence) + " of stream '" + p.stream + "', a " + to_string(p.kind) +
                               " packet): a classifier needs labels; an unlabelled stream (a microphone, a screen) "
                               "trains an autoencoder, model = { kind = \"autoencoder\" }");
    }
    const std::int64_t label = *p.label;
    if (label < 0 || label >= classes) {
      throw std::runtime_error(name() + ": label " + std::to_string(label) + " is outside [0, " +
                               std::to_string(classes) + "); set classes to the number of classes in the data");
    }
    return label;
  }

  // ---- packets ----------------------------------------------------------------------------

  void take(const Packet& p, Emitter& out) {
    const Tensor x = features_of(p);
    if (!built) build(p, x);
    if (!seen_packet) {
      seen_packet = true;
      run_clock = report_clock = checkpoint_clock = std::chrono::steady_clock::now();
      // The data set's size is the same on every packet; the last epoch's length replaces it later.
      if (epoch_size == 0) epoch_size = examples_counted(p);
    }
    if (const Value* total = epochs_total ? nullptr : p.attribute("epochs");
        total != nullptr && total->type() == ValueType::integer) {
      epochs_total = total->as_int();
    }
    if (online) {
      take_online(p, x, out);
      return;
    }
    if (skip_epochs > 0 || stopped_early) return;
    if (skip_packets > 0) {
      --skip_packets;
      return;
    }
    const std::int64_t label = reconstructs ? 0 : label_of(p);
    ++packets_in_epoch;
    const float* values = x.data<float>();
    if (p.split == Split::val || p.split == Split::test) {
      keep(p.split == Split::val ? val : test, p.split, values, label);
      return;
    }
    std::memcpy(batch_x.data_ptr<float>() + fill * features, values,
                static_cast<std::size_t>(features) * sizeof(float));
    batch_y.data_ptr<std::int64_t>()[fill] = label;
    if (++fill == batch) train_step(out);
  }

  // Online: val and test packets are kept for the end; the others go into the replay buffer, and
  // every step_every of them a step trains on a batch drawn from it (once it holds a batch).
  void take_online(const Packet& p, const Tensor& x, Emitter& out) {
    const std::int64_t label = reconstructs ? 0 : label_of(p);
    const float* values = x.data<float>();
    if (p.split == Split::val || p.split == Split::test) {
      keep(p.split == Split::val ? val : test, p.split, values, label);
      return;
    }
    if (replay_size < replay) {
      // The buffer takes memory as it fills, not all of it at the first packet.
      if (replay_size == 0) {
        log().info("replay buffer: up to ", replay, " examples of ", features, " values (",
                   format_bytes(static_cast<double>(replay) * static_cast<double>(features) * sizeof(float)), ")");
      }
      replay_x.insert(replay_x.end(), values, values + features);
      replay_y.push_back(label);
    } else {
      std::memcpy(replay_x.data() + replay_next * features, values, static_cast<std::size_t>(features) * sizeof(float));
      replay_y[static_cast<std::size_t>(replay_next)] = label;
    }
    replay_next = (replay_next + 1) % replay;
    replay_size = std::min(replay_size + 1, replay);
    ++packets_taken;
    if (++since_step < step_every || replay_size < std::min(batch, replay)) return;
    since_step = 0;
    // Drawn with the default generator, which the seed fixes and the checkpoint keeps.
    const torch::Tensor picked = torch::randint(replay_size, {batch}, torch::kInt64);
    const torch::Tensor all_x = torch::from_blob(replay_x.data(), {replay_size, features}, torch::kFloat32);
    const torch::Tensor all_y = torch::from_blob(replay_y.data(), {replay_size}, torch::kInt64);
    train_on(on_device(all_x.index_select(0, picked).view(batch_view(batch))), on_device(all_y.index_select(0, picked)),
             batch, out);
  }

  void keep(ExampleSet& set, Split split, const float* values, std::int64_t label) {
    if (set.size() >= eval_capacity) {
      if (set.dropped++ == 0) {
        log().warn("more than ", eval_capacity, " ", to_string(split), " examples in one epoch: evaluating the first ",
                   eval_capacity, " (raise eval_buffer to keep more)");
      }
      return;
    }
    set.x.insert(set.x.end(), values, values + features);
    set.y.push_back(label);
  }

  void train_step(Emitter& out) {
    if (fill == 0) return;
    if (fill == 1 && model_spec.batch_norm) {
      // Batch norm cannot train on one example; the lone last example of an epoch is skipped.
      fill = 0;
      return;
    }
    const std::int64_t n = fill;
    fill = 0;
    train_on(on_device(batch_x.narrow(0, 0, n).view(batch_view(n))), on_device(batch_y.narrow(0, 0, n)), n, out);
  }

  torch::Tensor on_device(const torch::Tensor& t) const { return device.is_cpu() ? t : t.to(device); }

  // The gradient's total L2 norm, clipped to grad_clip when set. Without clipping this is the norm
  // alone: LibTorch's clip_grad_norm_ would also multiply every gradient by 1.
  double gradient_norm() {
    if (grad_clip > 0.0) return torch::nn::utils::clip_grad_norm_(params, grad_clip);
    torch::NoGradGuard no_grad;
    norms.clear();
    for (const auto& p : params) {
      if (p.grad().defined()) norms.push_back(p.grad().norm(2));
    }
    if (norms.empty()) return 0.0;
    return (norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2)).item<double>();
  }

  // One optimizer step on `n` examples.
  void train_on(const torch::Tensor& x, const torch::Tensor& y, std::int64_t n, Emitter& out) {
    if (!net->is_training()) net->train();
    opt->zero_grad();
    torch::Tensor logits = net->forward(x);
    torch::Tensor loss = train_loss(logits, reconstructs ? x : y);
    loss.backward();
    const double norm = gradient_norm();
    opt->step();
    ++step;
    if (stats_on && step % stats_every == 0) emit_model_stats(out);
    ++steps_since_report;
    const double step_loss = loss.item<double>() * static_cast<double>(n);
    const std::int64_t step_correct = reconstructs ? 0 : logits.argmax(1).eq(y).sum().item<std::int64_t>();
    loss_sum += step_loss;
    correct += step_correct;
    samples += n;
    trained_samples += n;
    grad_norm_sum += norm;
    if (online) {
      recent.push_back({step_loss, step_correct, n, norm});
      if (static_cast<std::int64_t>(recent.size()) > window) recent.pop_front();
    }
    if (step % log_every == 0) report_training(out);
    const bool by_steps = checkpoint_every > 0 && step % checkpoint_every == 0;
    const bool by_time = checkpoint_every_s > 0.0 && seconds_since(checkpoint_clock) >= checkpoint_every_s;
    if (by_steps || by_time) emit_checkpoint(out, "schedule", online && best_since_checkpoint);
  }

  std::vector<std::int64_t> batch_view(std::int64_t n) const {
    std::vector<std::int64_t> shape{n};
    shape.insert(shape.end(), input_shape.begin(), input_shape.end());
    return shape;
  }

  // ---- metrics ----------------------------------------------------------------------------

  // The epoch a point belongs to: online there are none (-1).
  std::int64_t point_epoch() const { return online ? -1 : epochs_done; }

  void emit_points(Emitter& out, const std::vector<std::pair<std::string, double>>& values, std::int64_t epoch) {
    if (values.empty()) return;
    auto packet = make_packet(PayloadKind::metrics);
    packet->stream = name();
    packet->sequence = metric_sequence++;
    packet->timestamp_ns = monotonic_ns();
    const double now = wall_time_s();
    packet->metrics.reserve(values.size());
    for (const auto& [metric_name, value] : values) {
      packet->metrics.push_back(MetricPoint{now, name(), metric_name, step, epoch, value});
    }
    out.emit(kMetrics, std::move(packet));
  }

  // The data set's size as the source counts it per split and class, or 0.
  static std::int64_t examples_counted(const Packet& p) {
    const Value* counts = p.attribute("class_counts");
    if (counts == nullptr || counts->type() != ValueType::table) return 0;
    std::int64_t sum = 0;
    for (const auto& split : counts->as_table()) {
      if (split.value.type() != ValueType::list) return 0;
      for (const auto& n : split.value.as_list()) {
        if (n.type() != ValueType::integer) return 0;
        sum += n.as_int();
      }
    }
    return sum;
  }

  // Within an epoch, once its size is known: how far the run is and how long the rest takes.
  void report_progress(Emitter& out) {
    if (!epochs_total || *epochs_total <= 0 || epoch_size <= 0) return;
    const double total = static_cast<double>(*epochs_total);
    const double within = std::min(1.0, static_cast<double>(packets_in_epoch) / static_cast<double>(epoch_size));
    const double done = std::min(total, static_cast<double>(epochs_done) + within);
    if (done <= 0.0) return;
    const double seconds = seconds_since(run_clock);
    std::vector<std::pair<std::string, double>> points{{metric::kProgress, done / total},
                                                       {metric::kEtaSeconds, seconds / done * (total - done)}};
    if (!epochs_reported) points.emplace_back(metric::kEpochs, total);
    epochs_reported = true;
    emit_points(out, points, point_epoch());
  }

  void report_training(Emitter& out) {
    if (steps_since_report == 0) return;
    const double n = static_cast<double>(samples);
    const double seconds = std::max(seconds_since(report_clock), 1e-9);
    // Epoch mode: over the steps since the last report; online: over the last `window` steps.
    double figures_loss = loss_sum, figures_samples = n, figures_correct = static_cast<double>(correct);
    double figures_norm = grad_norm_sum / static_cast<double>(steps_since_report);
    if (online && !recent.empty()) {
      figures_loss = figures_samples = figures_correct = figures_norm = 0.0;
      for (const StepFigures& f : recent) {
        figures_loss += f.loss_sum;
        figures_samples += static_cast<double>(f.samples);
        figures_correct += static_cast<double>(f.correct);
        figures_norm += f.grad_norm;
      }
      figures_norm /= static_cast<double>(recent.size());
    }
    std::vector<std::pair<std::string, double>> points{{metric::kTrainLoss, figures_loss / figures_samples},
                                                       {metric::kTrainAccuracy, figures_correct / figures_samples},
                                                       {metric::kLearningRate, lr},
                                                       {metric::kGradNorm, figures_norm},
                                                       {metric::kSamplesPerSecond, n / seconds}};
    if (reconstructs) points.erase(points.begin() + 1);  // no accuracy for a reconstruction
    if (online) {
      for (const auto& [metric_name, value] : points) {
        if (metric_name != monitor) continue;
        if (!best || (lower_is_better(monitor) ? value < *best : value > *best)) {
          best = value;
          best_since_checkpoint = true;
        }
      }
      if (best) points.emplace_back("best/" + monitor, *best);
      // Online there is no evaluation: a checkpoint carries the windowed train figures.
      last_scores.clear();
      for (const auto& point : points) {
        if (point.first.rfind("train/", 0) == 0 || point.first.rfind("best/", 0) == 0) last_scores.push_back(point);
      }
    }
    emit_points(out, points, point_epoch());
    report_progress(out);
    loss_sum = 0.0;
    correct = 0;
    samples = 0;
    grad_norm_sum = 0.0;
    steps_since_report = 0;
    report_clock = std::chrono::steady_clock::now();
  }

  Evaluation evaluate(const ExampleSet& set) {
    Evaluation e{0.0, ConfusionMatrix(static_cast<std::size_t>(std::max<std::int64_t>(classes, 1)))};
    torch::NoGradGuard no_grad;
    net->eval();
    const auto n = static_cast<std::int64_t>(set.size());
    double loss_sum_eval = 0.0;
    const std::int64_t chunk =
        std::clamp<std::int64_t>(kEvalValues / std::max<std::int64_t>(features, 1), 1, kEvalRows);
    for (std::int64_t begin = 0; begin < n; begin += chunk) {
      const std::int64_t count = std::min(chunk, n - begin);
      // Views of the kept examples, no copy on the CPU.
      torch::Tensor x =
          torch::from_blob(const_cast<float*>(set.x.data()) + begin * features, batch_view(count), torch::kFloat32)
              .to(device);
      torch::Tensor y =
          torch::from_blob(const_cast<std::int64_t*>(set.y.data()) + begin, {count}, torch::kInt64).to(device);
      torch::Tensor logits = net->forward(x);
      if (reconstructs) {
        // The mean over the examples of each one's mean squared error: as train/loss.
        loss_sum_eval += F::mse_loss(logits, x, F::MSELossFuncOptions().reduction(torch::kSum)).item<double>() /
                         static_cast<double>(features);
        continue;
      }
      loss_sum_eval += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
      torch::Tensor predicted = logits.argmax(1).to(torch::kCPU).contiguous();
      const std::int64_t* pred = predicted.data_ptr<std::int64_t>();
      for (std::int64_t i = 0; i < count; ++i) e.confusion.add(set.y[static_cast<std::size_t>(begin + i)], pred[i]);
    }
    e.loss = n > 0 ? loss_sum_eval / static_cast<double>(n) : 0.0;
    return e;
  }

  // Evaluates a split and emits its scores; returns them by name.
  std::vector<std::pair<std::string, double>> report_split(Emitter& out, const ExampleSet& set, Split split,
                                                           std::int64_t epoch) {
    if (set.size() == 0) return {};
    const Evaluation e = evaluate(set);
    const std::string prefix = std::string(to_string(split)) + "/";
    if (reconstructs) {
      std::vector<std::pair<std::string, double>> loss{{prefix + "loss", e.loss}};
      emit_points(out, loss, epoch);
      return loss;
    }
    const ClassificationScores s = e.confusion.scores();
    std::vector<std::pair<std::string, double>> points{{prefix + "loss", e.loss},
                                                       {prefix + "accuracy", s.accuracy},
                                                       {prefix + "precision", s.precision},
                                                       {prefix + "recall", s.recall},
                                                       {prefix + "f1", s.f1},
                                                       {prefix + "fpr", s.fpr},
                                                       {prefix + "fnr", s.fnr}};
    const std::vector<std::pair<std::string, double>> summary = points;
    for (std::size_t c = 0; c < s.per_class.size(); ++c) {
      const ClassScores& cs = s.per_class[c];
      const std::string& cls = class_names[c];
      points.emplace_back(prefix + "precision/" + cls, cs.precision);
      points.emplace_back(prefix + "recall/" + cls, cs.recall);
      points.emplace_back(prefix + "f1/" + cls, cs.f1);
      points.emplace_back(prefix + "fpr/" + cls, cs.fpr);
      points.emplace_back(prefix + "fnr/" + cls, cs.fnr);
    }
    for (std::size_t t = 0; t < e.confusion.classes(); ++t) {
      for (std::size_t p = 0; p < e.confusion.classes(); ++p) {
        points.emplace_back(prefix + "confusion/" + class_names[t] + "/" + class_names[p],
                            static_cast<double>(e.confusion.count(t, p)));
      }
    }
    emit_points(out, points, epoch);
    return summary;
  }

  // ---- model_stats and boundary -----------------------------------------------------------

  // After the step's backward and optimizer step: the gradients are the ones the step used.
  void emit_model_stats(Emitter& out) {
    const auto started = std::chrono::steady_clock::now();
    auto packet = model_stats_packet(net, histogram_bins, name(), step, point_epoch());
    packet->stream = name();
    packet->sequence = stats_sequence++;
    packet->timestamp_ns = monotonic_ns();
    out.emit(kModelStats, std::move(packet));
    log().debug("model_stats at step ", step, " in ", seconds_since(started), " s");
  }

  // After the val evaluation of the epoch numbered `epoch`, every boundary_every-th epoch.
  void emit_boundary(Emitter& out, std::int64_t epoch) {
    if (!boundary_on || (epochs_done + 1) % boundary_every != 0) return;
    const auto n = static_cast<std::int64_t>(val.size());
    if (const std::string why = boundary->cannot_draw(n, features); !why.empty()) {
      if (!boundary_skip_said) log().info("no decision-boundary picture after epoch ", epoch, ": ", why);
      boundary_skip_said = true;
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    const torch::Tensor x = torch::from_blob(val.x.data(), {n, features}, torch::kFloat32);
    const torch::Tensor y = torch::from_blob(val.y.data(), {n}, torch::kInt64);
    auto packet = boundary->draw(net, x, y, input_shape, class_names, device);
    packet->stream = name();
    packet->sequence = boundary_sequence++;
    packet->timestamp_ns = monotonic_ns();
    packet->set_attribute("step", step);
    packet->set_attribute("epoch", epoch);
    out.emit(kBoundary, std::move(packet));
    log().debug("decision boundary after epoch ", epoch, " in ", seconds_since(started), " s");
  }

  // ---- epochs -----------------------------------------------------------------------------

  void end_epoch(std::int64_t epoch, Emitter& out) {
    train_step(out);
    report_training(out);
    auto scores = report_split(out, val, Split::val, epoch);
    emit_boundary(out, epoch);
    val.clear();
    if (!test.y.empty()) std::swap(last_test, test);
    test.clear();
    ++epochs_done;
    if (packets_in_epoch > 0) epoch_size = packets_in_epoch;
    packets_in_epoch = 0;

    std::vector<std::pair<std::string, double>> points{{metric::kEpoch, static_cast<double>(epochs_done)}};
    if (epochs_total && *epochs_total > 0) {
      const std::int64_t total = *epochs_total;
      const std::int64_t done = std::min(epochs_done, total);
      const double per_epoch = seconds_since(run_clock) / static_cast<double>(std::max<std::int64_t>(done, 1));
      points.emplace_back(metric::kProgress, static_cast<double>(done) / static_cast<double>(total));
      points.emplace_back(metric::kEtaSeconds, per_epoch * static_cast<double>(total - done));
      if (!epochs_reported) points.emplace_back(metric::kEpochs, static_cast<double>(total));
      epochs_reported = true;
    }
    bool improved = false;
    if (!scores.empty()) last_scores = scores;
    for (const auto& [metric_name, value] : scores) {
      if (metric_name != monitor) continue;
      improved = !best || (lower_is_better(monitor) ? value < *best : value > *best);
      if (improved) {
        best = value;
        best_epoch = epoch;
      }
    }
    if (best) points.emplace_back("best/" + monitor, *best);
    const bool evaluated = !scores.empty();
    if (evaluated) {
      epochs_without_gain = improved ? 0 : epochs_without_gain + 1;
      plateau_epochs = improved ? 0 : plateau_epochs + 1;
    }
    const double lr_before = lr;
    schedule_lr(evaluated);
    if (lr != lr_before) points.emplace_back(metric::kLearningRate, lr);
    emit_points(out, points, epoch);
    if (improved && checkpoint_best) emit_checkpoint(out, "best", true);
    if (early_stopping > 0 && evaluated && epochs_without_gain >= early_stopping) {
      stopped_early = true;
      log().info("early stopping after epoch ", epoch, ": ", monitor, " has not improved for ", epochs_without_gain,
                 " epochs (best ", *best, " at epoch ", best_epoch, ")");
      node->context().request_stop("early stopping: " + monitor + " did not improve for " +
                                   std::to_string(epochs_without_gain) + " epochs");
    }
  }

  // The learning rate for the next epoch, after `epochs_done` epochs.
  void schedule_lr(bool evaluated) {
    if (scheduler == "step") {
      if (epochs_done % step_size == 0) set_lr(lr * gamma);
    } else if (scheduler == "cosine") {
      const std::int64_t span = t_max > 0 ? t_max : epochs_total.value_or(0);
      if (span <= 0) return;
      const double t = static_cast<double>(std::min(epochs_done, span)) / static_cast<double>(span);
      set_lr(min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * t)));
    } else if (scheduler == "plateau" && evaluated && plateau_epochs > scheduler_patience) {
      set_lr(std::max(lr * gamma, min_lr));
      plateau_epochs = 0;
      log().info("lr cut to ", lr, ": ", monitor, " has not improved for ", scheduler_patience + 1, " epochs");
    }
  }

  void finish(Emitter& out) {
    train_step(out);
    report_training(out);
    if (!built) {
      log().warn("no examples reached the trainer: nothing was trained");
      return;
    }
    // A stream without epoch markers is one epoch: its val examples are evaluated here.
    if (val.size() > 0) {
      auto scores = report_split(out, val, Split::val, epochs_done);
      if (!scores.empty()) last_scores = scores;
      emit_boundary(out, epochs_done);
    }
    const ExampleSet& final_test = test.size() > 0 ? test : last_test;
    auto test_scores = report_split(out, final_test, Split::test, std::max<std::int64_t>(epochs_done - 1, 0));
    last_scores.insert(last_scores.end(), test_scores.begin(), test_scores.end());
    for (const ExampleSet* set : {&val, &test}) {
      if (set->dropped > 0) {
        log().warn(set->dropped, " examples were not evaluated (eval_buffer = ", eval_capacity, ")");
      }
    }
    if (checkpoint_end) emit_checkpoint(out, "end", online && best_since_checkpoint);
    const double seconds = seconds_since(run_clock);
    if (online) {
      log().info("trained ", step, " steps (", trained_samples, " samples drawn from the replay buffer of ",
                 replay_size, ") on ", packets_taken, " packets, ", seconds,
                 " s from the first: ", static_cast<double>(trained_samples) / std::max(seconds, 1e-9), " samples/s",
                 best ? concat("; best ", monitor, " ", *best) : std::string());
      return;
    }
    log().info("trained ", step, " steps (", trained_samples, " samples) in ", epochs_done, " epochs, ", seconds,
               " s from the first example: ", static_cast<double>(trained_samples) / std::max(seconds, 1e-9),
               " samples/s", best ? concat("; best ", monitor, " ", *best, " at epoch ", best_epoch) : std::string());
  }

  // ---- checkpoints ------------------------------------------------------------------------

  void emit_checkpoint(Emitter& out, const std::string& reason, bool is_best) {
    if (!built) return;
    best_since_checkpoint = false;
    checkpoint_clock = std::chrono::steady_clock::now();
    const std::vector<std::int64_t> schedule_state{epochs_without_gain, plateau_epochs};
    torch::serialize::OutputArchive archive;
    archive.write("format", c10::IValue(std::string(kFormat)));
    archive.write("model_spec", c10::IValue(model_spec.text));
    archive.write("layout", c10::IValue(layout_of(net)));
    archive.write("input_shape", c10::IValue(to_string(input_shape)));
    archive.write("classes", c10::IValue(classes));
    std::string names;
    for (const auto& n : class_names) names += n + "\n";
    archive.write("class_names", c10::IValue(names));
    archive.write("step", c10::IValue(step));
    archive.write("epochs_done", c10::IValue(epochs_done));
    archive.write("packets_in_epoch", c10::IValue(packets_in_epoch));
    archive.write("lr", c10::IValue(lr));
    archive.write("best", c10::IValue(best ? *best : std::numeric_limits<double>::quiet_NaN()));
    archive.write("best_epoch", c10::IValue(best_epoch));
    archive.write("base_lr", c10::IValue(base_lr));
    archive.write("schedule", torch::tensor(schedule_state, torch::kInt64));
    torch::serialize::OutputArchive model_archive;
    net->save(model_archive);
    archive.write("model", model_archive);
    torch::serialize::OutputArchive optimizer_archive;
    opt->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      archive.write("rng", generator.get_state());
    }
    // What was taken of the current epoch and not trained or evaluated yet.
    archive.write("batch_x", batch_x.narrow(0, 0, fill).clone());
    archive.write("batch_y", batch_y.narrow(0, 0, fill).clone());
    write_set(archive, "val", val);
    write_set(archive, "test", test);
    write_set(archive, "last_test", last_test);

    auto bytes = std::make_shared<std::string>();
    archive.save_to([&bytes](const void* data, std::size_t size) {
      bytes->append(static_cast<const char*>(data), size);
      return size;
    });
    auto packet = make_packet(PayloadKind::blob);
    packet->stream = name();
    packet->sequence = checkpoint_sequence++;
    packet->timestamp_ns = monotonic_ns();
    char* data = bytes->data();
    const auto size = static_cast<std::int64_t>(bytes->size());
    packet->tensors.push_back(Tensor::wrap(std::move(bytes), data, DType::u8, {size}));
    packet->set_attribute("format", kFormat);
    packet->set_attribute("step", step);
    packet->set_attribute("epoch", point_epoch());
    packet->set_attribute("best", is_best);
    packet->set_attribute("reason", reason);
    packet->set_attribute("monitor", monitor);
    for (const auto& [metric_name, value] : last_scores) packet->set_attribute("metric/" + metric_name, value);
    out.emit(kCheckpoint, std::move(packet));
    // A new best or a scheduled one comes every few epochs: the checkpoint sink sums them up at the end.
    const bool routine = reason == "best" || reason == "schedule";
    const std::string when = online ? concat("step ", step) : concat("step ", step, ", epoch ", epochs_done);
    if (routine) {
      log().debug("checkpoint (", reason, ") at ", when, ": ", size, " bytes");
    } else {
      log().info("checkpoint (", reason, ") at ", when, ": ", size, " bytes");
    }
  }

  static void write_set(torch::serialize::OutputArchive& archive, const std::string& key, const ExampleSet& set) {
    archive.write(key + "_x", torch::tensor(set.x, torch::kFloat32));
    archive.write(key + "_y", torch::tensor(set.y, torch::kInt64));
  }

  static void read_set(torch::serialize::InputArchive& archive, const std::string& key, ExampleSet& set) {
    torch::Tensor x, y;
    archive.read(key + "_x", x);
    archive.read(key + "_y", y);
    x = x.contiguous();
    y = y.contiguous();
    set.x.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    set.y.assign(y.data_ptr<std::int64_t>(), y.data_ptr<std::int64_t>() + y.numel());
  }

  // Reads the checkpoint file named by `resume` (or the newest in a directory); the model state is
  // loaded once the first packet has built the model.
  void open_resume() {
    if (resume.empty()) return;
    std::error_code ec;
    resume_path = resume;
    if (fs::is_directory(resume, ec)) {
      resume_path = newest_checkpoint(resume);
      if (resume_path.empty()) {
        throw std::runtime_error(name() + ": resume = \"" + resume +
                                 "\" is a directory with no checkpoint (step-*.pt) in it or in its checkpoints/");
      }
    }
    resume_bytes = read_file(resume_path);
    torch::serialize::InputArchive archive;
    try {
      archive.load_from(resume_bytes.data(), resume_bytes.size());
    } catch (const std::exception& e) {
      throw std::runtime_error(name() + ": " + resume_path +
                               " is not a readable checkpoint: " + std::string(e.what()).substr(0, 200));
    }
    c10::IValue format;
    if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat) {
      throw std::runtime_error(name() + ": " + resume_path + " is not a trainer checkpoint (" + kFormat + ")");
    }
    log().info("resuming from ", resume_path);
  }

  void load_checkpoint() {
    torch::serialize::InputArchive archive;
    archive.load_from(resume_bytes.data(), resume_bytes.size());
    auto read = [&](const char* key) {
      c10::IValue v;
      archive.read(key, v);
      return v;
    };
    const std::string their_shape = read("input_shape").toStringRef();
    const std::int64_t their_classes = read("classes").toInt();
    const std::string their_spec = read("model_spec").toStringRef();
    const std::string their_layout = read("layout").toStringRef();
    const std::string our_layout = layout_of(net);
    if (their_layout != our_layout || their_shape != to_string(input_shape) || their_classes != classes) {
      throw std::runtime_error(
          name() + ": cannot resume from " + resume_path + ": it holds a model " + their_spec + " for input " +
          their_shape + " and " + std::to_string(their_classes) + " classes; this run builds " + model_spec.text +
          " for input " + to_string(input_shape) + " and " + std::to_string(classes) + " classes" +
          (their_layout != our_layout ? " (" + first_difference(our_layout, their_layout) + ")" : std::string()));
    }
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    net->load(model_archive);
    net->to(device);
    make_optimizer();
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    opt->load(optimizer_archive);
    lr = read("lr").toDouble();
    step = read("step").toInt();
    epochs_done = read("epochs_done").toInt();
    // A live stream does not replay: online, nothing is skipped (the replay buffer fills again).
    skip_epochs = online ? 0 : epochs_done;
    skip_packets = online ? 0 : read("packets_in_epoch").toInt();
    packets_in_epoch = skip_packets;
    const double saved_best = read("best").toDouble();
    if (!std::isnan(saved_best)) best = saved_best;
    best_epoch = read("best_epoch").toInt();
    base_lr = read("base_lr").toDouble();
    torch::Tensor schedule_state;
    archive.read("schedule", schedule_state);
    epochs_without_gain = schedule_state[0].item<std::int64_t>();
    plateau_epochs = schedule_state[1].item<std::int64_t>();
    torch::Tensor rng;
    archive.read("rng", rng);
    {
      auto generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng);
    }
    torch::Tensor bx, by;
    archive.read("batch_x", bx);
    archive.read("batch_y", by);
    fill = by.size(0);
    if (fill > 0) {
      batch_x.narrow(0, 0, fill).copy_(bx);
      batch_y.narrow(0, 0, fill).copy_(by);
    }
    read_set(archive, "val", val);
    read_set(archive, "test", test);
    read_set(archive, "last_test", last_test);
    resume_bytes.clear();
    log().info("resumed at step ", step, ", epoch ", epochs_done, " (", skip_packets, " packets into it) from ",
               resume_path);
  }
};

// ---------------------------------------------------------------------------------------------

Trainer::Trainer() : state_(std::make_unique<State>()) { state_->node = this; }
Trainer::~Trainer() = default;

void Trainer::declare(NodeSpec& spec) {
  spec.summary(
      "trains a LibTorch model on the packets it receives: a classifier (linear, mlp, cnn) on labelled examples, "
      "an autoencoder (dense or conv; MSE reconstruction, no labels), or a TorchScript module made in Python; in "
      "epochs from the stream's markers (val after each, test at the end) or online from a live source (a replay "
      "buffer, a step every step_every packets); metrics and checkpoints");
  spec.input(kIn);
  spec.output(kMetrics);
  spec.output(kCheckpoint);
  spec.output(kModelStats);
  spec.output(kBoundary);
  spec.thread(NodeThread::own);
  spec.param("model", ParamType::table, Value::table({{"kind", "linear"}}),
             "the network: { kind = \"linear\" }, { kind = \"mlp\", hidden = [64], activation = \"relu\", "
             "dropout = 0.0, batch_norm = false }, or { kind = \"cnn\", channels = [16, 32], kernel_size = 3, "
             "dims = 1|2, separable = false, hidden = [] }, or { kind = \"autoencoder\", hidden = [128, 32] } "
             "(dense: encoder widths, mirrored decoder) or { kind = \"autoencoder\", conv = true, channels = [16, 32], "
             "kernel_size = 3, dims = 1|2 } (stride-2 convs, mirrored transposed convs, output fitted to the input's "
             "shape); autoencoders learn to reconstruct the input (MSE): no labels, no classes, metrics train/loss, "
             "val/loss, test/loss, no boundary; or { kind = \"torchscript\", path = \"model.pt\", loss = "
             "\"cross_entropy\"|\"mse\" } (a module saved by torch.jit.script in Python, trained here; the path "
             "relative to the pipeline file, or to the current directory when given with --set; mse: an autoencoder)")
      .path_key("path", PathRole::input);
  spec.param<std::int64_t>("classes", 0, "number of classes; 0 = from the source's 'classes' attribute")
      .range(0, 100000);
  spec.param<std::string>("optimizer", "adam", "sgd, adam or adamw").choices({"sgd", "adam", "adamw"});
  spec.param<double>("lr", 1e-3, "learning rate, > 0; settable while running (set <node>.lr)").min(0.0).settable();
  spec.param<double>("momentum", 0.0, "SGD momentum").range(0.0, 0.999);
  spec.param<bool>("nesterov", false, "SGD with Nesterov momentum (needs momentum > 0)");
  spec.param<double>("weight_decay", 0.0, "L2 penalty (sgd, adam) or decoupled weight decay (adamw)").min(0.0);
  spec.param<double>("grad_clip", 0.0, "clip the gradient's total L2 norm to this; 0 = no clipping").min(0.0);
  spec.param<std::int64_t>("batch", 32, "train examples per optimizer step").range(1, 65536);
  spec.param<std::int64_t>("seed", 0,
                           "seed of the initial weights and dropout: a run repeats bit for bit on one "
                           "thread");
  spec.param<std::int64_t>("threads", 1,
                           "LibTorch intra-op (and OpenBLAS) threads for this node's steps; they run besides the "
                           "pipeline's `threads` runtime workers, so keep the sum near the core count")
      .range(1, 256);
  spec.param<std::string>("device", "cpu", "cpu, or cuda where the linked LibTorch has CUDA").choices({"cpu", "cuda"});
  spec.param<std::int64_t>("log_every", 10, "steps between train/* reports").min(1);
  spec.param<std::int64_t>("eval_buffer", 100000, "val and test examples kept per epoch for evaluation").min(1);
  spec.param<std::string>("monitor", "val/loss",
                          "the metric whose best value marks the best checkpoint (lower is better for losses, "
                          "fpr and fnr, higher for the rest): a val/ metric in epoch mode; online, train/loss (the "
                          "default there) or train/accuracy; an autoencoder only has losses");
  spec.param<std::int64_t>("checkpoint_every", 0, "emit a checkpoint every this many steps; 0 = off").min(0);
  spec.param<double>("checkpoint_every_s", 0.0, "emit a checkpoint every this many seconds; 0 = off").min(0.0);
  spec.param<bool>("checkpoint_best", true, "emit a checkpoint on every new best of `monitor`");
  spec.param<bool>("checkpoint_end", true, "emit a last checkpoint at the end of the stream (and on stop)");
  spec.param<std::string>("scheduler", "none",
                          "learning-rate schedule by epochs: none; step (times gamma every step_size epochs); "
                          "cosine (from lr down to min_lr over t_max epochs); plateau (times gamma when "
                          "`monitor` has not improved for more than scheduler_patience epochs)")
      .choices({"none", "step", "cosine", "plateau"});
  spec.param<std::int64_t>("step_size", 10, "step scheduler: epochs between cuts").min(1);
  spec.param<double>("gamma", 0.1, "step and plateau schedulers: the factor of each cut").range(0.0, 1.0);
  spec.param<std::int64_t>("scheduler_patience", 5, "plateau scheduler: epochs without improvement tolerated").min(0);
  spec.param<std::int64_t>("t_max", 0, "cosine scheduler: its length in epochs; 0 = the source's 'epochs'").min(0);
  spec.param<double>("min_lr", 0.0, "cosine and plateau schedulers: the lowest learning rate").min(0.0);
  spec.param<std::int64_t>("early_stopping", 0,
                           "stop the run when `monitor` has not improved for this many epochs; 0 = never")
      .min(0);
  spec.param<std::int64_t>("stats_every", 50,
                           "steps between model_stats packets (per-parameter weight and gradient figures and "
                           "histograms); 0 = off")
      .min(0);
  spec.param<std::int64_t>("histogram_bins", 32, "bins of each model_stats histogram").range(4, 256);
  spec.param<std::int64_t>("boundary_every", 1,
                           "epochs between decision-boundary pictures on the boundary port; 0 = off")
      .min(0);
  spec.param<std::int64_t>("boundary_grid", 64, "cells along each side of the decision-boundary grid").range(8, 512);
  spec.param<std::int64_t>("boundary_points", 500, "val examples drawn in the decision-boundary picture (the first)")
      .range(1, 1000000);
  spec.param("class_weights", ParamType::number_list, Value(std::vector<Value>{}),
             "weights of the classes in the training loss (val and test losses stay unweighted): one per class, "
             "e.g. [1.0, 3.0], or \"balanced\": n / (classes * count of the class) from the source's class_counts "
             "of the train split; [] = all 1")
      .choices({"balanced"})
      .min(0.0);
  spec.param<std::string>("mode", "epochs",
                          "epochs: data with splits, epochs from the stream's epoch_end markers; online: for live "
                          "sources, a bounded replay buffer and a step every step_every packets on a batch drawn "
                          "from it, train/* over the last `window` steps")
      .choices({"epochs", "online"});
  spec.param<std::int64_t>("replay", 2048, "online: examples the replay buffer holds (the newest replaces the oldest)")
      .range(1, 10000000);
  spec.param<std::int64_t>("step_every", 1, "online: new packets between steps").range(1, 1000000);
  spec.param<std::int64_t>("window", 20, "online: steps the train/* figures are taken over").range(1, 1000000);
  spec.param<std::string>("resume", "",
                          "continue from a checkpoint file, or the newest in a directory (a run directory or its "
                          "checkpoints/ folder): same step, optimizer state, RNG and position in the stream")
      .input_file_or_folder();
  spec.example(R"([pipeline]
name  = "digits-mlp"
links = [ "rows -> scale", "scale -> train", "train.metrics -> log", "train.checkpoint -> ckpt" ]

[nodes.rows]
plugin  = "table"
path    = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
header  = "no"
shuffle = true
epochs  = 20

[nodes.scale]
plugin = "standardize"

[nodes.train]
plugin  = "trainer"
classes = 10
model   = { kind = "mlp", hidden = [64] }
lr      = 0.002

[nodes.log]
plugin = "csv"
path   = "${RUN_DIR}/metrics.csv"

[nodes.ckpt]
plugin = "checkpoint"
)");
}

void Trainer::configure(const Params& params) {
  State& s = *state_;
  s.model_spec = parse_model_spec(params.value("model"));
  s.reconstructs = s.model_spec.reconstructs();
  if (s.reconstructs && params.was_given("monitor")) {
    const std::string m = params.get<std::string>("monitor");
    if (m != "val/loss" && m != "train/loss") {
      throw ParamError("monitor", "'monitor' is \"" + m +
                                      "\": an autoencoder reports only losses; monitor "
                                      "\"val/loss\" (epochs) or \"train/loss\" (online)");
    }
  }
  s.classes_param = params.get<std::int64_t>("classes");
  if (s.classes_param == 1) throw ParamError("classes", "'classes' is 1: a classifier needs at least 2 classes");
  s.optimizer = params.get<std::string>("optimizer");
  s.lr = params.get<double>("lr");
  if (!(s.lr > 0.0) || !std::isfinite(s.lr))
    throw ParamError("lr", "must be a finite number greater than 0; try 0.001");
  s.momentum = params.get<double>("momentum");
  s.nesterov = params.get<bool>("nesterov");
  if (s.nesterov && (s.optimizer != "sgd" || s.momentum <= 0.0)) {
    throw ParamError("nesterov", "nesterov = true needs optimizer = \"sgd\" and momentum > 0");
  }
  s.weight_decay = params.get<double>("weight_decay");
  s.grad_clip = params.get<double>("grad_clip");
  s.batch = params.get<std::int64_t>("batch");
  s.seed = static_cast<std::uint64_t>(params.get<std::int64_t>("seed"));
  s.threads = params.get<int>("threads");
  s.device_name = params.get<std::string>("device");
  if (s.device_name == "cuda") {
    if (!torch::cuda::is_available()) {
      throw ParamError("device",
                       "device = \"cuda\" but the LibTorch this plugin is linked with has no CUDA (or sees "
                       "no GPU); use device = \"cpu\"");
    }
    s.device = torch::Device(torch::kCUDA);
  }
  s.log_every = params.get<std::int64_t>("log_every");
  s.eval_capacity = static_cast<std::size_t>(params.get<std::int64_t>("eval_buffer"));
  s.online = params.get<std::string>("mode") == "online";
  s.replay = params.get<std::int64_t>("replay");
  s.step_every = params.get<std::int64_t>("step_every");
  s.window = params.get<std::int64_t>("window");
  s.monitor = params.get<std::string>("monitor");
  if (s.online) {
    // A live stream has no epochs: the windowed train figures are what is watched.
    if (!params.was_given("monitor")) s.monitor = "train/loss";
    if (s.monitor != "train/loss" && !(s.monitor == "train/accuracy" && !s.reconstructs)) {
      throw ParamError("monitor", "'monitor' is \"" + s.monitor + "\": online, the monitored metric is \"train/loss\"" +
                                      (s.reconstructs ? "" : " or \"train/accuracy\"") +
                                      " over the last `window` steps (there are no epochs to validate after)");
    }
    if (params.get<std::string>("scheduler") != "none") {
      throw ParamError("scheduler",
                       "the learning-rate schedulers go by epochs and mode = \"online\" has none: use "
                       "scheduler = \"none\" (and set <node>.lr while running)");
    }
    if (params.get<std::int64_t>("early_stopping") > 0) {
      throw ParamError("early_stopping",
                       "early stopping goes by epochs and mode = \"online\" has none: leave "
                       "early_stopping at 0");
    }
  } else if (s.monitor.rfind("val/", 0) != 0) {
    throw ParamError("monitor", "'monitor' is \"" + s.monitor +
                                    "\": it must be a val/ metric evaluated after each epoch, e.g. \"val/loss\" or "
                                    "\"val/accuracy\"");
  }
  s.checkpoint_every = params.get<std::int64_t>("checkpoint_every");
  s.checkpoint_every_s = params.get<double>("checkpoint_every_s");
  s.checkpoint_best = params.get<bool>("checkpoint_best");
  s.checkpoint_end = params.get<bool>("checkpoint_end");
  s.resume = params.get<std::string>("resume");
  s.scheduler = params.get<std::string>("scheduler");
  s.step_size = params.get<std::int64_t>("step_size");
  s.gamma = params.get<double>("gamma");
  s.scheduler_patience = params.get<std::int64_t>("scheduler_patience");
  s.t_max = params.get<std::int64_t>("t_max");
  s.min_lr = params.get<double>("min_lr");
  s.early_stopping = params.get<std::int64_t>("early_stopping");
  s.stats_every = params.get<std::int64_t>("stats_every");
  s.histogram_bins = params.get<std::int64_t>("histogram_bins");
  s.boundary_every = params.get<std::int64_t>("boundary_every");
  s.boundary_grid = params.get<std::int64_t>("boundary_grid");
  s.boundary_points = params.get<std::int64_t>("boundary_points");
  s.base_lr = s.lr;
  const Value& weights = params.value("class_weights");
  if (s.reconstructs && params.was_given("class_weights")) {
    throw ParamError("class_weights", std::string("'class_weights' weigh the classes of a classifier; a ") +
                                          kind_name(s.model_spec.kind) +
                                          " model reconstructs its input and has no classes: leave it out");
  }
  if (weights.type() == ValueType::string) {
    s.balanced = true;
  } else {
    for (const Value& w : weights.as_list()) s.class_weights.push_back(w.as_number());
    const bool any = std::any_of(s.class_weights.begin(), s.class_weights.end(), [](double w) { return w > 0.0; });
    if (!s.class_weights.empty() && !any) {
      throw ParamError("class_weights", "'class_weights' are all 0: at least one class must weigh more than 0");
    }
    if (!s.class_weights.empty() && s.classes_param > 0 &&
        static_cast<std::int64_t>(s.class_weights.size()) != s.classes_param) {
      throw ParamError("class_weights", "'class_weights' has " + std::to_string(s.class_weights.size()) +
                                            " weights but classes = " + std::to_string(s.classes_param) +
                                            ": give one weight per class");
    }
  }
}

void Trainer::start() {
  State& s = *state_;
  if (!blas_is_openblas()) {
    log().warn(
        "LibTorch's matrix products do not run on OpenBLAS here (likely the reference BLAS, about 5x "
        "slower): install libopenblas0-pthread");
  }
  if (s.model_spec.kind == ModelKind::torchscript) s.load_script();
  s.open_resume();
  s.stats_on = s.stats_every > 0 && context().run().output_linked(context().node_name(), kModelStats.name);
  s.boundary_on = s.boundary_every > 0 && context().run().output_linked(context().node_name(), kBoundary.name);
  if (s.boundary_on && s.reconstructs) {
    log().info("no decision-boundary pictures: a ", kind_name(s.model_spec.kind),
               " model reconstructs its input and has no classes to draw");
    s.boundary_on = false;
  }
  if (s.boundary_on) s.boundary = std::make_unique<DecisionBoundary>(s.boundary_grid, s.boundary_points);
  s.run_clock = s.report_clock = s.checkpoint_clock = std::chrono::steady_clock::now();
}

void Trainer::process(const InputPort&, const PacketPtr& packet, Emitter& out) { state_->take(*packet, out); }

void Trainer::on_marker(const InputPort& port, const Marker& marker, Emitter& out) {
  State& s = *state_;
  if (marker.kind == MarkerKind::epoch_end) {
    if (s.skip_epochs > 0) {
      --s.skip_epochs;
      return;
    }
    s.use_threads();
    if (s.built && !s.stopped_early && !s.online) s.end_epoch(marker.epoch, out);
  }
  Node::on_marker(port, marker, out);
}

ControlReply Trainer::on_control(const ControlMessage& message, Emitter& out) {
  State& s = *state_;
  if (message.verb == ControlVerb::set) {
    if (message.key != "lr") return ControlReply::refuse("'" + message.key + "' cannot be set while running; 'lr' can");
    if (!message.value.is_number() || !(message.value.as_number() > 0.0) || !std::isfinite(message.value.as_number())) {
      return ControlReply::refuse("the learning rate must be a finite number > 0, not " + message.value.to_string());
    }
    const double previous = s.lr;
    s.set_lr(message.value.as_number());
    s.base_lr = s.lr;  // a schedule goes on from the rate set by hand
    log().info("lr ", previous, " -> ", s.lr, " at step ", s.step);
    s.emit_points(out, {{metric::kLearningRate, s.lr}}, s.point_epoch());
    return ControlReply::accept(concat("lr ", previous, " -> ", s.lr), s.step);
  }
  if (message.verb == ControlVerb::checkpoint) {
    if (!s.built) return ControlReply::refuse("no model yet: no example has arrived");
    s.emit_checkpoint(out, "control", false);
    return ControlReply::accept(s.online ? concat("checkpoint at step ", s.step)
                                         : concat("checkpoint at step ", s.step, ", epoch ", s.epochs_done),
                                s.step);
  }
  return Node::on_control(message, out);
}

void Trainer::flush(Emitter& out) {
  state_->use_threads();
  state_->finish(out);
}

}  // namespace tributary::models
