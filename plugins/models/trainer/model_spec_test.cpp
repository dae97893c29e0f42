#include "trainer/model_spec.hpp"

#include <catch2/catch.hpp>

#include "tributary/param.hpp"

using namespace tributary;
using tributary::models::ModelKind;
using tributary::models::parse_model_spec;

namespace {

Value table(std::vector<TableEntry> entries) { return Value::table(std::move(entries)); }

std::pair<std::string, std::string> error_of(const Value& model) {
  try {
    parse_model_spec(model);
  } catch (const ParamError& e) {
    return {e.param(), e.what()};
  }
  return {"", "(no error)"};
}

}  // namespace

TEST_CASE("model spec: kinds read with their defaults and keys") {
  CHECK(parse_model_spec(table({{"kind", "linear"}})).kind == ModelKind::linear);
  const auto mlp = parse_model_spec(table({{"kind", "mlp"}}));
  CHECK(mlp.kind == ModelKind::mlp);
  CHECK(mlp.hidden == std::vector<std::int64_t>{64});
  const auto deep = parse_model_spec(table({{"kind", "mlp"},
                                            {"hidden", std::vector<Value>{128, 32}},
                                            {"activation", "tanh"},
                                            {"dropout", 0.25},
                                            {"batch_norm", true}}));
  CHECK(deep.hidden == std::vector<std::int64_t>{128, 32});
  CHECK(deep.activation == "tanh");
  CHECK(deep.dropout == 0.25);
  CHECK(deep.batch_norm);
  const auto cnn = parse_model_spec(table({{"kind", "cnn"}, {"channels", std::vector<Value>{8}}, {"dims", 2}}));
  CHECK(cnn.kind == ModelKind::cnn);
  CHECK(cnn.channels == std::vector<std::int64_t>{8});
  CHECK(cnn.dims == 2);
  CHECK(cnn.hidden.empty());
}

TEST_CASE("model spec: an unknown kind, key or value is refused naming the dotted key") {
  auto [param, message] = error_of(table({{"kind", "mpl"}}));
  CHECK(param == "model.kind");
  CHECK_THAT(message, Catch::Contains("unknown kind \"mpl\"") && Catch::Contains("did you mean \"mlp\"?"));

  std::tie(param, message) = error_of(table({{"kind", "mlp"}, {"hiden", std::vector<Value>{8}}}));
  CHECK(param == "model.hiden");
  CHECK_THAT(message, Catch::Contains("did you mean 'hidden'?"));

  std::tie(param, message) = error_of(table({{"kind", "linear"}, {"hidden", std::vector<Value>{8}}}));
  CHECK(param == "model.hidden");
  CHECK_THAT(message, Catch::Contains("a linear model has no key 'hidden'"));

  std::tie(param, message) = error_of(table({{"kind", "mlp"}, {"dropout", 1.5}}));
  CHECK(param == "model.dropout");
  std::tie(param, message) = error_of(table({{"kind", "mlp"}, {"hidden", std::vector<Value>{0}}}));
  CHECK(param == "model.hidden");
  std::tie(param, message) = error_of(table({{"hidden", std::vector<Value>{8}}}));
  CHECK(param == "model.kind");
  CHECK_THAT(message, Catch::Contains("has no 'kind'"));
  std::tie(param, message) = error_of(Value("mlp"));
  CHECK(param == "model");
}

TEST_CASE("model spec: autoencoders (dense, conv) and torchscript models with their defaults") {
  const auto dense = parse_model_spec(table({{"kind", "autoencoder"}}));
  CHECK(dense.kind == ModelKind::autoencoder);
  CHECK_FALSE(dense.conv);
  CHECK(dense.hidden == std::vector<std::int64_t>{128, 32});
  CHECK(dense.reconstructs());
  const auto conv = parse_model_spec(table({{"kind", "autoencoder"}, {"conv", true}}));
  CHECK(conv.conv);
  CHECK(conv.channels == std::vector<std::int64_t>{16, 32});
  const auto by_channels = parse_model_spec(table({{"kind", "autoencoder"}, {"channels", std::vector<Value>{4}}}));
  CHECK(by_channels.conv);
  CHECK(by_channels.channels == std::vector<std::int64_t>{4});
  const auto script = parse_model_spec(table({{"kind", "torchscript"}, {"path", "m.pt"}}));
  CHECK(script.path == "m.pt");
  CHECK(script.loss == "cross_entropy");
  CHECK_FALSE(script.reconstructs());
  CHECK(parse_model_spec(table({{"kind", "torchscript"}, {"path", "m.pt"}, {"loss", "mse"}})).reconstructs());
  CHECK(error_of(table({{"kind", "torchscript"}})).first == "model.path");
  CHECK(error_of(table({{"kind", "torchscript"}, {"path", "m.pt"}, {"hidden", std::vector<Value>{3}}})).first ==
        "model.hidden");
  CHECK(error_of(table({{"kind", "autoencoder"}, {"conv", 1}})).first == "model.conv");
}
