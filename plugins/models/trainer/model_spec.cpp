#include "trainer/model_spec.hpp"

#include <algorithm>

#include "tributary/param.hpp"

namespace tributary::models {

namespace {

const std::vector<std::string> kKinds{"linear", "mlp", "cnn", "autoencoder", "torchscript"};
const std::vector<std::string> kLosses{"cross_entropy", "mse"};
const std::vector<std::string> kActivations{"relu", "tanh", "gelu", "sigmoid", "leaky_relu"};

const std::vector<std::string>& keys_of(ModelKind kind) {
  static const std::vector<std::string> linear{"kind"};
  static const std::vector<std::string> mlp{"kind", "hidden", "activation", "dropout", "batch_norm"};
  static const std::vector<std::string> cnn{"kind",   "channels",   "kernel_size", "dims",      "separable",
                                            "hidden", "activation", "dropout",     "batch_norm"};
  static const std::vector<std::string> autoencoder{"kind", "hidden",      "conv",       "channels",
                                                    "dims", "kernel_size", "activation", "batch_norm"};
  static const std::vector<std::string> torchscript{"kind", "path", "loss"};
  switch (kind) {
    case ModelKind::linear:
      return linear;
    case ModelKind::mlp:
      return mlp;
    case ModelKind::autoencoder:
      return autoencoder;
    case ModelKind::torchscript:
      return torchscript;
    case ModelKind::cnn:
      break;
  }
  return cnn;
}

std::string list_of(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

std::string choice(const Value& value, const std::string& key, const std::vector<std::string>& choices) {
  if (value.type() != ValueType::string) {
    throw ParamError("model." + key, "'model." + key + "' must be a string, one of " + list_of(choices) + "; found " +
                                         value.to_string());
  }
  const std::string& text = value.as_string();
  if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
    const std::string near = closest_match(text, choices);
    throw ParamError("model." + key, "unknown " + key + " \"" + text + "\"; choose one of " + list_of(choices) +
                                         (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
  }
  return text;
}

std::vector<std::int64_t> positive_ints(const Value& value, const std::string& key, bool allow_empty) {
  const std::string name = "model." + key;
  if (value.type() != ValueType::list) {
    throw ParamError(name,
                     "'" + name + "' must be a list of positive integers, e.g. [64, 32]; found " + value.to_string());
  }
  std::vector<std::int64_t> out;
  for (const Value& item : value.as_list()) {
    if (item.type() != ValueType::integer || item.as_int() < 1 || item.as_int() > (1 << 20)) {
      throw ParamError(name, "'" + name + "' must hold positive integers (at most 1048576); found " + item.to_string() +
                                 " in " + value.to_string());
    }
    out.push_back(item.as_int());
  }
  if (out.empty() && !allow_empty) {
    throw ParamError(name, "'" + name + "' is empty: give at least one width, e.g. [32]");
  }
  return out;
}

std::int64_t int_in(const Value& value, const std::string& key, std::int64_t min, std::int64_t max) {
  const std::string name = "model." + key;
  if (value.type() != ValueType::integer || value.as_int() < min || value.as_int() > max) {
    throw ParamError(name, "'" + name + "' must be an integer from " + std::to_string(min) + " to " +
                               std::to_string(max) + "; found " + value.to_string());
  }
  return value.as_int();
}

}  // namespace

const char* kind_name(ModelKind kind) noexcept {
  switch (kind) {
    case ModelKind::linear:
      return "linear";
    case ModelKind::mlp:
      return "mlp";
    case ModelKind::cnn:
      return "cnn";
    case ModelKind::autoencoder:
      return "autoencoder";
    case ModelKind::torchscript:
      return "torchscript";
  }
  return "?";
}

ModelSpec parse_model_spec(const Value& model) {
  if (model.type() != ValueType::table) {
    throw ParamError("model",
                     "'model' must be a table such as { kind = \"mlp\", hidden = [64] }; found " + model.to_string());
  }
  const Value* kind = model.find("kind");
  if (kind == nullptr) {
    throw ParamError("model.kind", "'model' has no 'kind': choose one of " + list_of(kKinds) +
                                       ", e.g. model = { kind = \"linear\" }");
  }
  ModelSpec spec;
  const std::string kind_text = choice(*kind, "kind", kKinds);
  spec.kind = kind_text == "linear"        ? ModelKind::linear
              : kind_text == "mlp"         ? ModelKind::mlp
              : kind_text == "cnn"         ? ModelKind::cnn
              : kind_text == "autoencoder" ? ModelKind::autoencoder
                                           : ModelKind::torchscript;
  spec.text = model.to_string();
  if (spec.kind == ModelKind::mlp) spec.hidden = {64};
  if (spec.kind == ModelKind::cnn) spec.channels = {16, 32};
  if (spec.kind == ModelKind::autoencoder) spec.hidden = {128, 32};

  const std::vector<std::string>& keys = keys_of(spec.kind);
  for (const TableEntry& entry : model.as_table()) {
    const std::string& key = entry.key;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      const std::string near = closest_match(key, keys);
      throw ParamError("model." + key, "a " + kind_text + " model has no key '" + key + "'" +
                                           (near.empty() ? "" : "; did you mean '" + near + "'?") +
                                           " (its keys: " + list_of(keys) + ")");
    }
    const Value& v = entry.value;
    if (key == "hidden") {
      spec.hidden = positive_ints(v, key, spec.kind == ModelKind::cnn);
    } else if (key == "channels") {
      spec.channels = positive_ints(v, key, false);
      if (spec.kind == ModelKind::autoencoder) spec.conv = true;
    } else if (key == "conv") {
      if (v.type() != ValueType::boolean) {
        throw ParamError("model.conv", "'model.conv' must be true or false; found " + v.to_string());
      }
      spec.conv = spec.conv || v.as_bool();
    } else if (key == "path") {
      if (v.type() != ValueType::string || v.as_string().empty()) {
        throw ParamError("model.path",
                         "'model.path' must name a TorchScript file (made with torch.jit.script(...)"
                         ".save(\"model.pt\")); found " +
                             v.to_string());
      }
      spec.path = v.as_string();
    } else if (key == "loss") {
      spec.loss = choice(v, key, kLosses);
    } else if (key == "activation") {
      spec.activation = choice(v, key, kActivations);
    } else if (key == "dropout") {
      if (!v.is_number() || v.as_number() < 0.0 || v.as_number() >= 1.0) {
        throw ParamError("model.dropout", "'model.dropout' must be a number in [0, 1); found " + v.to_string());
      }
      spec.dropout = v.as_number();
    } else if (key == "batch_norm" || key == "separable") {
      if (v.type() != ValueType::boolean) {
        throw ParamError("model." + key, "'model." + key + "' must be true or false; found " + v.to_string());
      }
      (key == "batch_norm" ? spec.batch_norm : spec.separable) = v.as_bool();
    } else if (key == "kernel_size") {
      spec.kernel_size = int_in(v, key, 1, 64);
    } else if (key == "dims") {
      spec.dims = int_in(v, key, 1, 2);
    }
  }
  if (spec.kind == ModelKind::autoencoder && spec.conv) {
    if (model.find("channels") == nullptr) spec.channels = {16, 32};
    if (model.find("hidden") != nullptr) {
      throw ParamError("model.hidden",
                       "a conv autoencoder has no dense layers: leave out 'model.hidden' or set "
                       "conv = false");
    }
  }
  if (spec.kind == ModelKind::autoencoder && !spec.conv && spec.hidden.empty()) {
    throw ParamError("model.hidden",
                     "'model.hidden' is empty: a dense autoencoder needs its encoder's widths, e.g. "
                     "[128, 32]");
  }
  if (spec.kind == ModelKind::torchscript) {
    if (spec.path.empty()) {
      throw ParamError("model.path",
                       "a torchscript model needs 'path', the file saved by torch.jit.script(...)"
                       ".save(\"model.pt\"): model = { kind = \"torchscript\", path = \"model.pt\" }");
    }
    if (spec.loss.empty()) spec.loss = "cross_entropy";
  }
  return spec;
}

}  // namespace tributary::models
