#pragma once
// trainer: trains a LibTorch classifier declared in TOML on the labelled examples it receives.
//
//   [nodes.train]
//   plugin    = "trainer"
//   model     = { kind = "mlp", hidden = [64], dropout = 0.1 }
//   optimizer = "adam"
//   lr        = 0.001   # settable while running: set train.lr
//   batch     = 32
//
// Epoch mode: train examples (and those without a split) fill batches; each full batch is one
// optimizer step. At each epoch_end marker the last partial batch is trained, the epoch's val
// examples are evaluated and, on a new best of `monitor`, a checkpoint is emitted; the test
// examples of the last epoch are evaluated at end of stream. The epoch boundary is the marker,
// never a guess from attributes. Online mode (mode = "online") is for live sources: a bounded
// replay buffer, a step every step_every packets on a batch drawn from it. Every callback runs on
// a thread of the node's own.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::models {

class Trainer final : public Node {
 public:
  static constexpr const char* kType = "trainer";
  static constexpr InputPort kIn{
      "in", PayloadKind::example | PayloadKind::features | PayloadKind::audio | PayloadKind::video,
      "tensor 0 of each packet (f32, or converted), all of one shape: labelled examples (int label, split) for a "
      "classifier; for an autoencoder, unlabelled packets too (features, audio chunks, video frames)"};
  static constexpr OutputPort kMetrics{"metrics", PayloadKind::metrics,
                                       "train/*, val/*, test/* (macro and per class), confusion points, lr, "
                                       "grad_norm, samples_per_s, epoch, progress, eta_s, best/<monitor>",
                                       true};
  static constexpr OutputPort kCheckpoint{"checkpoint", PayloadKind::blob,
                                          "checkpoints (model, optimizer, RNG, position in the stream) as bytes, "
                                          "for the checkpoint sink",
                                          true};
  static constexpr OutputPort kModelStats{
      "model_stats", PayloadKind::metrics,
      "every stats_every steps: model/<parameter>/weight/{mean,std,norm} and grad/{mean,std,norm,abs_mean} points, "
      "weight and gradient histograms (f64 counts) described by the 'histograms' attribute"};
  static constexpr OutputPort kBoundary{
      "boundary", PayloadKind::features,
      "after every boundary_every-th epoch's validation: the predicted class over a 2-D grid (the input, or its "
      "first two principal components) with the projected val points, their labels and predictions"};

  static void declare(NodeSpec& spec);

  Trainer();
  ~Trainer() override;

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void on_marker(const InputPort& port, const Marker& marker, Emitter& out) override;
  ControlReply on_control(const ControlMessage& message, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tributary::models
