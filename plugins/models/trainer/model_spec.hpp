#pragma once
// What a `model = { kind = ..., ... }` table declares, read and checked without LibTorch, so a
// wrong key or value is refused at validation with the key's dotted name ("model.hidden").
#include <cstdint>
#include <string>
#include <vector>

#include "tributary/value.hpp"

namespace tributary::models {

enum class ModelKind : std::uint8_t { linear, mlp, cnn, autoencoder, torchscript };
const char* kind_name(ModelKind kind) noexcept;

struct ModelSpec {
  ModelKind kind = ModelKind::linear;
  // mlp: hidden layer widths; cnn: the dense layers after the convolutions.
  std::vector<std::int64_t> hidden;
  std::string activation = "relu";  // relu, tanh, gelu, sigmoid, leaky_relu
  double dropout = 0.0;
  bool batch_norm = false;
  // cnn: 1-D over [channels, time] or [time] inputs, 2-D over [channels, height, width] or
  // [height, width]; one conv block (conv, [batch norm], activation, max pool 2) per entry.
  std::vector<std::int64_t> channels;
  std::int64_t kernel_size = 3;
  std::int64_t dims = 0;   // 0: from the input's rank (rank 1 or 2: 1-D, rank 3: 2-D)
  bool separable = false;  // depthwise-separable convolutions after the first block
  // autoencoder: dense (`hidden`: the encoder's widths, the decoder mirrors them) or conv
  // (`channels`: one stride-2 conv per entry, mirrored by transposed convs, the output cropped or
  // padded to the input's shape).
  bool conv = false;
  // torchscript: the saved module's path as written (relative to the pipeline file's folder) and
  // its loss: "cross_entropy" (a classifier) or "mse" (a reconstruction of the input).
  std::string path;
  std::string loss;

  // Whether the model learns to reconstruct its input (no labels) rather than classify.
  bool reconstructs() const {
    return kind == ModelKind::autoencoder || (kind == ModelKind::torchscript && loss == "mse");
  }

  // The table as given, for checkpoints and messages.
  std::string text;
};

// Reads `model` (a table); throws ParamError naming "model.<key>" for an unknown key (with the
// nearest known one), a wrong type or a value out of range.
ModelSpec parse_model_spec(const Value& model);

}  // namespace tributary::models
