#include "tributary/plugin.hpp"

#include "softmax_regression/softmax_regression.hpp"

TRIBUTARY_PLUGIN("models") { registrar.add<tributary::models::SoftmaxRegression>(); }
