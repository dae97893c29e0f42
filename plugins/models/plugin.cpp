// The models family: nodes that train.
#include "tributary/plugin.hpp"

#include "trainer/trainer.hpp"

TRIBUTARY_PLUGIN("models") { registrar.add<tributary::models::Trainer>(); }
